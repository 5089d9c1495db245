/* Native fast paths of `specc check` (see specc/contract/native.py for the contract and the fallbacks).
 *
 * Why C: the check's per-word work (lower-case, digit-group fold, punctuation, whitespace split, m-gram
 * lookup) costs more than parsing the JSON when it is done one Python object per word. Here a row's text
 * values are walked, normalised (ASCII exactly as textnorm's ASCII path; any other text through the
 * Python normaliser, passed in) and hashed without creating a Python object per word.
 *
 * Everything here is a *sound prefilter* or an exact count:
 *   - Prefilter.candidate(row) is False only when the exact Python matcher cannot find a hit in the row
 *     (a 64-bit hash collision can only make it True more often);
 *   - key_tokens(raw) counts the object keys written in one line of valid JSON; dict_keys(row) counts
 *     the keys of the parsed objects: they differ exactly when an object repeats a key;
 *   - line_kinds(block) is pii.kinds_possible for each line of a block, with the row count.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ hashing */

static inline uint64_t mix64(uint64_t x) {  /* splitmix64's finaliser */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

#define FNV_START 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline uint64_t word_done(uint64_t h, Py_ssize_t len) { return mix64(h ^ ((uint64_t)len << 56)); }

static uint64_t bytes_hash(const unsigned char *s, Py_ssize_t n) {
    uint64_t h = FNV_START;
    for (Py_ssize_t i = 0; i < n; i++) { h ^= s[i]; h *= FNV_PRIME; }
    return word_done(h, n);
}

/* A sequence of word hashes under a tag: one tag per kind of key (chunk of m words, whole field, whole row). */
static inline uint64_t seq_hash(uint64_t tag, const uint64_t *w, Py_ssize_t n) {
    uint64_t s = mix64(tag * 0x9e3779b97f4a7c15ULL + (uint64_t)n);
    for (Py_ssize_t i = 0; i < n; i++) s = mix64(s ^ w[i]) + 0x632be59bd9b4e019ULL;
    return s ? s : 1;
}

#define TAG_FIELD 1000
#define TAG_ROW 1001

/* ------------------------------------------------------------------ a set of uint64 (open addressing) */

typedef struct { uint64_t *slots; size_t mask; size_t count; } HSet;

static int hset_init(HSet *set, size_t expected) {
    size_t size = 16;
    while (size < expected * 2 + 16) size <<= 1;
    set->slots = PyMem_Calloc(size, sizeof(uint64_t));
    if (!set->slots) { PyErr_NoMemory(); return -1; }
    set->mask = size - 1; set->count = 0;
    return 0;
}

static void hset_add(HSet *set, uint64_t h) {  /* capacity is reserved at init: never more than half full */
    size_t i = (size_t)h & set->mask;
    while (set->slots[i]) { if (set->slots[i] == h) return; i = (i + 1) & set->mask; }
    set->slots[i] = h; set->count++;
}

static inline int hset_has(const HSet *set, uint64_t h) {
    size_t i = (size_t)h & set->mask;
    while (set->slots[i]) { if (set->slots[i] == h) return 1; i = (i + 1) & set->mask; }
    return 0;
}

/* ------------------------------------------------------------------ growable word buffer */

typedef struct { uint64_t *w; Py_ssize_t n, cap; Py_ssize_t *starts; Py_ssize_t nf, fcap; } Words;

static int words_push(Words *b, uint64_t h) {
    if (b->n == b->cap) {
        Py_ssize_t cap = b->cap ? b->cap * 2 : 1024;
        uint64_t *w = PyMem_Realloc(b->w, cap * sizeof(uint64_t));
        if (!w) { PyErr_NoMemory(); return -1; }
        b->w = w; b->cap = cap;
    }
    b->w[b->n++] = h;
    return 0;
}

static int words_field(Words *b) {  /* a new text field starts at the current word */
    if (b->nf + 1 >= b->fcap) {
        Py_ssize_t cap = b->fcap ? b->fcap * 2 : 64;
        Py_ssize_t *s = PyMem_Realloc(b->starts, cap * sizeof(Py_ssize_t));
        if (!s) { PyErr_NoMemory(); return -1; }
        b->starts = s; b->fcap = cap;
    }
    b->starts[b->nf++] = b->n;
    return 0;
}

/* ------------------------------------------------------------------ the Prefilter type */

typedef struct {
    PyObject_HEAD
    HSet keys;              /* every tagged hash a hit needs */
    int chunks[16];         /* chunk sizes m of the aligned-chunk tests */
    int nchunks;
    int fields, rows;       /* whether whole-field / whole-row keys exist */
    unsigned char cls[128]; /* ASCII class after lower(): 0 delete, 1 separator, 2 keep */
    unsigned char low[128]; /* ASCII lower-case */
    PyObject *normalize;    /* textnorm.normalize_words, for text that is not ASCII */
    PyObject *is_label;     /* fields.is_label */
    PyObject *structural;   /* frozenset of structural keys */
    PyObject *common;       /* frozenset of common labels */
    PyObject *cache;        /* non-ASCII piece -> its word hashes (bytes), bounded */
    Words buf;
} Prefilter;

static void Prefilter_dealloc(Prefilter *self) {
    PyMem_Free(self->keys.slots);
    PyMem_Free(self->buf.w);
    PyMem_Free(self->buf.starts);
    Py_XDECREF(self->normalize); Py_XDECREF(self->is_label);
    Py_XDECREF(self->structural); Py_XDECREF(self->common); Py_XDECREF(self->cache);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Hash of one Python str word (its UTF-8 bytes); -1 with an exception set on failure. */
static int str_word_hash(PyObject *word, uint64_t *out) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(word, &n);
    if (!s) return -1;
    *out = bytes_hash((const unsigned char *)s, n);
    return 0;
}

/* Hash of a sequence of Python str words under a tag. */
static int seq_of_strs(PyObject *seq, uint64_t tag, uint64_t *out) {
    PyObject *fast = PySequence_Fast(seq, "a sequence of words is needed");
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    uint64_t stack[64];
    uint64_t *w = n <= 64 ? stack : PyMem_Malloc(n * sizeof(uint64_t));
    if (!w) { Py_DECREF(fast); PyErr_NoMemory(); return -1; }
    int rc = 0;
    for (Py_ssize_t i = 0; i < n && rc == 0; i++) rc = str_word_hash(PySequence_Fast_GET_ITEM(fast, i), &w[i]);
    if (rc == 0) *out = seq_hash(tag, w, n);
    if (w != stack) PyMem_Free(w);
    Py_DECREF(fast);
    return rc;
}

/* Prefilter(chunks, fields, rows, table, normalize, is_label, structural, common)
 *   chunks: {m: iterable of m-word tuples}; fields, rows: iterables of word sequences (whole-field and
 *   whole-row keys); table: 128 bytes of ASCII classes; the rest as in the struct. */
static int Prefilter_init(Prefilter *self, PyObject *args, PyObject *kwds) {
    PyObject *chunks, *fields, *rows, *table;
    if (!PyArg_ParseTuple(args, "O!OOSOOOO", &PyDict_Type, &chunks, &fields, &rows, &table, &self->normalize,
                          &self->is_label, &self->structural, &self->common))
        return -1;
    Py_INCREF(self->normalize); Py_INCREF(self->is_label); Py_INCREF(self->structural); Py_INCREF(self->common);
    self->cache = PyDict_New();
    if (!self->cache) return -1;
    if (PyBytes_GET_SIZE(table) != 128) { PyErr_SetString(PyExc_ValueError, "table must be 128 bytes"); return -1; }
    for (int c = 0; c < 128; c++) {
        self->cls[c] = (unsigned char)PyBytes_AS_STRING(table)[c];
        self->low[c] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : (unsigned char)c;
    }
    PyObject *lists = PyList_New(0);  /* materialise every iterable once, to size the set */
    if (!lists) return -1;
    Py_ssize_t total = 0;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    self->nchunks = 0;
    while (PyDict_Next(chunks, &pos, &key, &value)) {
        long m = PyLong_AsLong(key);
        if (m < 1 || m > 1000 || self->nchunks >= 16) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad chunk size");
            Py_DECREF(lists); return -1;
        }
        self->chunks[self->nchunks++] = (int)m;
        PyObject *items = PySequence_List(value);
        if (!items || PyList_Append(lists, items) < 0) { Py_XDECREF(items); Py_DECREF(lists); return -1; }
        total += PyList_GET_SIZE(items);
        Py_DECREF(items);
    }
    PyObject *flist = PySequence_List(fields), *rlist = PySequence_List(rows);
    if (!flist || !rlist) { Py_XDECREF(flist); Py_XDECREF(rlist); Py_DECREF(lists); return -1; }
    total += PyList_GET_SIZE(flist) + PyList_GET_SIZE(rlist);
    self->fields = PyList_GET_SIZE(flist) > 0;
    self->rows = PyList_GET_SIZE(rlist) > 0;
    int rc = hset_init(&self->keys, (size_t)total);
    for (Py_ssize_t k = 0; rc == 0 && k < self->nchunks; k++) {
        PyObject *items = PyList_GET_ITEM(lists, k);
        for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(items); i++) {
            uint64_t h;
            rc = seq_of_strs(PyList_GET_ITEM(items, i), (uint64_t)self->chunks[k], &h);
            if (rc == 0) hset_add(&self->keys, h);
        }
    }
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(flist); i++) {
        uint64_t h;
        rc = seq_of_strs(PyList_GET_ITEM(flist, i), TAG_FIELD, &h);
        if (rc == 0) hset_add(&self->keys, h);
    }
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(rlist); i++) {
        uint64_t h;
        rc = seq_of_strs(PyList_GET_ITEM(rlist, i), TAG_ROW, &h);
        if (rc == 0) hset_add(&self->keys, h);
    }
    Py_DECREF(flist); Py_DECREF(rlist); Py_DECREF(lists);
    return rc;
}

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* textnorm's ASCII path on one ASCII text: fold_digit_groups(text.lower()).translate(ASCII_TABLE).split(),
 * each word hashed into the buffer. */
static int add_ascii(Prefilter *self, const unsigned char *s, Py_ssize_t n) {
    uint64_t h = FNV_START;
    Py_ssize_t len = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if ((c == ',' || c == '.' || c == '_') && i >= 1 && is_digit(s[i - 1]) && i + 3 < n && is_digit(s[i + 1])
            && is_digit(s[i + 2]) && is_digit(s[i + 3]) && (i + 4 == n || !is_digit(s[i + 4])))
            continue;  /* a digit-group separator: deleted */
        unsigned char k = self->cls[c];
        if (k == 2) { h ^= self->low[c]; h *= FNV_PRIME; len++; }
        else if (k == 1 && len) {
            if (words_push(&self->buf, word_done(h, len)) < 0) return -1;
            h = FNV_START; len = 0;
        }
    }
    if (len && words_push(&self->buf, word_done(h, len)) < 0) return -1;
    return 0;
}

/* The ASCII path on an all-ASCII stretch [start, end) of any str (the same steps as add_ascii; every character
 * read here is ASCII, so neighbours outside the stretch are never needed: the stretch is cut at spaces). */
static int add_ascii_range(Prefilter *self, int kind, const void *data, Py_ssize_t start, Py_ssize_t end) {
    uint64_t h = FNV_START;
    Py_ssize_t len = 0;
#define CH(j) ((Py_UCS4)PyUnicode_READ(kind, data, (j)))
#define DG(j) (CH(j) >= '0' && CH(j) <= '9')
    for (Py_ssize_t i = start; i < end; i++) {
        Py_UCS4 c = CH(i);
        if ((c == ',' || c == '.' || c == '_') && i >= start + 1 && DG(i - 1) && i + 3 < end && DG(i + 1) && DG(i + 2)
            && DG(i + 3) && (i + 4 == end || !DG(i + 4)))
            continue;
        unsigned char k = self->cls[c];
        if (k == 2) { h ^= self->low[c]; h *= FNV_PRIME; len++; }
        else if (k == 1 && len) {
            if (words_push(&self->buf, word_done(h, len)) < 0) return -1;
            h = FNV_START; len = 0;
        }
    }
#undef DG
#undef CH
    if (len && words_push(&self->buf, word_done(h, len)) < 0) return -1;
    return 0;
}

/* One space-free piece of text holding a non-ASCII character: its words through the Python normaliser,
 * hashed, cached per piece (the same accented words, quotes and dashes recur all through real data). */
static int add_piece(Prefilter *self, PyObject *piece) {
    PyObject *packed = PyDict_GetItemWithError(self->cache, piece);  /* borrowed */
    if (!packed) {
        if (PyErr_Occurred()) return -1;
        PyObject *words = PyObject_CallOneArg(self->normalize, piece);
        if (!words) return -1;
        if (!PyList_Check(words)) {
            Py_DECREF(words); PyErr_SetString(PyExc_TypeError, "normalize must return a list"); return -1;
        }
        Py_ssize_t n = PyList_GET_SIZE(words);
        packed = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint64_t));
        if (!packed) { Py_DECREF(words); return -1; }
        uint64_t *w = (uint64_t *)PyBytes_AS_STRING(packed);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (str_word_hash(PyList_GET_ITEM(words, i), &w[i]) < 0) { Py_DECREF(words); Py_DECREF(packed); return -1; }
        }
        Py_DECREF(words);
        if (PyDict_GET_SIZE(self->cache) >= 65536) PyDict_Clear(self->cache);  /* memory stays bounded */
        if (PyDict_SetItem(self->cache, piece, packed) < 0) { Py_DECREF(packed); return -1; }
        Py_DECREF(packed);  /* the cache holds it */
    }
    const uint64_t *w = (const uint64_t *)PyBytes_AS_STRING(packed);
    Py_ssize_t n = PyBytes_GET_SIZE(packed) / (Py_ssize_t)sizeof(uint64_t);
    for (Py_ssize_t i = 0; i < n; i++)
        if (words_push(&self->buf, w[i]) < 0) return -1;
    return 0;
}

/* textnorm.normalize_words on text that is not all ASCII, as textnorm._normalize_mixed does it: every step is
 * separable at an ASCII space, so the text is cut at U+0020; a piece that is all ASCII takes the ASCII path,
 * any other piece the full steps (the Python normaliser). */
static int add_mixed(Prefilter *self, PyObject *text) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), start = 0;
    int ascii = 1;
    for (Py_ssize_t i = 0; i <= n; i++) {
        Py_UCS4 c = i < n ? PyUnicode_READ(kind, data, i) : ' ';
        if (c == ' ') {
            if (i > start) {
                if (ascii) {
                    if (add_ascii_range(self, kind, data, start, i) < 0) return -1;
                } else {
                    PyObject *piece = PyUnicode_Substring(text, start, i);
                    if (!piece) return -1;
                    int rc = add_piece(self, piece);
                    Py_DECREF(piece);
                    if (rc < 0) return -1;
                }
            }
            start = i + 1;
            ascii = 1;
        } else if (c >= 128) {
            ascii = 0;
        }
    }
    return 0;
}

static int add_text(Prefilter *self, PyObject *text) {
    if (words_field(&self->buf) < 0) return -1;
    if (PyUnicode_IS_ASCII(text))
        return add_ascii(self, PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text));
    return add_mixed(self, text);
}

/* fields.text_values, in the same order and with the same rules. */
static int walk(Prefilter *self, PyObject *obj);

static int walk_item(Prefilter *self, PyObject *key, PyObject *value) {
    if (PyUnicode_CheckExact(value)) {
        if (key != NULL) {
            int structural = PySet_Contains(self->structural, key);
            if (structural < 0) return -1;
            if (structural) {
                int common = PySet_Contains(self->common, value);
                if (common < 0) return -1;
                if (common) return 0;
                PyObject *label = PyObject_CallOneArg(self->is_label, value);
                if (!label) return -1;
                int yes = PyObject_IsTrue(label);
                Py_DECREF(label);
                if (yes < 0) return -1;
                if (yes) return 0;
            }
        }
        return add_text(self, value);
    }
    if (PyDict_Check(value) || PyList_Check(value)) return walk(self, value);
    return 0;
}

static int walk(Prefilter *self, PyObject *obj) {
    int rc = 0;
    if (Py_EnterRecursiveCall(" while walking a row")) return -1;
    if (PyUnicode_CheckExact(obj) || (PyUnicode_Check(obj))) {
        rc = add_text(self, obj);
    } else if (PyDict_Check(obj)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (rc == 0 && PyDict_Next(obj, &pos, &key, &value)) rc = walk_item(self, key, value);
    } else if (PyList_Check(obj)) {
        for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(obj); i++)
            rc = walk_item(self, NULL, PyList_GET_ITEM(obj, i));
    }
    Py_LeaveRecursiveCall();
    return rc;
}

/* candidate(row) -> bool: False only when no exact / contained / n-gram hit is possible in the row. */
static PyObject *Prefilter_candidate(Prefilter *self, PyObject *row) {
    Words *b = &self->buf;
    b->n = 0; b->nf = 0;
    if (walk(self, row) < 0) {
        /* a text the UTF-8 codec refuses (a lone surrogate) cannot be hashed: let the exact matcher decide */
        if (PyErr_ExceptionMatches(PyExc_UnicodeError)) { PyErr_Clear(); Py_RETURN_TRUE; }
        return NULL;
    }
    if (b->n == 0) Py_RETURN_FALSE;
    if (self->fields) {
        for (Py_ssize_t f = 0; f < b->nf; f++) {
            Py_ssize_t start = b->starts[f], end = f + 1 < b->nf ? b->starts[f + 1] : b->n;
            if (end > start && hset_has(&self->keys, seq_hash(TAG_FIELD, b->w + start, end - start))) Py_RETURN_TRUE;
        }
    }
    if (self->rows && hset_has(&self->keys, seq_hash(TAG_ROW, b->w, b->n))) Py_RETURN_TRUE;
    for (int k = 0; k < self->nchunks; k++) {
        Py_ssize_t m = self->chunks[k];
        for (Py_ssize_t i = 0; i + m <= b->n; i += m)
            if (hset_has(&self->keys, seq_hash((uint64_t)m, b->w + i, m))) Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}

/* words(row) -> list of (word hashes per text field): for tests, the C normaliser's view of a row. */
static PyObject *Prefilter_words(Prefilter *self, PyObject *row) {
    Words *b = &self->buf;
    b->n = 0; b->nf = 0;
    if (walk(self, row) < 0) return NULL;
    PyObject *out = PyList_New(b->nf);
    if (!out) return NULL;
    for (Py_ssize_t f = 0; f < b->nf; f++) {
        Py_ssize_t start = b->starts[f], end = f + 1 < b->nf ? b->starts[f + 1] : b->n;
        PyObject *field = PyList_New(end - start);
        if (!field) { Py_DECREF(out); return NULL; }
        for (Py_ssize_t i = start; i < end; i++) PyList_SET_ITEM(field, i - start, PyLong_FromUnsignedLongLong(b->w[i]));
        PyList_SET_ITEM(out, f, field);
    }
    return out;
}

static PyMethodDef Prefilter_methods[] = {
    {"candidate", (PyCFunction)Prefilter_candidate, METH_O, "False only when no hit is possible in the row."},
    {"words", (PyCFunction)Prefilter_words, METH_O, "Word hashes per text field of a row (for tests)."},
    {NULL}
};

static PyTypeObject PrefilterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "specc.contract._fastscan.Prefilter",
    .tp_basicsize = sizeof(Prefilter),
    .tp_dealloc = (destructor)Prefilter_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A sound prefilter of the firewall's per-row matcher.",
    .tp_methods = Prefilter_methods,
    .tp_init = (initproc)Prefilter_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------ module functions */

static PyObject *py_word_hash(PyObject *mod, PyObject *word) {
    uint64_t h;
    if (str_word_hash(word, &h) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(h);
}

/* key_tokens(raw: bytes) -> number of object keys written in one line of valid JSON (a string followed by ':'). */
static PyObject *py_key_tokens(PyObject *mod, PyObject *raw) {
    char *s;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(raw, &s, &n) < 0) return NULL;
    const char *p = s, *end = s + n;
    Py_ssize_t keys = 0;
    while (p < end) {
        const char *q = memchr(p, '"', end - p);
        if (!q) break;
        q++;
        for (;;) {  /* to the closing quote, stepping over escapes */
            const char *quote = memchr(q, '"', end - q);
            if (!quote) { q = end; break; }
            const char *back = quote;
            while (back > q && back[-1] == '\\') back--;
            q = quote + 1;
            if (((quote - back) & 1) == 0) break;  /* an even run of backslashes: the quote closes the string */
        }
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        if (q < end && *q == ':') { keys++; q++; }
        p = q;
    }
    return PyLong_FromSsize_t(keys);
}

static Py_ssize_t count_dict_keys(PyObject *obj) {
    Py_ssize_t total = 0;
    if (Py_EnterRecursiveCall(" while counting keys")) return -1;
    if (PyDict_Check(obj)) {
        total = PyDict_GET_SIZE(obj);
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(obj, &pos, &key, &value)) {
            if (PyDict_Check(value) || PyList_Check(value)) {
                Py_ssize_t inner = count_dict_keys(value);
                if (inner < 0) { total = -1; break; }
                total += inner;
            }
        }
    } else if (PyList_Check(obj)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(obj); i++) {
            PyObject *value = PyList_GET_ITEM(obj, i);
            if (PyDict_Check(value) || PyList_Check(value)) {
                Py_ssize_t inner = count_dict_keys(value);
                if (inner < 0) { total = -1; break; }
                total += inner;
            }
        }
    }
    Py_LeaveRecursiveCall();
    return total;
}

/* dict_keys(obj) -> total number of keys of every dict in a parsed JSON value. */
static PyObject *py_dict_keys(PyObject *mod, PyObject *obj) {
    Py_ssize_t total = count_dict_keys(obj);
    if (total < 0) return NULL;
    return PyLong_FromSsize_t(total);
}

/* pii.kinds_possible of one line, as a bit mask: 1 email, 2 phone, 4 card, 8 iban, 16 api_key. */
static int line_mask(const unsigned char *s, Py_ssize_t n) {
    int mask = 0;
    Py_ssize_t keyrun = 0, numrun = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        int digit = c >= '0' && c <= '9';
        int keyish = digit || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
        int numberish = digit || c == ' ' || c == '(' || c == ')' || c == '.' || c == '-';
        keyrun = keyish ? keyrun + 1 : 0;
        numrun = numberish ? numrun + 1 : 0;
        if (keyrun >= 15) mask |= 16;
        if (numrun >= 10) mask |= 2 | 4 | 8;
        if (c == '@') mask |= 1;
        else if (c == '+' && i + 1 < n) {
            unsigned char d = s[i + 1];
            if ((d >= '0' && d <= '9') || (d == '(' && i + 2 < n && s[i + 2] >= '0' && s[i + 2] <= '9')) mask |= 2;
        }
    }
    if (!(mask & 16) && n >= 11) {
        static const char needle[] = "PRIVATE KEY";
        const unsigned char *p = s, *end = s + n;
        while ((p = memchr(p, 'P', end - p)) != NULL) {
            if (end - p >= 11 && memcmp(p, needle, 11) == 0) { mask |= 16; break; }
            p++;
        }
    }
    return mask;
}

/* line_kinds(block: bytes, max_line: int) -> (lines, rows, [(line index, mask), ...]):
 * lines as pii.ByteScanner._block splits them (a final newline ends the last line), rows as pii._count_rows
 * counts them, and the lines kinds_possible flags, with their kinds as a mask. */
static PyObject *py_line_kinds(PyObject *mod, PyObject *args) {
    const char *s;
    Py_ssize_t n, max_line;
    if (!PyArg_ParseTuple(args, "y#n", &s, &n, &max_line)) return NULL;
    PyObject *found = PyList_New(0);
    if (!found) return NULL;
    Py_ssize_t lines = 0, rows = 0;
    const char *p = s, *end = s + n;
    for (;;) {
        const char *nl = memchr(p, '\n', end - p);
        const char *stop = nl ? nl : end;
        if (!nl && p == end && n > 0 && end[-1] == '\n') break;  /* the empty piece after a final newline */
        Py_ssize_t len = stop - p;
        int blank = 1;
        for (const char *q = p; q < stop; q++) {
            char c = *q;
            if (!(c == ' ' || c == '\t' || c == '\r' || c == '\x0b' || c == '\x0c')) { blank = 0; break; }
        }
        if (!blank && len <= max_line) rows++;
        int mask = blank ? 0 : line_mask((const unsigned char *)p, len);
        if (mask) {
            PyObject *item = Py_BuildValue("(ni)", lines, mask);
            if (!item || PyList_Append(found, item) < 0) { Py_XDECREF(item); Py_DECREF(found); return NULL; }
            Py_DECREF(item);
        }
        lines++;
        if (!nl) break;
        p = nl + 1;
    }
    return Py_BuildValue("(nnN)", lines, rows, found);
}

/* ascii_words(text) -> list[str]: textnorm's ASCII path as the prefilter runs it, as Python words (tests). */
static PyObject *py_ascii_words(PyObject *mod, PyObject *args) {
    PyObject *text;
    Py_buffer table;
    if (!PyArg_ParseTuple(args, "Uy*", &text, &table)) return NULL;
    if (!PyUnicode_IS_ASCII(text) || table.len != 128) {
        PyBuffer_Release(&table);
        PyErr_SetString(PyExc_ValueError, "ASCII text and a 128-byte table are needed");
        return NULL;
    }
    const unsigned char *s = PyUnicode_1BYTE_DATA(text), *cls = table.buf;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyList_New(0);
    char *word = PyMem_Malloc(n + 1);
    Py_ssize_t len = 0;
    if (!out || !word) { Py_XDECREF(out); PyMem_Free(word); PyBuffer_Release(&table); return PyErr_NoMemory(); }
    for (Py_ssize_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? s[i] : ' ';
        if (i < n && (c == ',' || c == '.' || c == '_') && i >= 1 && is_digit(s[i - 1]) && i + 3 < n
            && is_digit(s[i + 1]) && is_digit(s[i + 2]) && is_digit(s[i + 3]) && (i + 4 == n || !is_digit(s[i + 4])))
            continue;
        unsigned char k = i < n ? cls[c] : 1;
        if (k == 2) word[len++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        else if (k == 1 && len) {
            PyObject *w = PyUnicode_FromStringAndSize(word, len);
            if (!w || PyList_Append(out, w) < 0) { Py_XDECREF(w); Py_DECREF(out); out = NULL; break; }
            Py_DECREF(w);
            len = 0;
        }
    }
    PyMem_Free(word);
    PyBuffer_Release(&table);
    return out;
}

static PyMethodDef module_methods[] = {
    {"word_hash", py_word_hash, METH_O, "The hash of one normalised word (its UTF-8 bytes)."},
    {"key_tokens", py_key_tokens, METH_O, "Object keys written in one line of valid JSON."},
    {"dict_keys", py_dict_keys, METH_O, "Keys of every dict in a parsed JSON value."},
    {"line_kinds", py_line_kinds, METH_VARARGS, "Per line of a block: pii.kinds_possible as a mask; row count."},
    {"ascii_words", py_ascii_words, METH_VARARGS, "The prefilter's ASCII normaliser, as Python words (tests)."},
    {NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastscan", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__fastscan(void) {
    if (PyType_Ready(&PrefilterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&PrefilterType);
    if (PyModule_AddObject(m, "Prefilter", (PyObject *)&PrefilterType) < 0) {
        Py_DECREF(&PrefilterType); Py_DECREF(m); return NULL;
    }
    return m;
}

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
 *   - line_flags(raw, row) compares the object keys written in one line of valid JSON with the keys of the
 *     parsed objects: they differ exactly when an object repeats a key;
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

/* A word's hash: its bytes folded by rotate-and-xor (one cheap step per byte: this runs on every training
 * character), then mixed with its length. Equal words always hash equally; a collision only makes a row a
 * candidate for the exact matcher. */
#define WORD_START 0x243f6a8885a308d3ULL
#define WORD_STEP(h, c) ((((h) << 7) | ((h) >> 57)) ^ (uint64_t)(c))

static inline uint64_t word_done(uint64_t h, Py_ssize_t len) { return mix64(h + ((uint64_t)len << 56)); }

static uint64_t bytes_hash(const unsigned char *s, Py_ssize_t n) {
    uint64_t h = WORD_START;
    for (Py_ssize_t i = 0; i < n; i++) h = WORD_STEP(h, s[i]);
    return word_done(h, n);
}

/* A sequence of word hashes under a tag (one tag per kind of key: chunk of m words, whole field, whole row):
 * a polynomial in the word hashes, then mixed. */
static inline uint64_t seq_hash(uint64_t tag, const uint64_t *w, Py_ssize_t n) {
    uint64_t s = tag * 0x9e3779b97f4a7c15ULL + (uint64_t)n;
    for (Py_ssize_t i = 0; i < n; i++) s = (s + w[i]) * 0xff51afd7ed558ccdULL;
    s = mix64(s);
    return s ? s : 1;
}

#define TAG_FIELD 1000
#define TAG_ROW 1001
#define TAG_BOILER 1002
#define CACHE_PIECES 65536  /* non-ASCII pieces cached at most (then the cache starts over): bounded memory */


/* ------------------------------------------------------------------ a set of uint64 (open addressing) */

/* In front of the slots, a bitmap of 16 bits per key (cache-resident): most looked-up hashes are not keys,
 * and the bitmap says so without touching the larger slot array. */
typedef struct { uint64_t *slots; size_t mask; size_t count; uint64_t *bits; size_t bitmask; } HSet;

static int hset_init(HSet *set, size_t expected) {
    size_t size = 16, nbits = 1 << 16;
    while (size < expected * 2 + 16) size <<= 1;
    while (nbits < expected * 16 && nbits < ((size_t)1 << 26)) nbits <<= 1;
    set->slots = PyMem_Calloc(size, sizeof(uint64_t));
    set->bits = PyMem_Calloc(nbits / 64, sizeof(uint64_t));
    if (!set->slots || !set->bits) { PyErr_NoMemory(); return -1; }
    set->mask = size - 1; set->count = 0; set->bitmask = nbits - 1;
    return 0;
}

static void hset_add(HSet *set, uint64_t h) {  /* capacity is reserved at init: never more than half full */
    size_t bit = (size_t)(h >> 32) & set->bitmask;
    set->bits[bit >> 6] |= (uint64_t)1 << (bit & 63);
    size_t i = (size_t)h & set->mask;
    while (set->slots[i]) { if (set->slots[i] == h) return; i = (i + 1) & set->mask; }
    set->slots[i] = h; set->count++;
}

static inline int hset_has(const HSet *set, uint64_t h) {
    size_t bit = (size_t)(h >> 32) & set->bitmask;
    if (!(set->bits[bit >> 6] & ((uint64_t)1 << (bit & 63)))) return 0;
    size_t i = (size_t)h & set->mask;
    while (set->slots[i]) { if (set->slots[i] == h) return 1; i = (i + 1) & set->mask; }
    return 0;
}

/* ------------------------------------------------------------------ growable word buffer */

typedef struct { uint64_t *w; Py_ssize_t n, cap; Py_ssize_t *starts; Py_ssize_t nf, fcap; } Words;

static inline int words_push(Words *b, uint64_t h) {
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
    int boiler[16];         /* word counts of the declared boilerplate texts (eval.firewall.ignore) */
    int nboiler;
    unsigned char map[128]; /* per ASCII character: 0 deleted, 1 a separator, else the character lower-cased */
    PyObject *normalize;    /* textnorm.normalize_words, for text that is not ASCII */
    PyObject *is_label;     /* fields.is_label */
    PyObject *structural;   /* frozenset of structural keys */
    PyObject *common;       /* frozenset of common labels */
    PyObject *cache;        /* non-ASCII piece -> its word hashes (bytes), bounded */
    Words buf;              /* the current row's word hashes: one row at a time per Prefilter (see `busy`) */
    int busy;               /* inside candidate()/words(): the Python normaliser may let another thread in */
} Prefilter;

static void Prefilter_dealloc(Prefilter *self) {
    PyMem_Free(self->keys.slots);
    PyMem_Free(self->keys.bits);
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

/* Prefilter(chunks, fields, rows, table, normalize, is_label, structural, common, boilerplate=())
 *   chunks: {m: iterable of m-word tuples}; fields, rows: iterables of word sequences (whole-field and
 *   whole-row keys); table: 128 bytes of ASCII classes; boilerplate: word sequences of the declared
 *   boilerplate texts (a row holding one is always a candidate: the matcher cuts and counts it); the rest as in
 *   the struct. */
static int Prefilter_init(Prefilter *self, PyObject *args, PyObject *kwds) {
    PyObject *chunks, *fields, *rows, *table, *boiler = NULL;
    if (self->keys.slots) { PyErr_SetString(PyExc_RuntimeError, "a Prefilter is initialised once"); return -1; }
    if (!PyArg_ParseTuple(args, "O!OOSOOOO|O", &PyDict_Type, &chunks, &fields, &rows, &table, &self->normalize,
                          &self->is_label, &self->structural, &self->common, &boiler))
        return -1;
    Py_INCREF(self->normalize); Py_INCREF(self->is_label); Py_INCREF(self->structural); Py_INCREF(self->common);
    self->cache = PyDict_New();
    if (!self->cache) return -1;
    if (PyBytes_GET_SIZE(table) != 128) { PyErr_SetString(PyExc_ValueError, "table must be 128 bytes"); return -1; }
    for (int c = 0; c < 128; c++) {
        unsigned char k = (unsigned char)PyBytes_AS_STRING(table)[c];
        unsigned char low = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : (unsigned char)c;
        if (k > 2 || (k == 2 && low < 2)) { PyErr_SetString(PyExc_ValueError, "bad ASCII class table"); return -1; }
        self->map[c] = k == 2 ? low : k;
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
    PyObject *blist = boiler ? PySequence_List(boiler) : PyList_New(0);
    if (!flist || !rlist || !blist) {
        Py_XDECREF(flist); Py_XDECREF(rlist); Py_XDECREF(blist); Py_DECREF(lists); return -1;
    }
    total += PyList_GET_SIZE(flist) + PyList_GET_SIZE(rlist) + PyList_GET_SIZE(blist);
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
    self->nboiler = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(blist); i++) {
        PyObject *words = PyList_GET_ITEM(blist, i);
        Py_ssize_t count = PyObject_Length(words);
        uint64_t h;
        if (count < 0) { rc = -1; break; }
        if (count == 0) continue;  /* an empty text cuts nothing */
        rc = seq_of_strs(words, TAG_BOILER, &h);
        if (rc < 0) break;
        hset_add(&self->keys, h);
        int known = 0;
        for (int k = 0; k < self->nboiler; k++) known |= self->boiler[k] == count;
        if (!known) {
            if (self->nboiler == 16 || count > 100000) {
                PyErr_SetString(PyExc_ValueError, "too many boilerplate lengths"); rc = -1; break;
            }
            self->boiler[self->nboiler++] = (int)count;
        }
    }
    Py_DECREF(flist); Py_DECREF(rlist); Py_DECREF(blist); Py_DECREF(lists);
    return rc;
}

static inline int is_digit(Py_UCS4 c) { return c >= '0' && c <= '9'; }

static int add_piece(Prefilter *self, PyObject *piece);

/* textnorm.normalize_words on one text, in one pass over its characters (any str kind).
 *
 * ASCII is normalised here exactly as textnorm's ASCII path: fold_digit_groups(text.lower())
 * .translate(ASCII_TABLE).split(). Text with non-ASCII characters is cut at U+0020 as textnorm._normalize_mixed
 * cuts it (every step is separable at an ASCII space): a space-free piece that is all ASCII takes the ASCII path,
 * any other piece the full steps (the Python normaliser, cached per piece). A piece's words are pushed as its
 * characters pass; when a non-ASCII character turns up, the piece's words so far are taken back and the whole
 * piece goes to the Python normaliser. Digit-group neighbours are read across spaces, which are never digits,
 * and a non-ASCII neighbour sends the piece to the Python normaliser anyway, so the fold decides as textnorm's does. */
#define DEFINE_ADD_TEXT(NAME, T)                                                                               \
static int NAME(Prefilter *self, PyObject *text, const T *s, Py_ssize_t n) {                                   \
    Words *b = &self->buf;                                                                                     \
    const unsigned char *map = self->map;                                                                      \
    uint64_t h = WORD_START;                                                                                    \
    Py_ssize_t len = 0, piece_start = 0, piece_words = b->n;                                                   \
    for (Py_ssize_t i = 0; i < n; i++) {                                                                       \
        Py_UCS4 c = s[i];                                                                                      \
        if (c >= 128) {                                                                                        \
            b->n = piece_words; h = WORD_START; len = 0;                                                        \
            Py_ssize_t j = i + 1;                                                                              \
            while (j < n && s[j] != ' ') j++;                                                                  \
            PyObject *piece = PyUnicode_Substring(text, piece_start, j);                                       \
            if (!piece) return -1;                                                                             \
            int rc = add_piece(self, piece);                                                                   \
            Py_DECREF(piece);                                                                                  \
            if (rc < 0) return -1;                                                                             \
            i = j; /* the space (or the end) */                                                                \
            piece_start = j + 1; piece_words = b->n;                                                           \
            continue;                                                                                          \
        }                                                                                                      \
        unsigned char k = map[c];                                                                              \
        if (k > 1) { h = WORD_STEP(h, k); len++; continue; }                                                   \
        if (k == 1) {                                                                                          \
            if ((c == ',' || c == '.' || c == '_') && i >= 1 && is_digit(s[i - 1]) && i + 3 < n                \
                && is_digit(s[i + 1]) && is_digit(s[i + 2]) && is_digit(s[i + 3])                              \
                && (i + 4 == n || !is_digit(s[i + 4])))                                                        \
                continue; /* a digit-group separator: deleted */                                               \
            if (len) {                                                                                         \
                if (words_push(b, word_done(h, len)) < 0) return -1;                                           \
                h = WORD_START; len = 0;                                                                        \
            }                                                                                                  \
            if (c == ' ') { piece_start = i + 1; piece_words = b->n; }                                         \
        }                                                                                                      \
    }                                                                                                          \
    if (len && words_push(b, word_done(h, len)) < 0) return -1;                                                \
    return 0;                                                                                                  \
}

DEFINE_ADD_TEXT(add_text_1, Py_UCS1)
DEFINE_ADD_TEXT(add_text_2, Py_UCS2)
DEFINE_ADD_TEXT(add_text_4, Py_UCS4)

static int add_text(Prefilter *self, PyObject *text) {
    if (words_field(&self->buf) < 0) return -1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND: return add_text_1(self, text, PyUnicode_1BYTE_DATA(text), n);
    case PyUnicode_2BYTE_KIND: return add_text_2(self, text, PyUnicode_2BYTE_DATA(text), n);
    default: return add_text_4(self, text, PyUnicode_4BYTE_DATA(text), n);
    }
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
        if (PyDict_GET_SIZE(self->cache) >= CACHE_PIECES) PyDict_Clear(self->cache);  /* memory stays bounded */
        if (PyDict_SetItem(self->cache, piece, packed) < 0) { Py_DECREF(packed); return -1; }
        Py_DECREF(packed);  /* the cache holds it */
    }
    const uint64_t *w = (const uint64_t *)PyBytes_AS_STRING(packed);
    Py_ssize_t n = PyBytes_GET_SIZE(packed) / (Py_ssize_t)sizeof(uint64_t);
    for (Py_ssize_t i = 0; i < n; i++)
        if (words_push(&self->buf, w[i]) < 0) return -1;
    return 0;
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
static int walk_row(Prefilter *self, PyObject *row) {
    if (self->busy) { PyErr_SetString(PyExc_RuntimeError, "a Prefilter serves one row at a time"); return -1; }
    self->busy = 1;
    self->buf.n = 0; self->buf.nf = 0;
    int rc = walk(self, row);
    self->busy = 0;
    return rc;
}

static PyObject *Prefilter_candidate(Prefilter *self, PyObject *row) {
    Words *b = &self->buf;
    if (walk_row(self, row) < 0) {
        /* a text the UTF-8 codec refuses (a lone surrogate) cannot be hashed: let the exact matcher decide */
        if (PyErr_ExceptionMatches(PyExc_UnicodeError)) { PyErr_Clear(); Py_RETURN_TRUE; }
        return NULL;
    }
    if (b->n == 0) Py_RETURN_FALSE;
    for (int k = 0; k < self->nboiler; k++) {  /* declared boilerplate in a field: the matcher cuts and counts it */
        Py_ssize_t size = self->boiler[k];
        for (Py_ssize_t f = 0; f < b->nf; f++) {
            Py_ssize_t start = b->starts[f], end = f + 1 < b->nf ? b->starts[f + 1] : b->n;
            for (Py_ssize_t i = start; i + size <= end; i++)
                if (hset_has(&self->keys, seq_hash(TAG_BOILER, b->w + i, size))) Py_RETURN_TRUE;
        }
    }
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
    if (walk_row(self, row) < 0) return NULL;
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

/* The number of object keys written in one line of valid JSON (a string followed by ':'). */
static Py_ssize_t count_key_tokens(const char *s, Py_ssize_t n) {
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
    return keys;
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

/* pii.kinds_possible of one line, as a bit mask: 1 email, 2 phone, 4 card, 8 iban, 16 api_key. */
#define K_KEY 1   /* [A-Za-z0-9_-]: a character of an API key */
#define K_NUM 2   /* [0-9 ().-]: a character of a phone, card or IBAN run */
static unsigned char byte_class[256];

static void init_byte_class(void) {
    for (int c = 0; c < 256; c++) {
        int digit = c >= '0' && c <= '9';
        /* '#' too: kinds_possible translates these characters to '#' and then looks for runs of '#' */
        byte_class[c] = (unsigned char)(((c == '#' || digit || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'
                                          || c == '-') ? K_KEY : 0)
                                        | ((c == '#' || digit || c == ' ' || c == '(' || c == ')' || c == '.' || c == '-') ? K_NUM : 0));
    }
}

/* Whether s[0:n) holds a run of at least `run` bytes of class `bit`. Probes the last byte of the leftmost
 * window that could still hold a run: a byte outside the class there rules out every run through it, so the
 * search jumps past it; prose (where such runs are rare) is crossed reading a fraction of its bytes. */
static int has_run(const unsigned char *s, Py_ssize_t n, unsigned char bit, Py_ssize_t run) {
    Py_ssize_t i = 0;  /* no run starts before i */
    while (i + run <= n) {
        Py_ssize_t p = i + run - 1;
        if (!(byte_class[s[p]] & bit)) { i = p + 1; continue; }
        Py_ssize_t q = p - 1;
        while (q >= i && (byte_class[s[q]] & bit)) q--;
        if (q < i) return 1;  /* s[i..p] is all in the class */
        i = q + 1;
    }
    return 0;
}

/* The vectorised search: SSE2 (every x86-64) with GCC or Clang builtins; elsewhere, or built with
 * -DSPECC_NO_SIMD, the scalar has_run above does all of it. */
#if defined(__SSE2__) && !defined(SPECC_NO_SIMD) && (defined(__GNUC__) || defined(__clang__))
#define SPECC_SIMD 1
#include <emmintrin.h>

/* Bit i set when byte i of the 64 at s is in the class: key characters in *key, number characters in *num. */
static inline void classify64(const unsigned char *s, uint64_t *key, uint64_t *num) {
    uint64_t k = 0, m = 0;
    for (int part = 0; part < 4; part++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + 16 * part));
        /* signed compares: bytes >= 0x80 are negative, below every ASCII range here */
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
        __m128i low = _mm_or_si128(v, _mm_set1_epi8(0x20));
        __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(low, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(low, _mm_set1_epi8('z' + 1)));
        __m128i both = _mm_or_si128(digit, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')),
                                                        _mm_cmpeq_epi8(v, _mm_set1_epi8('#'))));
        __m128i keyv = _mm_or_si128(both, _mm_or_si128(alpha, _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
        __m128i numv = _mm_or_si128(both, _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('.'))),
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('(')), _mm_cmpeq_epi8(v, _mm_set1_epi8(')')))));
        k |= (uint64_t)(unsigned)_mm_movemask_epi8(keyv) << (16 * part);
        m |= (uint64_t)(unsigned)_mm_movemask_epi8(numv) << (16 * part);
    }
    *key = k; *num = m;
}

/* Whether a run of `run` set bits ends in this 64-bit block, given `carry` set bits just before it; updates
 * `carry` to the set bits at the block's end. */
static inline int run_in_block(uint64_t m, int run, Py_ssize_t *carry) {
    if (m == ~(uint64_t)0) { *carry += 64; return *carry >= run; }
    Py_ssize_t head = __builtin_ctzll(~m);  /* set bits at the start of the block */
    if (*carry + head >= run) return 1;
    uint64_t r = m;  /* r bit i: bits i .. i + width - 1 all set */
    int width = 1;
    while (width * 2 <= run) { r &= r >> width; width *= 2; }
    if (width < run) r &= r >> (run - width);  /* two overlapping windows of `width` cover `run` bits */
    if (r) return 1;
    *carry = __builtin_clzll(~m);
    return 0;
}
#endif

/* has_run for both classes in one pass: *key for a run of 15 key characters, *num for 10 number characters. */
static void both_runs(const unsigned char *s, Py_ssize_t n, int *key, int *num) {
    Py_ssize_t i = 0;
    *key = *num = 0;
#ifdef SPECC_SIMD
    Py_ssize_t kc = 0, nc = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t km, nm;
        classify64(s + i, &km, &nm);
        if (!*key && run_in_block(km, 15, &kc)) *key = 1;
        if (!*num && run_in_block(nm, 10, &nc)) *num = 1;
        if (*key && *num) return;
    }
    if (i > 0) {  /* the tail: the scalar search, starting far enough back to see a run crossing into it */
        Py_ssize_t back = 14;
        i -= back;
    }
#endif
    if (!*key) *key = has_run(s + i, n - i, K_KEY, 15);
    if (!*num) *num = has_run(s + i, n - i, K_NUM, 10);
}

static int line_mask(const unsigned char *s, Py_ssize_t n) {
    int mask = 0, key, num;
    both_runs(s, n, &key, &num);
    if (key) mask |= 16;
    if (num) mask |= 2 | 4 | 8;
    if (n > 0 && memchr(s, '@', (size_t)n)) mask |= 1;
    if (!(mask & 2)) {
        const unsigned char *p = s, *end = s + n;
        while ((p = memchr(p, '+', end - p)) != NULL) {  /* the regex \+\(?\d */
            if (p + 1 < end && (is_digit(p[1]) || (p[1] == '(' && p + 2 < end && is_digit(p[2])))) { mask |= 2; break; }
            p++;
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

static int hexish_high(char c) {  /* [89abcdefABCDEF]: the third hex digit of a surrogate's \\u escape */
    return (c >= '8' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* line_flags(raw, row) -> int, the JSONL reader's per-line test in one call: bit 1 when the keys written in the
 * line (valid JSON, parsed into `row`) outnumber the keys of the parsed objects (an object repeats a key);
 * bit 2 when the line holds the text `\\u` + [dD] + [89a-fA-F] (jsonl._SURROGATE_ESCAPE: a lone surrogate is
 * possible). */
static PyObject *py_line_flags(PyObject *mod, PyObject *args) {
    PyObject *raw, *row;
    if (!PyArg_ParseTuple(args, "SO", &raw, &row)) return NULL;
    Py_ssize_t written = count_key_tokens(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    Py_ssize_t parsed = count_dict_keys(row);
    if (parsed < 0) return NULL;
    long flags = written != parsed;
    const char *s = PyBytes_AS_STRING(raw), *end = s + PyBytes_GET_SIZE(raw), *p = s;
    while (p < end && (p = memchr(p, '\\', end - p)) != NULL) {
        if (end - p >= 4 && p[1] == 'u' && (p[2] == 'd' || p[2] == 'D') && hexish_high(p[3])) { flags |= 2; break; }
        p++;
    }
    return PyLong_FromLong(flags);
}

/* plain_chat_ok(turns, need) -> rowformat._plain_chat_ok(turns, role), with need = 1 when the role needs an
 * assistant turn anywhere (TRAINED_ROLES), 2 when the last turn must be the assistant's (golden), else 0. */
static PyObject *py_plain_chat_ok(PyObject *mod, PyObject *args) {
    PyObject *turns;
    int need;
    if (!PyArg_ParseTuple(args, "Oi", &turns, &need)) return NULL;
    static PyObject *role_key = NULL, *content_key = NULL;
    if (!role_key) {
        role_key = PyUnicode_InternFromString("role");
        content_key = PyUnicode_InternFromString("content");
        if (!role_key || !content_key) return NULL;
    }
    if (!PyList_CheckExact(turns) || PyList_GET_SIZE(turns) == 0) Py_RETURN_FALSE;
    int assistant = 0, last = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(turns); i++) {
        PyObject *turn = PyList_GET_ITEM(turns, i);
        if (!PyDict_CheckExact(turn)) Py_RETURN_FALSE;
        PyObject *speaker = PyDict_GetItemWithError(turn, role_key);
        if (!speaker && PyErr_Occurred()) return NULL;
        if (!speaker || !PyUnicode_CheckExact(speaker)) Py_RETURN_FALSE;
        PyObject *content = PyDict_GetItemWithError(turn, content_key);
        if (!content && PyErr_Occurred()) return NULL;
        if (!content || !PyUnicode_CheckExact(content)) Py_RETURN_FALSE;
        last = PyUnicode_CompareWithASCIIString(speaker, "assistant") == 0;
        if (last) assistant = 1;
    }
    if (need == 1) return PyBool_FromLong(assistant);
    if (need == 2) return PyBool_FromLong(last);
    Py_RETURN_TRUE;
}

static PyMethodDef module_methods[] = {
    {"word_hash", py_word_hash, METH_O, "The hash of one normalised word (its UTF-8 bytes)."},
    {"line_kinds", py_line_kinds, METH_VARARGS, "Per line of a block: pii.kinds_possible as a mask; row count."},
    {"line_flags", py_line_flags, METH_VARARGS, "1: a repeated key; 2: a surrogate escape is possible."},
    {"plain_chat_ok", py_plain_chat_ok, METH_VARARGS, "rowformat._plain_chat_ok in C."},
    {NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastscan", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit__fastscan(void) {
    init_byte_class();
    if (PyType_Ready(&PrefilterType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&PrefilterType);
    if (PyModule_AddObject(m, "Prefilter", (PyObject *)&PrefilterType) < 0) {
        Py_DECREF(&PrefilterType); Py_DECREF(m); return NULL;
    }
#ifndef SPECC_SOURCE_SHA256
#define SPECC_SOURCE_SHA256 ""
#endif
    /* the SHA-256 of this file when it was built (setup.py): native.py refuses a module older than its source */
    if (PyModule_AddStringConstant(m, "SOURCE_SHA256", SPECC_SOURCE_SHA256) < 0) { Py_DECREF(m); return NULL; }
    return m;
}

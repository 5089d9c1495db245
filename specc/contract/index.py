"""In-memory index of the golden set for the exact, contained and n-gram stages.

The golden set is small (hundreds to a few thousand rows) and the training data is
large, so the firewall indexes the golden side and streams the training side
through it: memory is bounded by the golden set alone.

The n-gram stage needs to know whether *any* n-word window of a training field is
a golden n-gram. Building every window of every training field costs one tuple per
training word, which is too slow for hundreds of megabytes. Instead the index also
holds a *prefilter*: every m-gram (m = ceil(n / 2)) of the golden n-gram sources.
If a training field contains a golden n-gram at word position p, then the
non-overlapping m-word chunk starting at the first multiple of m at or after p lies
wholly inside that n-gram (because 2m - 1 <= n), so it is a golden m-gram. Checking
only non-overlapping chunks (built by ``zip`` in C, ``m`` times fewer than windows)
therefore never misses a hit; rows whose chunks hit are then verified exactly,
window by window. Chunks may straddle two fields of a row: that can only add
candidates, never lose hits, and verification is per field.

The contained stage looks for *short* golden parts (questions and answers under the
n-gram floor, see :mod:`specc.contract.firewall`) inside training fields. It uses the
same argument with m = 2 but needs only two bigrams per part, not all of them: an
occurrence of a part at position p covers the aligned pair starting at p or p + 1
(whichever is even), so the two consecutive bigrams at offsets j and j + 1 of the
part (any j) are *anchors* that every occurrence shows in an aligned pair. The index
picks, per part, the j whose bigrams are rarest in the golden set, which keeps stock
phrases ("what is", "of the") out of the prefilter as far as the part allows.

Declared boilerplate (``eval.firewall.ignore``) is cut out of every field before any
of this, golden and training alike (:class:`Boilerplate`): a field becomes the
segments between the boilerplate, and segments are what the stages compare.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from specc.contract.fields import iter_text_fields, part_kind
from specc.contract.settings import FirewallSettings, InputFile
from specc.contract.textnorm import normalize_words

__all__ = ["Boilerplate", "GoldenIndex", "GoldenRow", "Part", "build_golden_index", "chunk_size_for",
           "exact_key"]

WordTuple = tuple[str, ...]


def chunk_size_for(n: int) -> int:
    """Largest chunk size m whose aligned non-overlapping chunks always fall inside an n-gram."""
    return (n + 1) // 2


class Boilerplate:
    """Declared boilerplate texts, normalised, and how to cut them out of a field's words.

    Matching is on normalised words, so a boilerplate text is found whatever its case,
    punctuation or invisible characters. Each occurrence is removed; the words around it
    become separate segments, so no n-gram or exact match can span the cut.
    """

    def __init__(self, texts: Sequence[str]):
        self.texts = tuple(texts)
        self.patterns: list[str] = [" " + " ".join(normalize_words(text)) + " " for text in texts]
        self.first_words = frozenset(pattern.split(" ", 2)[1] for pattern in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def cut(self, words: list[str], found: set[int]) -> list[list[str]]:
        """The segments of ``words`` left after removing every boilerplate occurrence; adds the index of
        each boilerplate text that occurred to ``found``."""
        if self.first_words.isdisjoint(words):
            return [words] if words else []
        joined = " " + " ".join(words) + " "
        spans: list[tuple[int, int]] = []
        for number, pattern in enumerate(self.patterns):
            start = joined.find(pattern)
            while start >= 0:
                found.add(number)
                spans.append((start, start + len(pattern) - 1))
                start = joined.find(pattern, start + len(pattern) - 1)
        if not spans:
            return [words]
        pieces, cursor = [], 0
        for start, end in sorted(spans):
            if start >= cursor:
                pieces.append(joined[cursor:start])
            cursor = max(cursor, end)
        pieces.append(joined[cursor:])
        return [piece.split() for piece in pieces if piece.strip()]


@dataclass(frozen=True)
class Part:
    """A short golden question or answer (one segment of one golden field) for the contained stage."""

    golden: int  # golden row index
    words: WordTuple
    kind: str  # "question" or "answer"
    alone: bool  # a question long enough to be contamination wherever it appears


@dataclass
class GoldenRow:
    """One golden row as the scan needs it: where it is and its distinct n-grams."""

    line: int
    words: list[str]  # all text fields' words (boilerplate removed), joined in document order
    ngrams: set[WordTuple] = field(default_factory=set)
    parts: tuple[int, ...] = ()  # Part ids that must all appear for the whole-row contained rule
    boilerplate_only: bool = False  # it had text, and all of it was declared boilerplate


@dataclass
class GoldenIndex:
    """Lookup tables built from the golden file (see module docstring)."""

    rows: list[GoldenRow]
    exact_fields: dict[str, list[int]]  # normalised golden field text -> golden row indexes
    exact_rows: dict[str, list[int]]  # normalised whole golden row text -> golden row indexes
    exact_field_keys: frozenset[tuple[int, str, str]]  # (word count, first, last word): cheap pre-check
    exact_row_keys: frozenset[tuple[int, str, str]]
    ngrams: dict[int, dict[WordTuple, tuple[int, ...]]]  # n -> golden n-gram -> golden row indexes
    prefilters: dict[int, set[WordTuple]]  # chunk size m -> golden m-grams
    parts: list[Part]
    part_fields: dict[str, list[int]]  # normalised text -> ids of parts of whole-row rule rows equal to it
    part_field_keys: frozenset[tuple[int, str, str]]
    anchors: dict[WordTuple, list[tuple[int, int]]]  # bigram -> (part id, offset of the bigram in the part)
    boilerplate: Boilerplate
    boilerplate_golden_rows: list[int]  # per boilerplate text: golden rows it occurred in
    # settings -> the native prefilter built for them (specc.contract.native.row_prefilter): building one hashes
    # every golden key, and a scan builds a row matcher per training file
    native_prefilters: dict = field(default_factory=dict, repr=False, compare=False)

    def ngram_sizes(self) -> list[int]:
        return sorted(self.ngrams)


def _windows(words: Sequence[str], n: int) -> Iterable[WordTuple]:
    """Every n-word window of ``words`` as tuples (C-level via zip)."""
    return zip(*(words[k:] for k in range(n)))


def build_golden_index(golden: InputFile, settings: FirewallSettings) -> GoldenIndex:
    """Read the golden file once and build every lookup the scan needs."""
    rows: list[GoldenRow] = []
    exact_fields: dict[str, list[int]] = {}
    exact_rows: dict[str, list[int]] = {}
    ngram_rows: dict[int, dict[WordTuple, list[int]]] = {}
    prefilters: dict[int, set[WordTuple]] = {}
    boilerplate = Boilerplate(settings.ignore)
    boilerplate_rows = [0] * len(boilerplate.patterns)
    candidates: list[tuple[int, list[tuple[str, list[str]]]]] = []  # golden index, (kind, words) of its parts
    for _name, line, obj in golden.rows():  # any source, through the stages' loader
        index = len(rows)
        row = GoldenRow(line=line, words=[])
        found: set[int] = set()
        had_words = False
        row_parts: list[tuple[str, list[str]]] = []
        for path, text in iter_text_fields(obj):
            words = normalize_words(text)
            had_words = had_words or bool(words)
            kind = part_kind(obj, path)
            for segment in boilerplate.cut(words, found) if boilerplate else ([words] if words else []):
                row.words.extend(segment)
                count = len(segment)
                if count >= settings.exact_min_words or (
                    kind == "question" and count >= settings.question_exact_min_words
                ):
                    _add(exact_fields, " ".join(segment), index)
                if count >= settings.ngram_floor and settings.ngrams:
                    n = min(count, settings.ngram_n)
                    row.ngrams.update(_windows(segment, n))
                    table = ngram_rows.setdefault(n, {})
                    for gram in _windows(segment, n):
                        owners = table.setdefault(gram, [])
                        if not owners or owners[-1] != index:
                            owners.append(index)
                    m = chunk_size_for(n if n == settings.ngram_n else settings.ngram_floor)
                    prefilters.setdefault(m, set()).update(_windows(segment, m))
                if kind != "other":
                    row_parts.append((kind, segment))
        for number in found:
            boilerplate_rows[number] += 1
        row.boilerplate_only = had_words and not row.words
        if row.words:
            _add(exact_rows, " ".join(row.words), index)
        if settings.contained and row_parts:
            candidates.append((index, row_parts))
        rows.append(row)
    parts, part_fields, anchors = _index_parts(candidates, rows, settings)
    return GoldenIndex(
        rows=rows,
        exact_fields=exact_fields,
        exact_rows=exact_rows,
        exact_field_keys=frozenset(map(exact_key, (key.split(" ") for key in exact_fields))),
        exact_row_keys=frozenset(map(exact_key, (key.split(" ") for key in exact_rows))),
        ngrams={n: {gram: tuple(owners) for gram, owners in table.items()} for n, table in ngram_rows.items()},
        prefilters=prefilters,
        parts=parts,
        part_fields=part_fields,
        part_field_keys=frozenset(map(exact_key, (key.split(" ") for key in part_fields))),
        anchors=anchors,
        boilerplate=boilerplate,
        boilerplate_golden_rows=boilerplate_rows,
    )


def _index_parts(
    candidates: list[tuple[int, list[tuple[str, list[str]]]]], rows: list[GoldenRow], settings: FirewallSettings
) -> tuple[list[Part], dict[str, list[int]], dict[WordTuple, list[tuple[int, int]]]]:
    """Parts for the contained stage: short questions that count on their own, and every part of the
    golden rows the whole-row rule applies to (all parts short, at least one question and one answer)."""
    parts: list[Part] = []
    part_fields: dict[str, list[int]] = {}
    anchored: list[int] = []
    floor = settings.ngram_floor
    for golden, row_parts in candidates:
        kinds = {kind for kind, _words in row_parts}
        whole_row = kinds == {"question", "answer"} and all(len(words) < floor for _kind, words in row_parts)
        ids = []
        for kind, words in row_parts:
            alone = kind == "question" and settings.contain_min_words <= len(words) < floor
            if not (alone or whole_row):
                continue
            part_id = len(parts)
            parts.append(Part(golden=golden, words=tuple(words), kind=kind, alone=alone))
            if whole_row:
                ids.append(part_id)
                _add(part_fields, " ".join(words), part_id)
            if settings.contain_min_words <= len(words) < floor:
                anchored.append(part_id)
        if whole_row:
            rows[golden].parts = tuple(ids)
    frequency = Counter(gram for part_id in anchored for gram in zip(parts[part_id].words, parts[part_id].words[1:]))
    anchors: dict[WordTuple, list[tuple[int, int]]] = {}
    for part_id in anchored:
        words = parts[part_id].words
        grams = list(zip(words, words[1:]))
        j = min(range(len(grams) - 1), key=lambda k: (frequency[grams[k]] + frequency[grams[k + 1]], k))
        for offset in (j, j + 1):
            anchors.setdefault(grams[offset], []).append((part_id, offset))
    return parts, part_fields, anchors


def exact_key(words: Sequence[str]) -> tuple[int, str, str]:
    """A cheap fingerprint of a non-empty word list: two texts can only be equal if
    their fingerprints are, so the scan joins and looks up only fingerprint hits."""
    return (len(words), words[0], words[-1])


def _add(table: dict[str, list[int]], key: str, index: int) -> None:
    owners = table.setdefault(key, [])
    if not owners or owners[-1] != index:
        owners.append(index)

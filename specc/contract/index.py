"""In-memory index of the golden set for the exact and n-gram stages.

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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from specc.contract.fields import iter_text_fields
from specc.contract.settings import FirewallSettings, InputFile
from specc.contract.textnorm import normalize_words

__all__ = ["GoldenIndex", "GoldenRow", "build_golden_index", "chunk_size_for", "exact_key"]

WordTuple = tuple[str, ...]


def chunk_size_for(n: int) -> int:
    """Largest chunk size m whose aligned non-overlapping chunks always fall inside an n-gram."""
    return (n + 1) // 2


@dataclass
class GoldenRow:
    """One golden row as the scan needs it: where it is and its distinct n-grams."""

    line: int
    words: list[str]  # all text fields' words, joined in document order
    ngrams: set[WordTuple] = field(default_factory=set)


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

    def ngram_sizes(self) -> list[int]:
        return sorted(self.ngrams)


def _windows(words: list[str], n: int) -> Iterable[WordTuple]:
    """Every n-word window of ``words`` as tuples (C-level via zip)."""
    return zip(*(words[k:] for k in range(n)))


def build_golden_index(golden: InputFile, settings: FirewallSettings) -> GoldenIndex:
    """Read the golden file once and build every lookup the scan needs."""
    rows: list[GoldenRow] = []
    exact_fields: dict[str, list[int]] = {}
    exact_rows: dict[str, list[int]] = {}
    ngram_rows: dict[int, dict[WordTuple, list[int]]] = {}
    prefilters: dict[int, set[WordTuple]] = {}
    for _name, line, obj in golden.rows():  # any source, through the stages' loader
        index = len(rows)
        row = GoldenRow(line=line, words=[])
        for _path, text in iter_text_fields(obj):
            words = normalize_words(text)
            row.words.extend(words)
            count = len(words)
            if count >= settings.exact_min_words:
                _add(exact_fields, " ".join(words), index)
            if count >= settings.ngram_floor and settings.ngrams:
                n = min(count, settings.ngram_n)
                row.ngrams.update(_windows(words, n))
                table = ngram_rows.setdefault(n, {})
                for gram in _windows(words, n):
                    owners = table.setdefault(gram, [])
                    if not owners or owners[-1] != index:
                        owners.append(index)
                m = chunk_size_for(n if n == settings.ngram_n else settings.ngram_floor)
                prefilters.setdefault(m, set()).update(_windows(words, m))
        if row.words:
            _add(exact_rows, " ".join(row.words), index)
        rows.append(row)
    return GoldenIndex(
        rows=rows,
        exact_fields=exact_fields,
        exact_rows=exact_rows,
        exact_field_keys=frozenset(map(exact_key, (key.split(" ") for key in exact_fields))),
        exact_row_keys=frozenset(map(exact_key, (key.split(" ") for key in exact_rows))),
        ngrams={n: {gram: tuple(owners) for gram, owners in table.items()} for n, table in ngram_rows.items()},
        prefilters=prefilters,
    )


def exact_key(words: list[str]) -> tuple[int, str, str]:
    """A cheap fingerprint of a non-empty word list: two texts can only be equal if
    their fingerprints are, so the scan joins and looks up only fingerprint hits."""
    return (len(words), words[0], words[-1])


def _add(table: dict[str, list[int]], key: str, index: int) -> None:
    owners = table.setdefault(key, [])
    if not owners or owners[-1] != index:
        owners.append(index)

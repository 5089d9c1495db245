"""The golden-set firewall: prove that no training input contains the evaluation set.

A fine-tune evaluated on data it trained on reports a score that means nothing,
so before any training the eval contract runs :func:`scan` over every text field
of every training input (SFT data, preference pairs, teacher prompts for
distillation) against the golden set. Three stages, each on normalised text
(:mod:`specc.contract.textnorm`: NFKC, case-folded, punctuation stripped, whitespace
collapsed):

1. **exact** - a training field equal to a golden field of at least
   ``exact_min_words`` words, or a whole training row (its text fields joined)
   equal to a whole golden row. (A whole-row hit is not listed again when a field
   of the same training row already matched the same golden row exactly.)
2. **ngram** - a training field containing any golden n-gram (``ngram_n`` words;
   golden fields shorter than that but at least ``ngram_floor`` words count as one
   n-gram of their own length). N-grams never span two fields. Each hit records
   the fraction of the golden row's distinct n-grams the field contains, and each
   golden row records how much of it appears anywhere in the training data.
3. **near_duplicate** (opt-in) - a training row whose word-shingle Jaccard
   similarity with a golden row reaches ``jaccard_threshold``
   (:mod:`specc.contract.neardup`).

Memory is bounded by the golden set: it is indexed once
(:mod:`specc.contract.index`) and training rows stream through one at a time.
Bad data raises :class:`specc.data.jsonl.DataError` naming ``file:line``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import asdict
from itertools import accumulate, chain

from specc.contract import native
from specc.contract.fields import iter_text_fields, text_values
from specc.contract.index import GoldenIndex, WordTuple, build_golden_index
from specc.contract.neardup import NearDuplicateIndex
from specc.contract.report import STAGES, Boilerplate as BoilerplateResult, FileSummary, FirewallReport, \
    GoldenRowResult, Hit
from specc.contract.settings import FirewallSettings, InputFile
from specc.data.jsonl import DataError
from specc.data.sources import source_bytes
from specc.contract.textnorm import ASCII_TABLE, fold_digit_groups, normalize_words

__all__ = ["DataError", "FirewallReport", "FirewallSettings", "Hit", "InputFile", "scan"]

_SNIPPET_CHARS = 80
_SURROGATES = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` safe to print and to write as UTF-8: lone surrogates (``"\\ud800"`` is valid JSON, but
    no UTF-8 text can hold it) become U+FFFD, and decomposed accents are recomposed (NFC)."""
    return unicodedata.normalize("NFC", _SURROGATES.sub("\ufffd", text))


def _snippet(words: Sequence[str]) -> str:
    text = printable(" ".join(words))
    return text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 3] + "..."
class _Collector:
    """Accumulates hits: exact counts and coverage, a capped list for the report."""

    def __init__(self, index: GoldenIndex, settings: FirewallSettings):
        self.index = index
        self.per_row_cap = settings.max_hits_per_golden_row
        self.total_cap = settings.max_hits_listed
        self.counts: dict[int, int] = {}
        self.stages: dict[int, set[str]] = {}
        self.row_hits: dict[int, list[Hit]] = {}
        self.covered: dict[int, set[WordTuple]] = {}
        self.listed: list[Hit] = []
        self.by_stage: dict[str, int] = {}

    def add(self, golden_index: int, hit: Hit) -> None:
        self.counts[golden_index] = self.counts.get(golden_index, 0) + 1
        self.stages.setdefault(golden_index, set()).add(hit.stage)
        self.by_stage[hit.stage] = self.by_stage.get(hit.stage, 0) + 1
        listed = self.row_hits.setdefault(golden_index, [])
        if len(listed) < self.per_row_cap:
            listed.append(hit)
        if len(self.listed) < self.total_cap:
            self.listed.append(hit)

    def results(self) -> tuple[GoldenRowResult, ...]:
        rows = self.index.rows
        return tuple(
            GoldenRowResult(
                line=rows[g].line,
                hit_count=self.counts[g],
                stages=tuple(stage for stage in STAGES if stage in self.stages[g]),
                ngrams_total=len(rows[g].ngrams),
                ngrams_covered=len(self.covered.get(g, ())),
                hits=tuple(self.row_hits[g]),
            )
            for g in sorted(self.counts)
        )


def _ngram_matches(index: GoldenIndex, words: list[str]) -> dict[int, list[WordTuple]]:
    """Golden row -> golden n-grams found in this field, in order of first appearance."""
    found: dict[int, list[WordTuple]] = {}
    for n, table in index.ngrams.items():
        if len(words) < n:
            continue
        windows = list(zip(*(words[k:] for k in range(n))))
        common = table.keys() & windows
        if not common:
            continue
        seen: set[WordTuple] = set()
        for gram in windows:
            if gram in common and gram not in seen:
                seen.add(gram)
                for g in table[gram]:
                    found.setdefault(g, []).append(gram)
    return found


def _contained(
    index: GoldenIndex,
    fields: list[list[str]],
    all_words: list[str],
    skip: set[int],
    report_equal: bool,
    min_inside: int,
) -> list[tuple[int, int, WordTuple]]:
    """The contained stage on one training row: ``(golden row, segment position, matched words)``.

    A short golden question (``alone``) inside a longer segment is a hit on its own; a golden row of
    short parts is a hit when every one of its questions occurs in some segment (inside it, or equal
    to it) and every answer is equal to a segment (or inside one, when the answer has at least
    ``contain_min_words`` = ``min_inside`` words). Golden rows in ``skip`` already have a hit from this
    training row. Each hit names the first segment where its question occurs.
    """
    parts = index.parts
    found: dict[int, int] = {}  # part id -> first segment where it occurs (equal, or inside when allowed)
    inside: dict[int, int] = {}  # part id -> first segment that holds it with other words around it
    keys = index.part_field_keys
    if keys:
        for position, words in enumerate(fields):
            if words and (len(words), words[0], words[-1]) in keys:
                for part_id in index.part_fields.get(" ".join(words), ()):
                    found.setdefault(part_id, position)
    anchors = index.anchors
    if anchors and len(all_words) > 1:
        chunks = list(zip(*[iter(all_words)] * 2))
        grams = anchors.keys() & chunks
        if grams:
            starts = list(accumulate((len(words) for words in fields), initial=0))
            for gram in grams:
                i = chunks.index(gram)
                while True:
                    for part_id, offset in anchors[gram]:
                        words = parts[part_id].words
                        start = 2 * i - offset
                        end = start + len(words)
                        if start < 0 or end > len(all_words):
                            continue
                        position = bisect_right(starts, start) - 1
                        if end <= starts[position + 1] and tuple(all_words[start:end]) == words:
                            found[part_id] = min(found.get(part_id, position), position)
                            if len(fields[position]) > len(words):
                                inside[part_id] = min(inside.get(part_id, position), position)
                    try:
                        i = chunks.index(gram, i + 1)
                    except ValueError:
                        break
    if not found:
        return []
    hits: list[tuple[int, int, WordTuple]] = []
    hit_rows = set(skip)
    for part_id in sorted(found):
        part = parts[part_id]
        if part.alone and part.golden not in hit_rows and (part_id in inside or report_equal):
            hit_rows.add(part.golden)
            hits.append((part.golden, inside.get(part_id, found[part_id]), part.words))
    bigrams: set[WordTuple] | None = None
    for golden in sorted({parts[part_id].golden for part_id in found} - hit_rows):
        row_parts = index.rows[golden].parts
        if not row_parts:
            continue
        first: tuple[int, WordTuple] | None = None
        for part_id in row_parts:
            part = parts[part_id]
            size = len(part.words)
            if part.kind == "question" and 1 < size < min_inside:  # inside or equal: search the segments
                if bigrams is None:
                    bigrams = set(zip(all_words, all_words[1:]))
                position = _find(part.words, fields) if part.words[:2] in bigrams else None
            else:
                position = found.get(part_id)
            if position is None:
                break
            if first is None and part.kind == "question":
                first = (position, part.words)
        else:
            if first is not None:
                hits.append((golden, first[0], first[1]))
    return hits


def _find(words: WordTuple, fields: list[list[str]]) -> int | None:
    """The first segment that contains ``words`` as a contiguous run, or None."""
    size = len(words)
    for position, segment in enumerate(fields):
        i = -1
        while True:
            try:
                i = segment.index(words[0], i + 1)
            except ValueError:
                break
            if i + size > len(segment):
                break
            if tuple(segment[i : i + size]) == words:
                return position
    return None


def _scan_file(
    source: InputFile,
    index: GoldenIndex,
    settings: FirewallSettings,
    collector: _Collector,
    near: NearDuplicateIndex | None,
    boilerplate_rows: list[int],
    observe: Callable[[int, dict], object] | None = None,
    share: list | None = None,
) -> FileSummary:
    match = row_matcher(printable(source.name), index, settings, collector, near, boilerplate_rows, share)
    rows_scanned = rows_flagged = hits = 0
    for _name, line, row in source.rows():  # any source, through the stages' loader
        rows_scanned += 1
        found = match(line, row)
        if found:
            rows_flagged += 1
            hits += found
        if observe is not None:
            observe(line, row)
    return FileSummary(
        name=printable(source.name),
        role=source.role,
        rows=rows_scanned,
        bytes=source_bytes(source.path) if source.path and os.path.exists(source.path) else 0,
        rows_flagged=rows_flagged,
        hits=hits,
    )


def row_matcher(
    name: str,
    index: GoldenIndex,
    settings: FirewallSettings,
    collector: _Collector,
    near: NearDuplicateIndex | None,
    boilerplate_rows: list[int],
    share: list | None = None,
) -> Callable[[int, dict], int]:
    """``match(line, row) -> hits``: every stage of the scan on one training row of file ``name``, hits
    added to ``collector``. Why a closure: a caller that already streams rows (``specc check`` checks them
    as they pass) can match them against a second index (the general suites) without reading the file again.

    ``share``, a one-slot list given to two matchers built with the same settings (the golden set's and the
    suites'), carries the last row's normalised words from one to the other: each row is normalised once."""
    exact_fields = index.exact_fields if settings.exact else {}
    exact_rows = index.exact_rows if settings.exact else {}
    field_keys = index.exact_field_keys if settings.exact else frozenset()
    row_keys = index.exact_row_keys if settings.exact else frozenset()
    prefilters = sorted(index.prefilters.items(), reverse=True) if settings.ngrams else []
    contained = settings.contained and bool(index.parts)
    boilerplate = index.boilerplate if index.boilerplate else None
    golden_rows = index.rows
    table = ASCII_TABLE
    fold = fold_digit_groups
    # The native prefilter (specc.contract.native) skips rows that cannot hit (nor hold declared boilerplate,
    # which is counted); not with near-duplicates, which need every row. A skipped row leaves ``share`` alone:
    # the other matcher then normalises it itself (``share`` saves work, it decides nothing).
    candidate = native.row_prefilter(index, settings) if near is None else None

    def match(line: int, row: dict) -> int:
        if candidate is not None and not candidate(row):
            return 0
        if share is not None and share[0] is not None and share[0][0] is row:  # normalised by the other matcher
            _row, fields, owner, all_words, seen = share[0]
            for number in seen:
                boilerplate_rows[number] += 1
        else:
            fields = [
                fold(text.lower()).translate(table).split() if text.isascii() else normalize_words(text)
                for text in text_values(row, [])
            ]  # the ASCII branch inlines textnorm's fast path: this loop is the hot spot
            owner: list[int] | None = None  # segment -> field position, when boilerplate split the fields
            seen: set[int] | tuple[()] = ()  # declared boilerplate texts found in this row
            if boilerplate is not None:
                seen = set()
                segments: list[list[str]] = []
                owner = []
                for position, words in enumerate(fields):
                    for segment in boilerplate.cut(words, seen):
                        segments.append(segment)
                        owner.append(position)
                fields = segments
                for number in seen:
                    boilerplate_rows[number] += 1
            all_words = fields[0] if len(fields) == 1 else list(chain.from_iterable(fields))
            if share is not None:
                share[0] = (row, fields, owner, all_words, seen)
        pending: list[tuple[int, int, str, float | None, float | None, str]] = []
        exact_pairs: set[int] = set()
        for position, words in enumerate(fields):
            if words and (len(words), words[0], words[-1]) in field_keys:
                owners = exact_fields.get(" ".join(words))
                if owners:
                    for g in owners:
                        exact_pairs.add(g)
                        pending.append((g, position, "exact", None, None, _snippet(words)))
        if all_words and (len(all_words), all_words[0], all_words[-1]) in row_keys:
            for g in exact_rows.get(" ".join(all_words), ()):
                if g not in exact_pairs:
                    exact_pairs.add(g)
                    pending.append((g, -1, "exact", None, None, _snippet(all_words)))
        if contained:
            for g, position, words in _contained(
                index, fields, all_words, exact_pairs, not settings.exact, settings.contain_min_words
            ):
                pending.append((g, position, "contained", None, None, _snippet(words)))
        for m, prefilter in prefilters:
            if not prefilter.isdisjoint(zip(*[iter(all_words)] * m)):
                for position, words in enumerate(fields):
                    for g, grams in sorted(_ngram_matches(index, words).items()):
                        collector.covered.setdefault(g, set()).update(grams)
                        coverage = len(grams) / len(golden_rows[g].ngrams)
                        pending.append((g, position, "ngram", coverage, None, _snippet(grams[0])))
                break
        if near is not None:
            for g, similarity in near.query(all_words):
                pending.append((g, -1, "near_duplicate", None, similarity, _snippet(all_words)))
        if not pending:
            return 0
        paths = [printable(path) for path, _text in iter_text_fields(row)]
        for g, position, stage, coverage, similarity, snippet in pending:
            if position >= 0 and owner is not None:
                position = owner[position]
            hit = Hit(
                file=name,
                line=line,
                field=paths[position] if position >= 0 else "",
                golden_line=golden_rows[g].line,
                stage=stage,
                snippet=snippet,
                coverage=coverage,
                jaccard=similarity,
            )
            collector.add(g, hit)
        return len(pending)

    return match


def scan(
    golden: InputFile,
    training: Sequence[InputFile],
    settings: FirewallSettings | None = None,
    *,
    observe: Callable[[str], Callable[[int, dict], object]] | None = None,
    share: list | None = None,
) -> FirewallReport:
    """Check every text field of every training file against the golden set.

    Files are scanned in the order given; the report lists hits in that order.
    Raises :class:`DataError` for unreadable or malformed data (golden or training).
    ``observe(file name)``, when given, returns a function that sees each ``(line, row)`` of that training
    file as it is scanned (the general-suite overlap scan, :mod:`specc.contract.suiteoverlap`): one read;
    ``share`` is the one-slot list that scan's matchers also hold (see :func:`row_matcher`).
    """
    settings = settings or FirewallSettings()
    index = build_golden_index(golden, settings)
    near = NearDuplicateIndex((row.words for row in index.rows), settings) if settings.near_duplicates else None
    collector = _Collector(index, settings)
    boilerplate_rows = [0] * len(index.boilerplate.patterns)
    summaries = tuple(
        _scan_file(source, index, settings, collector, near, boilerplate_rows,
                   observe(source.name) if observe is not None else None, share)
        for source in training
    )
    enabled = {"exact": settings.exact, "contained": settings.contained, "ngram": settings.ngrams,
               "near_duplicate": settings.near_duplicates}
    stages = tuple(stage for stage in STAGES if enabled[stage])
    boilerplate = tuple(
        BoilerplateResult(text=printable(text), golden_rows=golden_count, training_rows=training_count)
        for text, golden_count, training_count in zip(
            index.boilerplate.texts, index.boilerplate_golden_rows, boilerplate_rows
        )
    )
    return FirewallReport(
        golden_file=printable(golden.name),
        golden_rows=len(index.rows),
        threshold=settings.threshold,
        stages=stages,
        settings=asdict(settings),
        files=summaries,
        contaminated=collector.results(),
        hits_by_stage={stage: collector.by_stage.get(stage, 0) for stage in stages},
        listed_hits=tuple(collector.listed),
        boilerplate=boilerplate,
        boilerplate_only=tuple(row.line for row in index.rows if row.boilerplate_only),
    )

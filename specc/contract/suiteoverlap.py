"""General-suite rows found in the training data: a forgetting measurement made on trained-on rows.

The forgetting gate compares the base and the tuned model on the general suites. When rows of a suite are also
training rows, the tuned model was trained on the test: its suite score rises for a reason that is not retained
capability, and a real regression can hide behind it. The eval contract refuses golden rows in training data
(:mod:`specc.contract.firewall`); for suites it is a **warning** that names the suite, its rows and the training
rows (issue 11 item 7): a suite is often a public benchmark whose rows also circulate in public training sets, so
the reviewer decides (drop those rows from the training data, or pick another suite), and the check does not fail.

Same normaliser, same stages and the same index code as the golden-set firewall
(:func:`specc.contract.index.build_golden_index`, :func:`specc.contract.firewall.row_matcher`), and the same merge
of several sources into one index as a golden list (:class:`specc.contract.rowunion.RowUnion`): every suite's rows
are indexed once (memory bounded by the suites' size) and training rows are matched as they stream past the
caller, so no training file is read a second time for this.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from specc.contract.firewall import _Collector, printable, row_matcher
from specc.contract.index import build_golden_index
from specc.contract.neardup import NearDuplicateIndex
from specc.contract.report import STAGES, Hit
from specc.contract.rowunion import RowUnion
from specc.contract.settings import FirewallSettings

__all__ = ["SuiteHit", "SuiteOverlapReport", "SuiteOverlapScan", "SuiteRows"]


@dataclass(frozen=True)
class SuiteRows:
    """One general suite to index: its name, how output names its source, and its rows (checked by the caller)."""

    name: str
    display: str
    rows: Callable[[], Iterable[tuple[str, int, dict[str, Any]]]]


@dataclass(frozen=True)
class SuiteHit:
    """A training row that matches a suite row."""

    suite: str
    suite_file: str
    hit: Hit  # file/line/field are the training row's; golden_line is the suite row's

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "suite_file": self.suite_file, "suite_line": self.hit.golden_line,
                "file": self.hit.file, "line": self.hit.line, "field": self.hit.field, "stage": self.hit.stage,
                "snippet": self.hit.snippet}

    def line(self) -> str:
        return (f"{self.hit.location()}: {self.hit.stage} hit on suite {self.suite} {self.suite_file}:"
                f"{self.hit.golden_line}: \"{self.hit.snippet}\"")


@dataclass(frozen=True)
class SuiteOverlapReport:
    """Which suite rows occur in the training data. Always a warning, never a failure (see the module docstring)."""

    suites: tuple[tuple[str, int], ...]  # (suite, rows indexed)
    found: tuple[tuple[str, str, tuple[int, ...]], ...]  # (suite, suite file, lines of its rows found in training)
    listed: tuple[SuiteHit, ...]
    total_hits: int
    training_rows: int
    stages: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.found

    def to_dict(self) -> dict[str, Any]:
        return {"clean": self.clean, "severity": "warning", "stages": list(self.stages),
                "training_rows": self.training_rows, "total_hits": self.total_hits,
                "suites": [{"name": name, "rows": rows,
                            "rows_in_training": next((list(lines) for s, _f, lines in self.found if s == name), [])}
                           for name, rows in self.suites],
                "hits": [hit.to_dict() for hit in self.listed]}

    def render_lines(self) -> list[str]:
        if self.clean:
            return [f"general-suite overlap: none ({self.training_rows} training rows scanned against "
                    f"{sum(rows for _n, rows in self.suites)} suite rows)"]
        lines = []
        for suite, file, found in self.found:
            rows = dict(self.suites)[suite]
            lines.append(f"general-suite overlap: WARNING: {len(found)}/{rows} rows of suite {suite} ({file}) are in "
                         "the training data: the forgetting gate would score them on trained-on rows; drop them "
                         "from the training data or use another suite")
        lines.extend(f"  {hit.line()}" for hit in self.listed)
        more = self.total_hits - len(self.listed)
        if more > 0:
            lines.append(f"  ... and {more} more hits")
        return lines


class SuiteOverlapScan:
    """Index every suite's rows (read once, through ``SuiteRows.rows``), then match training rows fed to
    :meth:`matcher` by the caller; :meth:`report` says what was found."""

    def __init__(self, suites: Sequence[SuiteRows], settings: FirewallSettings):
        self.suites = list(suites)
        self.union = RowUnion(self.suites)  # an indexed row's line is its ordinal there: origin() says whose
        self.settings = settings
        self.index = build_golden_index(self.union, settings)  # type: ignore[arg-type]
        self.near = (NearDuplicateIndex((row.words for row in self.index.rows), settings)
                     if settings.near_duplicates else None)
        self.collector = _Collector(self.index, settings)
        self._boilerplate = [0] * len(self.index.boilerplate.patterns)
        self.training_rows = 0
        self.share: list = [None]  # given to the golden scan too: each training row is normalised once

    def matcher(self, name: str) -> Callable[[int, dict], int]:
        """``match(line, row)`` for the rows of one training file named ``name``."""
        match = row_matcher(printable(name), self.index, self.settings, self.collector, self.near, self._boilerplate,
                            self.share)

        def counted(line: int, row: dict) -> int:
            self.training_rows += 1
            return match(line, row)

        return counted

    def report(self) -> SuiteOverlapReport:
        found: dict[int, list[int]] = {}
        for g in sorted(self.collector.counts):
            number, line = self.union.origin(self.index.rows[g].line)
            found.setdefault(number, []).append(line)
        listed = tuple(self._suite_hit(hit) for hit in self.collector.listed)
        enabled = {"exact": self.settings.exact, "contained": self.settings.contained,
                   "ngram": self.settings.ngrams, "near_duplicate": self.settings.near_duplicates}
        return SuiteOverlapReport(
            suites=tuple((suite.name, count) for suite, count in zip(self.suites, self.union.counts)),
            found=tuple((self.suites[n].name, self.suites[n].display, tuple(sorted(lines)))
                        for n, lines in sorted(found.items())),
            listed=listed,
            total_hits=sum(self.collector.counts.values()),
            training_rows=self.training_rows,
            stages=tuple(stage for stage in STAGES if enabled[stage]),
        )

    def _suite_hit(self, hit: Hit) -> SuiteHit:
        """``hit`` (its golden line an ordinal of the union) named by its suite and the suite row's own line."""
        number, line = self.union.origin(hit.golden_line)
        suite = self.suites[number]
        return SuiteHit(suite.name, suite.display, dataclasses.replace(hit, golden_line=line))

"""The firewall's verdict, in a form both CI and a reviewer can read.

A fully contaminated corpus can produce millions of hits; the report therefore
*lists* a capped number of them (per golden row and overall) while every count
stays exact. Output is deterministic: hits are listed in scan order (files in the
order given, lines ascending), JSON keys are sorted, paths are the display names
the caller chose (relative paths), and floats are rounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Boilerplate", "FileSummary", "FirewallReport", "GoldenRowResult", "Hit", "STAGES"]

#: Stage names, in the order they run.
STAGES: tuple[str, ...] = ("exact", "contained", "ngram", "near_duplicate")

_DIGITS = 4


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS)


@dataclass(frozen=True)
class Hit:
    """One training field (or row) that touches one golden row.

    ``field`` is the training field path (``messages[1].content``), or ``""`` for a
    whole-row match (exact whole-row and near-duplicate stages). A contained hit names
    the field where the golden question was found. ``coverage`` (n-gram
    stage) is the fraction of the golden row's distinct n-grams found in this
    field; ``jaccard`` (near-duplicate stage) is the verified word-shingle Jaccard
    similarity. ``snippet`` is a short normalised excerpt of the matched text.
    """

    file: str
    line: int
    field: str
    golden_line: int
    stage: str
    snippet: str
    coverage: float | None = None
    jaccard: float | None = None
    golden_file: str | None = None  # the golden member's file, when the golden set is a list of sources

    def location(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where} {self.field}" if self.field else f"{where} (whole row)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "coverage": _round(self.coverage),
            "field": self.field,
            "file": self.file,
            "golden_line": self.golden_line,
            **({"golden_file": self.golden_file} if self.golden_file is not None else {}),
            "jaccard": _round(self.jaccard),
            "line": self.line,
            "snippet": self.snippet,
            "stage": self.stage,
        }


@dataclass(frozen=True)
class GoldenRowResult:
    """A contaminated golden row: how many hits it has, by which stages, and how much
    of it (fraction of its distinct n-grams) appears anywhere in the training data."""

    line: int
    hit_count: int
    stages: tuple[str, ...]
    ngrams_total: int
    ngrams_covered: int
    hits: tuple[Hit, ...]  # the first few, capped by settings.max_hits_per_golden_row
    file: str | None = None  # the golden member's file, when the golden set is a list of sources

    @property
    def coverage(self) -> float:
        return self.ngrams_covered / self.ngrams_total if self.ngrams_total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "coverage": _round(self.coverage),
            **({"file": self.file} if self.file is not None else {}),
            "hit_count": self.hit_count,
            "hits": [hit.to_dict() for hit in self.hits],
            "line": self.line,
            "ngrams_covered": self.ngrams_covered,
            "ngrams_total": self.ngrams_total,
            "stages": list(self.stages),
        }


@dataclass(frozen=True)
class FileSummary:
    """Per-file scan counts: rows read, bytes read, rows with at least one hit, hits."""

    name: str
    role: str
    rows: int
    bytes: int
    rows_flagged: int
    hits: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "bytes": self.bytes,
            "hits": self.hits,
            "name": self.name,
            "role": self.role,
            "rows": self.rows,
            "rows_flagged": self.rows_flagged,
        }


@dataclass(frozen=True)
class Boilerplate:
    """One declared boilerplate text (``eval.firewall.ignore``) and how often it was cut out: in how many
    golden rows and training rows. Reported, never silently dropped, so a reviewer sees what was ignored."""

    text: str
    golden_rows: int
    training_rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"golden_rows": self.golden_rows, "text": self.text, "training_rows": self.training_rows}


@dataclass(frozen=True)
class FirewallReport:
    """Everything a scan found. ``passed`` applies the settings' threshold to the
    fraction of contaminated golden rows, and fails when declared boilerplate left a
    golden row with no text to check (``boilerplate_only``: such a row cannot be firewalled)."""

    golden_file: str
    golden_rows: int
    threshold: float
    stages: tuple[str, ...]
    settings: dict[str, Any]
    files: tuple[FileSummary, ...]
    contaminated: tuple[GoldenRowResult, ...]  # golden rows with any hit, by golden line
    hits_by_stage: dict[str, int]
    listed_hits: tuple[Hit, ...]  # the first hits in scan order, capped by settings.max_hits_listed
    boilerplate: tuple[Boilerplate, ...] = ()
    boilerplate_only: tuple[int, ...] = ()  # golden lines whose every word was declared boilerplate
    golden_members: tuple[tuple[str, int], ...] = ()
    """(file, rows) of each member when the golden set is a list of sources (``golden_file`` joins their names)."""
    boilerplate_only_files: tuple[str, ...] = ()  # the member file of each ``boilerplate_only`` line (a list)

    def golden_where(self, line: int, file: str | None = None) -> str:
        """``file:line`` of a golden row: its member's file when the golden set is a list, else the golden file."""
        return f"{file or self.golden_file}:{line}"

    def boilerplate_only_where(self) -> list[str]:
        files = self.boilerplate_only_files or (None,) * len(self.boilerplate_only)
        return [self.golden_where(line, file) for line, file in zip(self.boilerplate_only, files)]

    @property
    def contaminated_rows(self) -> int:
        return len(self.contaminated)

    @property
    def contaminated_fraction(self) -> float:
        return self.contaminated_rows / self.golden_rows if self.golden_rows else 0.0

    @property
    def total_hits(self) -> int:
        return sum(self.hits_by_stage.values())

    @property
    def training_rows(self) -> int:
        return sum(summary.rows for summary in self.files)

    @property
    def passed(self) -> bool:
        return self.contaminated_fraction <= self.threshold and not self.boilerplate_only

    def to_dict(self) -> dict[str, Any]:
        return {
            "boilerplate": {"ignored": [entry.to_dict() for entry in self.boilerplate],
                            "golden_rows_entirely_boilerplate": list(self.boilerplate_only),
                            **({"golden_files_entirely_boilerplate": list(self.boilerplate_only_files)}
                               if self.boilerplate_only_files else {})},
            "contaminated": [row.to_dict() for row in self.contaminated],
            "files": [summary.to_dict() for summary in self.files],
            "golden": {"file": self.golden_file, "rows": self.golden_rows,
                       **({"members": [{"file": f, "rows": n} for f, n in self.golden_members]}
                          if self.golden_members else {})},
            "hits": [hit.to_dict() for hit in self.listed_hits],
            "passed": self.passed,
            "settings": self.settings,
            "stages": list(self.stages),
            "summary": {
                "contaminated_fraction": _round(self.contaminated_fraction),
                "contaminated_rows": self.contaminated_rows,
                "golden_rows": self.golden_rows,
                "hits_by_stage": dict(sorted(self.hits_by_stage.items())),
                "hits_listed": len(self.listed_hits),
                "threshold": self.threshold,
                "total_hits": self.total_hits,
                "training_rows": self.training_rows,
            },
        }

    def to_json(self) -> str:
        """Deterministic JSON (sorted keys, two-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    def boilerplate_lines(self) -> list[str]:
        """What declared boilerplate was cut out, and which golden rows it emptied (text output)."""
        lines = [f"  boilerplate ignored: \"{entry.text}\" in {entry.golden_rows} golden rows and "
                 f"{entry.training_rows} training rows" for entry in self.boilerplate]
        if self.boilerplate_only:
            lines.append(
                f"  golden rows that are entirely declared boilerplate (cannot be checked; FAILED): "
                f"{', '.join(self.boilerplate_only_where())}; remove them "
                f"from the golden set or narrow eval.firewall.ignore"
            )
        return lines

    def render_text(self, max_rows: int = 20) -> str:
        """A human summary: verdict, per-file counts, and the worst golden rows with example hits."""
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            f"golden-set firewall: {verdict} ({', '.join(self.stages)})",
            f"  golden set {self.golden_file}: {self.contaminated_rows}/{self.golden_rows} rows contaminated "
            f"({self.contaminated_fraction:.2%}; allowed {self.threshold:.2%})",
            f"  training rows scanned: {self.training_rows}; hits: {self.total_hits} "
            + "(" + ", ".join(f"{stage} {self.hits_by_stage.get(stage, 0)}" for stage in self.stages) + ")",
        ]
        for summary in self.files:
            lines.append(
                f"  - {summary.name} [{summary.role}]: {summary.rows} rows, "
                f"{summary.rows_flagged} flagged, {summary.hits} hits"
            )
        lines.extend(self.boilerplate_lines())
        worst = sorted(self.contaminated, key=lambda row: (-row.hit_count, row.line))[:max_rows]
        for row in worst:
            lines.append(
                f"  golden {self.golden_where(row.line, row.file)}: {row.hit_count} hits "
                f"[{', '.join(row.stages)}], n-gram coverage {row.coverage:.0%}"
            )
            for hit in row.hits:
                score = ""
                if hit.coverage is not None:
                    score = f" coverage {hit.coverage:.0%}"
                elif hit.jaccard is not None:
                    score = f" jaccard {hit.jaccard:.2f}"
                lines.append(f"      {hit.stage:<14} {hit.location()}{score}: \"{hit.snippet}\"")
            if row.hit_count > len(row.hits):
                lines.append(f"      ... and {row.hit_count - len(row.hits)} more")
        if len(self.contaminated) > len(worst):
            lines.append(f"  ... and {len(self.contaminated) - len(worst)} more contaminated golden rows")
        return "\n".join(lines) + "\n"

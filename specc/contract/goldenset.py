"""A golden set given as a list of sources (``data.golden: [source, ...]``), read by the firewall as one set.

Why a module of its own: the scan (:func:`specc.contract.firewall.scan`) indexes one golden input and reports
golden rows by line. With several members, lines collide (``golden_a.jsonl:7`` and ``golden_b.jsonl:7``), so
:class:`GoldenUnion` (a :class:`specc.contract.rowunion.RowUnion`, the merge the suite-overlap scan uses too) hands
the index the members' rows in spec order, each under a unique ordinal, and :func:`relocate` puts every ordinal
back as its member's own ``file:line`` in the report. The index and the row matcher stay as they are: one golden
set, whatever its number of files. A one-source golden set goes through :func:`scan` untouched, so its report is
byte for byte what it always was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from specc.contract.report import FirewallReport
from specc.contract.rowunion import RowUnion
from specc.contract.settings import InputFile

__all__ = ["GoldenUnion", "golden_input", "relocate", "scan_golden"]


class GoldenUnion(RowUnion):
    """The members of a golden list read as one golden set (:class:`RowUnion`), named as the report names it."""

    role = "golden"

    def __init__(self, members: Sequence[Any]):
        super().__init__(members)
        self.name = ", ".join(m.name for m in self.members)


def golden_input(entry: dict[str, Any] | list[dict[str, Any]]) -> InputFile | GoldenUnion:
    """The golden set of a stage CONFIG (one entry, or a list's member entries) as the firewall reads it."""
    if isinstance(entry, list):
        return GoldenUnion([InputFile.from_entry(e, role="golden") for e in entry])
    return InputFile.from_entry(entry, role="golden")


def relocate(report: FirewallReport, union: GoldenUnion) -> FirewallReport:
    """``report`` of a scan over ``union`` with every golden row named by its member's file and line."""

    def where(ordinal: int) -> tuple[str, int]:
        number, line = union.origin(ordinal)
        return union.members[number].name, line

    def hit(h: Any) -> Any:
        file, line = where(h.golden_line)
        return dataclasses.replace(h, golden_line=line, golden_file=file)

    rows = tuple(dataclasses.replace(r, line=where(r.line)[1], file=where(r.line)[0],
                                     hits=tuple(hit(h) for h in r.hits)) for r in report.contaminated)
    return dataclasses.replace(
        report,
        contaminated=rows,
        listed_hits=tuple(hit(h) for h in report.listed_hits),
        boilerplate_only=tuple(where(n)[1] for n in report.boilerplate_only),
        boilerplate_only_files=tuple(where(n)[0] for n in report.boilerplate_only),
        golden_members=tuple((m.name, n) for m, n in zip(union.members, union.counts)),
    )


def scan_golden(golden: InputFile | GoldenUnion, training: Sequence[InputFile], settings: Any = None,
                **kwargs: Any) -> FirewallReport:
    """:func:`specc.contract.firewall.scan` for a golden set of one source or of several (:class:`GoldenUnion`)."""
    from specc.contract.firewall import scan

    report = scan(golden, training, settings, **kwargs)  # type: ignore[arg-type]
    return relocate(report, golden) if isinstance(golden, GoldenUnion) else report

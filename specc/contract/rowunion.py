"""Several row sources read as one input, each merged row traceable to its own source and line.

Why a module of its own: the index the scans build (:func:`specc.contract.index.build_golden_index`) reads one
input's ``rows()``, yet two readers hand it several sources: a golden set given as a list of files
(:mod:`specc.contract.goldenset`) and the general suites of the suite-overlap scan
(:mod:`specc.contract.suiteoverlap`). Both must name a hit by its own source's ``file:line``, never by a merged
number, and two members' line 7 must not collide. :class:`RowUnion` does the merge once for both: it numbers the
members' rows 1, 2, ... across members (the ordinal the index records as a row's line) and keeps, per ordinal,
which member the row came from and its line there (:attr:`RowUnion.where`, :meth:`RowUnion.origin`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["RowUnion"]


class RowUnion:
    """The rows of every member, in member order.

    A member is anything with a ``name`` and a ``rows()`` yielding ``(name, line, row)`` (an
    :class:`specc.contract.settings.InputFile`, a :class:`specc.contract.suiteoverlap.SuiteRows`), read through
    its own loader, so its own errors name its own file. ``rows()`` yields ``(member name, ordinal, row)``;
    after a read, ``where[ordinal - 1]`` is ``(member number, the member's own line)`` and ``counts`` the rows
    read per member. Each read starts both afresh.
    """

    def __init__(self, members: Sequence[Any]):
        self.members = list(members)
        self.where: list[tuple[int, int]] = []  # ordinal - 1 -> (member number, its line)
        self.counts: list[int] = [0] * len(self.members)  # rows read, per member

    def rows(self) -> Iterator[tuple[str, int, Any]]:
        self.where.clear()
        self.counts = [0] * len(self.members)
        for number, member in enumerate(self.members):
            for _name, line, row in member.rows():
                self.where.append((number, line))
                self.counts[number] += 1
                yield member.name, len(self.where), row

    def origin(self, ordinal: int) -> tuple[int, int]:
        """``(member number, the member's own line)`` of the merged row numbered ``ordinal``."""
        return self.where[ordinal - 1]

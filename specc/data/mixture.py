"""How many rows each member of a data mixture contributes: one pure function, shared by the planner (the
plan shows rows and tokens per member) and the runtime loader (which draws exactly those rows).

Semantics, in order, per member: ``fraction`` keeps that share of its rows and ``max_rows`` caps them (the
rows kept are a seeded shuffle of the member, so the choice is deterministic given the seed). Then, when
members carry a ``weight``, the mixture keeps its total size (the sum of the kept rows) and gives each
member ``weight / sum(weights)`` of it: a member asked for more rows than it kept repeats them (upsampling),
one asked for fewer uses the first of its shuffled rows. Without weights each member contributes what it kept.

Replay (``data.replay``) is one more member whose count follows from the task rows: ``ratio`` is its share of
the final mix, so N task rows take ``round(N × ratio / (1 − ratio))`` replay rows (:func:`replay_rows`),
drawn the same way (seeded shuffle, repeated when the source has fewer).
Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MixtureError", "kept_rows", "member_counts", "replay_rows"]


class MixtureError(ValueError):
    """A mixture that cannot be drawn (weights summing to zero, a member left empty); names the member
    (``member``: its index, None when the whole mixture is at fault)."""

    def __init__(self, message: str, member: int | None = None) -> None:
        super().__init__(message)
        self.member = member


def kept_rows(rows: int, max_rows: int | None, fraction: float | None) -> int:
    """Rows a member keeps from its ``rows`` after ``fraction`` and ``max_rows``."""
    kept = rows if fraction is None else int(rows * fraction)
    return kept if max_rows is None else min(kept, max_rows)


def member_counts(rows: Sequence[int], weights: Sequence[float | None], max_rows: Sequence[int | None],
                  fractions: Sequence[float | None]) -> list[int]:
    """Rows each member contributes to the mixture (see the module's semantics)."""
    kept = [kept_rows(n, m, f) for n, m, f in zip(rows, max_rows, fractions)]
    for i, k in enumerate(kept):
        if k <= 0:
            raise MixtureError(f"member {i}: no rows left after fraction/max_rows (it has {rows[i]} rows)", i)
    given = [w for w in weights if w is not None]
    if not given:
        return kept
    if len(given) != len(weights):
        raise MixtureError("give a weight to every member of the mixture, or to none")
    total_weight = float(sum(given))
    if total_weight <= 0:
        raise MixtureError("the weights of the mixture sum to zero")
    total = sum(kept)
    counts = [int(total * float(w) / total_weight) for w in given]
    for i in range(total - sum(counts)):  # hand out the rounding remainder, largest weight first, stably
        counts[sorted(range(len(given)), key=lambda j: (-float(given[j]), j))[i % len(given)]] += 1
    return counts


def replay_rows(task_rows: int, ratio: float) -> int:
    """Replay rows mixed into ``task_rows`` task rows so that they are ``ratio`` of the final mix (at least one).

    Rounded half up (not Python's round-half-even), so planner and stage agree on every input."""
    if task_rows <= 0:
        return 0
    exact = task_rows * float(ratio) / (1.0 - float(ratio))
    return max(1, int(exact + 0.5))

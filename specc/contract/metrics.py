"""One rule for "does this score meet the bar": the planner judges evidence with it, the gate judges the tuned model.

Why one module: the direction of a metric (perplexity: lower is better) used to be decided twice — by the metric's
name in the planner and by a ``higher_is_better`` flag in the gate — and two answers to one question drift.
Stdlib only: light commands and the emitted eval stage both import it.
"""

from __future__ import annotations

__all__ = ["LOWER_IS_BETTER", "higher_is_better", "meets_bar"]

LOWER_IS_BETTER = frozenset({"perplexity", "nll", "loss"})
"""Target metrics and suite kinds where a smaller number is the better model."""


def higher_is_better(metric: str) -> bool:
    """Direction of a target metric or suite kind by its name (``perplexity`` → False)."""
    return metric not in LOWER_IS_BETTER


def meets_bar(score: float | None, bar: float | None, higher_is_better: bool = True) -> bool | None:
    """Whether ``score`` reaches ``bar`` in the metric's direction; None when either is unknown."""
    if score is None or bar is None:
        return None
    return score >= bar if higher_is_better else score <= bar

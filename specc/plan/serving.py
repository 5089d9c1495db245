"""Serving goals — latency, cost per call, context (prompt) tokens — each compared with its current value.

Why apart from quality: a prompt that meets the quality bar says nothing about whether it answers fast or cheaply
enough, and a latency budget that is already met is no reason to distil. The levers step (:mod:`specc.plan.levers`)
asks this module which serving goals are *unmet* and records every comparison in the trace, so a reviewer sees
``latency: current 1500 ms > budget 400 ms`` next to ``prompting 0.90 ≥ bar 0.85``.
"""

from __future__ import annotations

from dataclasses import dataclass

from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["ServingGoal", "serving_goals", "trace_serving"]


@dataclass(frozen=True)
class ServingGoal:
    """One serving goal: stated how (behaviour, budget, flag), its budget and current value, and the verdict."""

    name: str  # latency | cost | context
    wanted: bool  # named in goal.behaviours (latency, serving_cost)
    budget: float | None
    current: float | None
    unit: str
    flagged: bool = False  # serving.too_costly: the user says it is over budget without numbers

    @property
    def met(self) -> bool | None:
        """True/False when measured against a budget (or flagged), None when it cannot be judged."""
        if self.flagged:
            return False
        if self.budget is None or self.current is None:
            return None
        return self.current <= self.budget

    @property
    def stated(self) -> bool:
        return self.wanted or self.flagged or self.budget is not None or self.current is not None

    @property
    def is_reason(self) -> bool:
        """A reason to change the model: measured over budget, or a wanted behaviour with nothing measured to
        judge it by (taken at its word). A goal measured and met is no reason."""
        return self.met is False or (self.met is None and self.wanted)

    def words(self) -> str:
        """The comparison as a reviewer reads it."""
        label = {"latency": "latency", "cost": "cost per call", "context": "context tokens per call"}[self.name]
        if self.flagged and (self.budget is None or self.current is None):
            return f"{label}: serving.too_costly is true"
        if self.met is None:
            if self.budget is not None:
                return f"{label}: budget {_num(self.budget)}{self.unit}, current value not measured"
            return f"{label}: wanted, no budget or current value given"
        sign = "≤" if self.met else ">"
        return f"{label}: current {_num(self.current)}{self.unit} {sign} budget {_num(self.budget)}{self.unit}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.6g}"


def serving_goals(spec: Spec) -> dict[str, ServingGoal]:
    """The three serving goals of a spec (each present, stated or not)."""
    s, wanted = spec.constraints.serving, set(spec.goal.behaviours)
    return {
        "latency": ServingGoal("latency", "latency" in wanted, s.max_latency_ms, s.current_latency_ms, " ms"),
        "cost": ServingGoal("cost", "serving_cost" in wanted, s.max_cost_per_call, s.current_cost_per_call, "",
                            flagged=s.too_costly),
        "context": ServingGoal("context", False, s.max_context_tokens, s.current_context_tokens, " tokens"),
    }


def trace_serving(goals: dict[str, ServingGoal], t: Trace) -> None:
    """Record every serving comparison: met, unmet, or a budget without a measurement to judge it by."""
    for goal in goals.values():
        if not goal.stated:
            continue
        if goal.met is True:
            t.decide("SERVING-GOAL-MET", goal.words() + ".")
        elif goal.met is False:
            t.decide("SERVING-GOAL-UNMET", goal.words() + ".")
        elif goal.budget is not None:
            field = {"latency": "current_latency_ms", "cost": "current_cost_per_call",
                     "context": "current_context_tokens"}[goal.name]
            t.find("SERVING-GOAL-UNMEASURED", goal.words(),
                   f"measure the current solution and set constraints.serving.{field}, so the plan can tell "
                   "whether the budget is met")

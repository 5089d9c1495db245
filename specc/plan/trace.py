"""The plan's trace: every decision and finding, each tied to a documented rule (:mod:`specc.plan.rules`).

Why a class of its own: every planning step (levers, method, licences, budget, contract, launch) records what it
decided through the same three verbs, so a reviewer reads one ordered list and `specc explain RULE` resolves each id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.plan.model import Finding, RuleFiring
from specc.plan.rules import RULES_BY_ID

__all__ = ["Trace"]


@dataclass
class Trace:
    """Collects decisions, findings and recommendations in the order the planner makes them."""

    decisions: list[RuleFiring] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)

    def decide(self, rule_id: str, reason: str, verdict: str | None = None) -> None:
        rule = RULES_BY_ID[rule_id]
        self.decisions.append(
            RuleFiring(rule=rule_id, topic=rule.topic, verdict=verdict or rule.verdict, reason=reason)
        )

    def find(self, rule_id: str, message: str, hint: str = "", level: str | None = None) -> None:
        rule = RULES_BY_ID[rule_id]
        chosen = level or (rule.output if rule.output != "decision" else "info")
        self.findings.append(Finding(level=chosen, rule=rule_id, message=message, hint=hint))  # type: ignore[arg-type]

    def recommend(self, text: str) -> None:
        if text not in self.recommendations:
            self.recommendations.append(text)

    def fired(self, rule_id: str) -> bool:
        return any(d.rule == rule_id for d in self.decisions) or any(f.rule == rule_id for f in self.findings)


"""What changes in the plan when the spec (or its data) changes, and why: the unit of code review.

A spec diff in a pull request says what the author typed; a *plan* diff says what that means: a new
lever, another method, QLoRA instead of LoRA, a learning rate, a stage, a finding — and, for each,
which guide rules started or stopped firing. Reviewers approve decisions, not YAML.

Comparison is structural (field by field, stages by id, findings by rule and message) so the output
is deterministic and independent of list order where order carries no meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specc.plan.model import Plan
from specc.plan.render import md_cell, md_table, value_text

__all__ = ["Change", "PlanDiff", "diff_plans", "render_diff"]


@dataclass(frozen=True)
class Change:
    """One field whose value differs: ``where`` is a dotted path into the plan."""

    where: str
    old: Any
    new: Any


@dataclass
class PlanDiff:
    """Changes between two plans, plus the rules behind them."""

    old_name: str
    new_name: str
    changes: list[Change] = field(default_factory=list)
    rules_started: list[tuple[str, str]] = field(default_factory=list)  # (rule id, what it says now)
    rules_stopped: list[tuple[str, str]] = field(default_factory=list)  # (rule id, what it said before)
    findings_added: list[tuple[str, str, str]] = field(default_factory=list)  # (level, rule, message)
    findings_removed: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.changes or self.rules_started or self.rules_stopped or self.findings_added
                    or self.findings_removed)


def _fired(plan: Plan) -> dict[str, str]:
    """Rule id → what it says in this plan (first decision verdict, else first finding message)."""
    out: dict[str, str] = {}
    for d in plan.decisions:
        out.setdefault(d.rule, d.verdict)
    for f in plan.findings:
        out.setdefault(f.rule, f"{f.level}: {f.message}")
    return out


def _compare(where: str, old: Any, new: Any, out: list[Change]) -> None:
    """Record differences, descending into dicts so each changed key is its own line."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _compare(f"{where}.{key}", old.get(key), new.get(key), out)
    elif old != new:
        out.append(Change(where, old, new))


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """Compare two plans: decisions, hyper-parameters, contract, data locks, estimate, stages, findings."""
    d = PlanDiff(old.name, new.name)
    ch = d.changes
    for key in ("name", "levers", "trains", "method", "distillation", "parameter_budget"):
        _compare(key, getattr(old, key), getattr(new, key), ch)
    _compare("hyperparameters", old.hyperparameters, new.hyperparameters, ch)
    o_models = {m.role: m.model_dump(mode="json") for m in old.models}
    n_models = {m.role: m.model_dump(mode="json") for m in new.models}
    _compare("models", o_models, n_models, ch)
    o_data = {f"{x.role}:{x.name}": {"path": x.path, "format": x.format, "exists": x.exists, "rows": x.rows,
                                     "sha256": x.sha256, **({"source": x.source} if x.source else {}),
                                     **({"licence": x.licence} if x.licence else {}),
                                     **({"mix": x.mix} if x.mix else {})}
              for x in old.data}
    n_data = {f"{x.role}:{x.name}": {"path": x.path, "format": x.format, "exists": x.exists, "rows": x.rows,
                                     "sha256": x.sha256, **({"source": x.source} if x.source else {}),
                                     **({"licence": x.licence} if x.licence else {}),
                                     **({"mix": x.mix} if x.mix else {})}
              for x in new.data}
    _compare("data", o_data, n_data, ch)
    _compare("contract", old.contract.model_dump(mode="json") if old.contract else None,
             new.contract.model_dump(mode="json") if new.contract else None, ch)
    _compare("estimate", _estimate_view(old), _estimate_view(new), ch)
    _compare("launch", old.launch.model_dump(mode="json") if old.launch else None,
             new.launch.model_dump(mode="json") if new.launch else None, ch)
    _compare_stages(old, new, ch)
    _compare("tracking.group", old.tracking.group if old.tracking else None,
             new.tracking.group if new.tracking else None, ch)

    before, after = _fired(old), _fired(new)
    d.rules_started = [(r, after[r]) for r in after if r not in before]
    d.rules_stopped = [(r, before[r]) for r in before if r not in after]
    o_find = [(f.level, f.rule, f.message) for f in old.findings]
    n_find = [(f.level, f.rule, f.message) for f in new.findings]
    d.findings_added = [f for f in n_find if f not in o_find]
    d.findings_removed = [f for f in o_find if f not in n_find]
    return d


def _estimate_view(plan: Plan) -> dict[str, Any] | None:
    e = plan.estimate
    if e is None:
        return None
    view: dict[str, Any] = {"train_tokens": e.train_tokens, "optimizer_steps": e.optimizer_steps,
                            "gpu_hours": e.gpu_hours}
    for row in e.memory:
        view[f"memory_{row.budget}"] = {"per_device_gb": row.per_device_gb, "fits": row.fits}
    return view


def _compare_stages(old: Plan, new: Plan, ch: list[Change]) -> None:
    o = {s.id: s for s in old.stages}
    n = {s.id: s for s in new.stages}
    if [s.id for s in old.stages] != [s.id for s in new.stages]:
        ch.append(Change("stages", [s.id for s in old.stages], [s.id for s in new.stages]))
    for sid in [s.id for s in new.stages]:
        if sid in o:
            _compare(f"stages.{sid}", o[sid].model_dump(mode="json"), n[sid].model_dump(mode="json"), ch)


# ---------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------


def render_diff(d: PlanDiff, fmt: str = "text") -> str:
    if fmt == "markdown":
        return _markdown(d)
    if fmt == "text":
        return _text(d)
    raise ValueError(f"unknown format {fmt!r}; choose text or markdown")


def _short(value: Any, limit: int = 160) -> str:
    text = value_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(d: PlanDiff) -> str:
    out = [f"Plan diff: {d.old_name} → {d.new_name}"]
    out += [f"note: {n}" for n in d.notes]
    if d.empty:
        return "\n".join(out + ["No changes to the plan."]) + "\n"
    if d.changes:
        out += ["", "What changes:"]
        out += [f"  {c.where}: {_short(c.old)} → {_short(c.new)}" for c in d.changes]
    if d.rules_started or d.rules_stopped:
        out += ["", "Why (rules):"]
        out += [f"  + {r}: {what}" for r, what in d.rules_started]
        out += [f"  - {r}: {what}" for r, what in d.rules_stopped]
    if d.findings_added or d.findings_removed:
        out += ["", "Findings:"]
        out += [f"  + {lvl} {r}: {msg}" for lvl, r, msg in d.findings_added]
        out += [f"  - {lvl} {r}: {msg}" for lvl, r, msg in d.findings_removed]
    return "\n".join(out) + "\n"


def _markdown(d: PlanDiff) -> str:
    out = [f"## specc plan diff: `{d.old_name}` → `{d.new_name}`", ""]
    out += [f"> {n}" for n in d.notes] + ([""] if d.notes else [])
    if d.empty:
        return "\n".join(out + ["No changes to the plan.", ""])
    if d.changes:
        out += ["### What changes", ""]
        out += md_table(["where", "before", "after"], [[f"`{c.where}`", _short(c.old), _short(c.new)]
                                                       for c in d.changes])
        out.append("")
    if d.rules_started or d.rules_stopped:
        out += ["### Why: rules that start or stop firing", ""]
        out += md_table(["", "rule", "says"], [["+", f"`{r}`", w] for r, w in d.rules_started]
                        + [["−", f"`{r}`", w] for r, w in d.rules_stopped])
        out.append("")
    if d.findings_added or d.findings_removed:
        out += ["### Findings", ""]
        out += [f"- **new {lvl}** `{r}`: {md_cell(m)}" for lvl, r, m in d.findings_added]
        out += [f"- ~~{lvl} `{r}`: {md_cell(m)}~~ (resolved)" for lvl, r, m in d.findings_removed]
        out.append("")
    return "\n".join(out)

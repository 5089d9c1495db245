"""Plan → text (terminal), Markdown (a pull-request comment) or JSON (tools, ``plan.json``).

Why three renderings of one artifact: an engineer reads the plan in a terminal, a reviewer reads it
in the pull request next to the spec change, and CI or the emitter reads it as data. All three are
deterministic (sorted where order is not meaningful, no clocks, no absolute paths), so the same plan
always renders to the same bytes and renderings can be diffed.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from specc.plan.model import Finding, Plan

__all__ = ["render", "render_text", "render_markdown", "render_json", "FORMATS", "status_line", "value_text"]

FORMATS = ("text", "markdown", "json")
_LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}


def render(plan: Plan, fmt: str = "text") -> str:
    """Render in one of :data:`FORMATS`; raises ValueError for another."""
    renderers: dict[str, Callable[[Plan], str]] = {
        "text": render_text, "markdown": render_markdown, "json": render_json,
    }
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return renderers[fmt](plan)


def render_json(plan: Plan) -> str:
    """The canonical JSON form (sorted keys): what ``plan.json`` holds."""
    return plan.to_json()


def value_text(value: Any) -> str:
    """A value as a reviewer reads it: JSON for containers (sorted), plain for scalars."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sorted_findings(plan: Plan) -> list[Finding]:
    """Errors first, then warnings, then info; stable within a level (the planner's order)."""
    return sorted(plan.findings, key=lambda f: _LEVEL_ORDER[f.level])


def status_line(plan: Plan) -> str:
    counts = {lvl: sum(1 for f in plan.findings if f.level == lvl) for lvl in ("error", "warning", "info")}
    verdict = "INVALID" if counts["error"] else "OK"
    return f"{verdict}: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)"


def _what(plan: Plan) -> str:
    if not plan.trains:
        return "no training (the plan stops at " + " + ".join(plan.levers) + ")"
    parts = [f"method {plan.method}"]
    if plan.distillation:
        parts.append(f"{plan.distillation}-level")
    parts.append(f"budget {plan.parameter_budget or 'undecided'}")
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------------


def render_text(plan: Plan) -> str:
    out: list[str] = [f"Plan {plan.name}  (spec {plan.spec_file}, sha256 {plan.spec_sha256[:12] or '—'})"]
    if plan.summary:
        out.append(f"Goal: {plan.summary}")
    out.append(f"Behaviours: {', '.join(plan.behaviours)}")
    out.append(f"Levers: {' → '.join(plan.levers)}")
    out.append(f"Decision: {_what(plan)}")
    out.append(status_line(plan))
    if plan.findings:
        out += ["", "Findings:"]
        for f in _sorted_findings(plan):
            out.append(f"  {f.level:<7} {f.rule}: {f.message}")
            if f.hint:
                out.append(f"          hint: {f.hint}")
    out += ["", "Decisions (rule → verdict: reason):"]
    for d in plan.decisions:
        out.append(f"  {d.rule} → {d.verdict}: {d.reason}")
    if plan.recommendations:
        out += ["", "Recommendations:"] + [f"  - {r}" for r in plan.recommendations]
    out += ["", "Models:"]
    for m in plan.models:
        size = f"{m.parameters:,} params ({m.parameters_source})" if m.parameters else "size unknown"
        out.append(f"  {m.role}: {m.ref} [{m.source}] {size}; licence {m.licence or 'unknown'}"
                   + (f" — {m.licence_verdict}" if m.licence_verdict else ""))
    if plan.data:
        out += ["", "Data:"]
        for d in plan.data:
            lock = f"{d.rows} rows, sha256 {d.sha256[:12]}" if d.exists and d.sha256 else "MISSING"
            if d.exists and d.source and d.source.get("kind") == "hub":  # locked by commit, rows by the firewall
                lock = f"{d.rows} rows, commit {str(d.source.get('revision'))[:12]}"
            if d.exists and d.source and d.source.get("kind") == "held_out":  # no file: a seeded share of another
                lock = f"{d.rows} rows held out by a seeded split (locked with the data they come from)"
            if d.mix and d.role == "replay":  # data.replay: its share of the SFT stage's rows
                lock += (f"; replay: ratio {d.mix['ratio']:g}, {d.mix['rows_used']} rows used beside "
                         f"{d.mix['task_rows']} task rows, ≈{d.mix['tokens']} tokens")
            elif d.mix:
                share = f"weight {d.mix['weight']}, " if d.mix.get("weight") is not None else ""
                lock += f"; mixture: {share}{d.mix['rows_used']} rows used, ≈{d.mix['tokens']} tokens"
            if d.licence:  # as the spec declares it, or as the Hub dataset card states it
                lock += f"; licence {d.licence} ({'spec' if d.licence_source == 'spec' else 'dataset card'})"
            out.append(f"  {d.name}: {d.path} ({d.format}) {lock}")
    if plan.estimate is not None:
        e = plan.estimate
        out += ["", "Estimate:"]
        for row in e.memory:
            out.append(f"  {row.budget:<5} {row.per_device_gb:>8.2f} GB/device  {'fits' if row.fits else 'does not fit'}")
        out.append(f"  tokens {value_text(e.train_tokens)}, optimizer steps {value_text(e.optimizer_steps)}, "
                   f"GPU-hours {value_text(e.gpu_hours)}")
        out += [f"  note: {n}" for n in e.notes]
    if plan.forgetting is not None:
        fr = plan.forgetting
        out += ["", f"Forgetting risk: {fr.level} ({fr.trainable_parameters:,} trainable parameters × "
                f"{fr.optimizer_steps:,} steps × narrowness {fr.narrowness:g} = {fr.exposure:.2g})"]
        out += [f"  advice: {a}" for a in fr.advice]
    if plan.hyperparameters:
        out += ["", "Hyperparameters:"]
        out += [f"  {k} = {value_text(v)}" for k, v in sorted(plan.hyperparameters.items())]
    if plan.contract is not None:
        c = plan.contract
        out += ["", "Eval contract:",
                f"  metric {c.metric}, bar {value_text(c.bar)}; golden "
                + (", ".join(f"{g.path} (sha256 {(g.sha256 or '')[:12]})" for g in _golden(c)) or "none"),
                f"  suites: {', '.join(s.name for s in c.suites) or 'none'}; forgetting budget abs "
                f"{value_text(c.max_abs_drop)}, rel {value_text(c.max_rel_drop)}",
                f"  firewall: {value_text(c.firewall)}"]
    if plan.stages:
        out += ["", "Stages:"]
        for i, s in enumerate(plan.stages, 1):
            out.append(f"  {i}. {s.id} ({s.kind}, {s.launcher}) needs {', '.join(s.needs) or '—'}: {s.title}")
    if plan.tracking is not None:
        tr = plan.tracking
        out += ["", f"Tracking: {tr.backend} project {tr.project}, group {tr.group}, mode {tr.mode}"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------


def md_cell(value: Any) -> str:
    """A table cell: pipes escaped, newlines flattened, so a value never breaks the table."""
    return value_text(value).replace("|", "\\|").replace("\n", " ")


def md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return lines


_ICON = {"error": "❌ error", "warning": "⚠️ warning", "info": "ℹ️ info"}


def render_markdown(plan: Plan) -> str:
    out: list[str] = [f"## specc plan: `{plan.name}`", ""]
    if plan.summary:
        out += [f"> {plan.summary}", ""]
    out += [f"**{status_line(plan)}**", "",
            f"- **Levers:** {' → '.join(plan.levers)}",
            f"- **Decision:** {_what(plan)}",
            f"- **Behaviours:** {', '.join(plan.behaviours)}",
            f"- **Spec:** `{plan.spec_file}` (sha256 `{plan.spec_sha256[:12] or '—'}`)", ""]
    if plan.findings:
        out += ["### Findings", ""]
        out += md_table(["level", "rule", "message", "hint"],
                        [[_ICON[f.level], f"`{f.rule}`", f.message, f.hint or "—"] for f in _sorted_findings(plan)])
        out.append("")
    out += ["### Decisions", ""]
    out += md_table(["rule", "topic", "verdict", "why"],
                    [[f"`{d.rule}`", d.topic, d.verdict, d.reason] for d in plan.decisions])
    out.append("")
    if plan.recommendations:
        out += ["### Recommendations", ""] + [f"- {r}" for r in plan.recommendations] + [""]
    out += ["### Models", ""]
    out += md_table(["role", "model", "parameters", "licence", "licence verdict"],
                    [[m.role, f"`{m.ref}`", f"{m.parameters:,} ({m.parameters_source})" if m.parameters else "unknown",
                      m.licence or "unknown", m.licence_verdict or "—"] for m in plan.models])
    out.append("")
    if plan.data:
        out += ["### Data", ""]
        out += md_table(["name", "path", "format", "rows", "sha256"],
                        [[d.name, f"`{d.path}`", d.format, d.rows if d.exists else "MISSING",
                          f"`{d.sha256[:12]}`" if d.sha256 else
                          (f"commit `{str(d.source.get('revision'))[:12]}`" if d.source and d.source.get("kind") == "hub"
                           else "—")] for d in plan.data])
        out.append("")
    if plan.contract is not None:
        c = plan.contract
        out += ["### Eval contract", "",
                f"- **Target:** {c.metric}, bar {value_text(c.bar)} on "
                + (", ".join(f"`{g.path}` (sha256 `{(g.sha256 or '')[:12]}`)" for g in _golden(c))
                   or "**no golden set**"),
                f"- **Forgetting budget:** abs {value_text(c.max_abs_drop)}, rel {value_text(c.max_rel_drop)} on "
                + (", ".join(f"`{s.name}`" for s in c.suites) or "**no general suite**"),
                f"- **Firewall:** `{value_text(c.firewall)}`",
                f"- **Personal data:** {c.personal_data.get('action', 'warn')}"
                + (f" ({c.personal_data['reason']})" if c.personal_data.get("reason") else ""), ""]
    if plan.forgetting is not None:
        fr = plan.forgetting
        out += [f"**Forgetting risk:** {fr.level} — {fr.trainable_parameters:,} trainable parameters × "
                f"{fr.optimizer_steps:,} steps × narrowness {fr.narrowness:g} ({fr.narrowness_reason})", ""]
        out += [f"- {a}" for a in fr.advice] + ([""] if fr.advice else [])
    if plan.estimate is not None:
        e = plan.estimate
        out += ["<details><summary>Estimate (memory per budget, compute)</summary>", ""]
        out += md_table(["budget", "GB per device", "fits", "why"],
                        [[r.budget, f"{r.per_device_gb:.2f}", "yes" if r.fits else "no", r.note] for r in e.memory])
        out += ["", f"Tokens {value_text(e.train_tokens)} · optimizer steps {value_text(e.optimizer_steps)} · "
                f"GPU-hours {value_text(e.gpu_hours)}", ""]
        out += [f"- {n}" for n in e.notes]
        out += ["", "</details>", ""]
    if plan.hyperparameters:
        out += ["<details><summary>Hyperparameters</summary>", ""]
        out += md_table(["key", "value"], [[f"`{k}`", v] for k, v in sorted(plan.hyperparameters.items())])
        out += ["", "</details>", ""]
    if plan.stages:
        out += ["<details><summary>Stages</summary>", ""]
        out += md_table(["#", "stage", "kind", "launcher", "needs", "title"],
                        [[i, f"`{s.id}`", s.kind, s.launcher, ", ".join(s.needs) or "—", s.title]
                         for i, s in enumerate(plan.stages, 1)])
        out += ["", "</details>", ""]
    if plan.tracking is not None:
        tr = plan.tracking
        out += [f"Tracking: {tr.backend} project `{tr.project}`, group `{tr.group}`", ""]
    return "\n".join(out)


def _golden(contract) -> list:
    """The golden set's facts: none, one, or each member of a golden set given as a list."""
    golden = contract.golden
    return [] if golden is None else golden if isinstance(golden, list) else [golden]

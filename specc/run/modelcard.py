"""The model card of a build: README.md in the Hub's model-card format (YAML front matter + Markdown),
rendered from ``plan.json`` and the eval stage's results, so a published model says how it was made.

Why from the plan and not from the trainer: TRL's and PEFT's own cards list framework versions; a reviewer
of an adapted model needs the decisions and their rules, the data it was trained on (locked by hash and rows),
the base model and its licence, the intended use, and the eval contract's before/after table and gate verdict.
Deterministic (no dates, no absolute paths, no tokens): the same plan and results give the same bytes.
Stdlib only: the eval and push stages call it, and so can a light command.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["render_card", "CARD_FILE"]

CARD_FILE = "README.md"

_LICENCE_ID = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")


def _q(value: Any) -> str:
    """A YAML scalar: JSON strings are valid YAML, and no spec text can break out of its line."""
    return json.dumps(value, ensure_ascii=False)


def _cell(value: Any) -> str:
    text = "—" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _num(value: Any) -> str:
    return "—" if not isinstance(value, (int, float)) else f"{value:.4g}"


def _front_matter(plan: dict[str, Any], artifact: str) -> list[str]:
    base = next((m for m in plan.get("models", []) if m.get("role") == "base"), {})
    licence = str(base.get("licence") or "").lower()
    lines = ["---", f"license: {_q(licence if _LICENCE_ID.match(licence) else 'other')}"]
    if base.get("source") == "hub":
        lines.append(f"base_model: {_q(base['ref'])}")
    lines.append(f"library_name: {_q('peft' if artifact == 'adapter' else 'transformers')}")
    tags = ["specc", str(plan.get("method")), str(plan.get("parameter_budget") or "")]
    lines.append("tags:")
    lines += [f"- {_q(tag)}" for tag in tags if tag]
    hub = sorted({str(d["source"]["hub"]) for d in plan.get("data", [])
                  if (d.get("source") or {}).get("kind") == "hub" and (d.get("source") or {}).get("hub")})
    if hub:
        lines.append("datasets:")
        lines += [f"- {_q(h)}" for h in hub]
    lines.append("---")
    return lines


def _evaluation(plan: dict[str, Any], results: dict[str, Any] | None) -> list[str]:
    contract = plan.get("contract") or {}
    out = ["## Evaluation (the eval contract)", ""]
    verdict = (results or {}).get("verdict")
    if not verdict:
        out.append("**Not evaluated yet**: the eval stage has not produced a verdict for this model. The numbers "
                   "below appear once it has run.")
        out.append("")
        out.append(f"Contract: target metric `{contract.get('metric')}`, bar {_num(contract.get('bar'))}, "
                   f"forgetting budget max absolute drop {_num(contract.get('max_abs_drop'))}, max relative drop "
                   f"{_num(contract.get('max_rel_drop'))}.")
        return out
    target = verdict.get("target") or {}
    out.append(f"**Forgetting gate: {'PASSED' if verdict.get('passed') else 'FAILED'}**")
    out += ["", "| measure | before (base) | after (tuned) | bar / status |", "|---|---:|---:|---|",
            f"| target `{_cell(target.get('metric'))}` on the golden set | {_num(target.get('baseline_score'))} | "
            f"{_num(target.get('score'))} | bar {_num(target.get('bar'))}: "
            f"{'pass' if target.get('passed') else 'fail'} |"]
    for m in ((results or {}).get("target") or {}).get("members") or []:  # a golden set given as a list
        out.append(f"| golden member `{_cell(m.get('name'))}` ({_num(m.get('rows'))} rows) | "
                   f"{_num(m.get('baseline_score'))} | {_num(m.get('score'))} | part of the target above |")
    for s in verdict.get("suites") or []:
        out.append(f"| suite `{_cell(s.get('suite'))}` | {_num(s.get('baseline'))} | {_num(s.get('tuned'))} | "
                   f"{_cell(s.get('status'))} |")
    reasons = [r for r in verdict.get("reasons") or [] if r]
    if reasons or target.get("reason"):
        out.append("")
        out += [f"- {_cell(r)}" for r in [target.get("reason"), *reasons] if r]
    return out


def render_card(document: dict[str, Any], results: dict[str, Any] | None, *, artifact: str = "model") -> str:
    """The README.md of one output folder. ``document``: plan.json (``{"plan", "lock"}``); ``results``:
    results/eval.json (None before the eval stage); ``artifact``: adapter or model."""
    plan = document.get("plan") or document
    lock = document.get("lock") or {}
    base = next((m for m in plan.get("models", []) if m.get("role") == "base"), {})
    outputs = plan.get("outputs") or {}
    lines = _front_matter(plan, artifact)
    what = "LoRA adapter" if artifact == "adapter" else "model"
    lines += ["", f"# {plan.get('name')}", "", _cell(plan.get("summary")), "",
              f"A {what} made by [specc](https://pypi.org/project/specc/) from a reviewed spec "
              f"(`{plan.get('spec_file')}`, sha256 `{plan.get('spec_sha256') or '—'}`; plan `{lock.get('plan_hash') or '—'}`): "
              f"method **{plan.get('method')}**, parameter budget **{plan.get('parameter_budget')}**.", ""]
    lines += ["## Intended use", "",
              (f"Stated in the spec: **{outputs['intended_use']}**." if outputs.get("intended_use") else
               "Not stated in the spec (goal.intended_use)."),
              f"Behaviours taught: {', '.join(plan.get('behaviours') or []) or '—'}.", ""]
    lines += ["## Base model", "", "| model | source | revision | licence | licence verdict |", "|---|---|---|---|---|",
              f"| {_cell(base.get('ref'))} | {_cell(base.get('source'))} | {_cell(base.get('revision'))} | "
              f"{_cell(base.get('licence'))} | {_cell(base.get('licence_verdict'))} |", ""]
    lines += ["## Decisions", "", "| rule | decision | why |", "|---|---|---|"]
    lines += [f"| `{_cell(d.get('rule'))}` | {_cell(d.get('verdict'))} | {_cell(d.get('reason'))} |"
              for d in plan.get("decisions") or []]
    lines += ["", "## Training data (the data lock)", "", "| role | source | revision / sha256 | rows |",
              "|---|---|---|---|"]
    for d in lock.get("data") or []:
        source = d.get("source") or {}
        pin = source.get("revision") if source.get("kind") == "hub" else d.get("sha256")
        lines.append(f"| {_cell(d.get('role'))} | {_cell(d.get('path'))} | {_cell(pin)} | {_cell(d.get('rows'))} |")
    hp, sources = plan.get("hyperparameters") or {}, plan.get("hyperparameter_sources") or {}
    lines += ["", "## Training settings", "", "| setting | value | from |", "|---|---|---|"]
    for key in sorted(k for k in hp if k in sources):
        lines.append(f"| {key} | {_cell(json.dumps(hp[key], sort_keys=True))} | {_cell(sources[key])} |")
    lines += [""] + _evaluation(plan, results) + [""]
    return "\n".join(lines)

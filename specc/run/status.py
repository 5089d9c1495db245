"""``specc status``: where a build stands and what it achieved, as text, Markdown or JSON.

Why separate from the runner: status is read in places the run did not happen (a reviewer's checkout,
a CI summary step), so it only reads files - ``plan.json``, ``run_manifest.json`` and the eval stage's
``results/baseline.json`` / ``results/eval.json`` - and is tolerant of any of them being absent or
from another specc version. Standard library + :mod:`specc.contract.gate` (itself stdlib-only).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from specc.build.reader import PLAN_FILE, BuildReadError, read_document
from specc.run.manifest import MANIFEST_NAME

ICONS = {"completed": "✅", "failed": "❌", "gated": "⛔", "running": "⏳", "interrupted": "⚠️", "pending": "·"}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _damage(path: Path, doc: Any) -> str | None:
    """Why a file that exists could not be read as a JSON object (None when it is fine or absent)."""
    if not path.exists():
        return None
    if not isinstance(doc, dict):
        return f"{path.name} is damaged (not a readable JSON object)"
    return None


def collect(build_dir: str | Path) -> dict[str, Any]:
    """Everything ``specc status`` shows, as one JSON-ready dict.

    ``problems`` lists files that exist but cannot be read; a damaged ``plan.json`` makes the state
    ``damaged`` (never "nothing to run": the stages are unknown, not absent).
    """
    build = Path(build_dir)
    try:  # the one reader of plan.json (specc.build.reader); a damaged file is reported, not guessed at
        raw_plan: Any = read_document(build / PLAN_FILE)
    except BuildReadError:
        raw_plan = None
    raw_manifest = _read_json(build / MANIFEST_NAME)
    problems = [p for p in (_damage(build / "plan.json", raw_plan), _damage(build / MANIFEST_NAME, raw_manifest)) if p]
    doc = raw_plan if isinstance(raw_plan, dict) else {}
    plan = doc.get("plan", doc) if isinstance(doc.get("plan", doc), dict) else {}
    if plan and not isinstance(plan.get("stages", []), list):
        problems.insert(0, "plan.json is damaged (`stages` is not a list)")
        plan = {}
    manifest = raw_manifest if isinstance(raw_manifest, dict) else {}
    records = manifest.get("stages") if isinstance(manifest.get("stages"), dict) else {}
    stages = []
    for st in plan.get("stages") or []:
        if not isinstance(st, dict):
            continue
        rec = records.get(st.get("id"), {})
        rec = rec if isinstance(rec, dict) else {}
        stages.append({"id": st.get("id"), "kind": st.get("kind"), "title": st.get("title", ""),
                       "status": rec.get("status", "pending"), "started_at": rec.get("started_at"),
                       "ended_at": rec.get("ended_at"), "duration_s": rec.get("duration_s"),
                       "exit_code": rec.get("exit_code"), "attempts": rec.get("attempts", 0),
                       "note": rec.get("note", ""), "log": rec.get("log")})
    baseline = _read_json(build / "results" / "baseline.json")
    evaluation = _read_json(build / "results" / "eval.json")
    results = summarize_results(baseline, evaluation, plan.get("contract") or {})
    state = "damaged" if any(p.startswith("plan.json") for p in problems) else overall_state(stages, results)
    tracking = plan.get("tracking") if isinstance(plan.get("tracking"), dict) else {}
    return {"build": str(build), "name": plan.get("name"), "method": plan.get("method"),
            "group": tracking.get("group"), "stages": stages, "results": results,
            "state": state, "problems": problems}


def overall_state(stages: list[dict[str, Any]], results: dict[str, Any] | None) -> str:
    statuses = [s["status"] for s in stages]
    if not stages:
        return "nothing to run"
    for bad in ("running", "failed", "gated", "interrupted"):
        if bad in statuses:
            return bad
    if all(s == "completed" for s in statuses):
        if results and results.get("passed") is False:
            return "completed: gate failed"
        return "completed"
    return "in progress" if "completed" in statuses else "not started"


def _verdict(evaluation: Any) -> dict[str, Any] | None:
    """The forgetting gate's verdict dict (specc.contract.gate.GateVerdict.to_dict) inside eval.json."""
    if not isinstance(evaluation, dict):
        return None
    for key in ("gate", "verdict"):
        if isinstance(evaluation.get(key), dict) and "passed" in evaluation[key]:
            return evaluation[key]
    return evaluation if "passed" in evaluation and "target" in evaluation else None


def _scores(doc: Any) -> dict[str, dict[str, Any]]:
    """{suite: result dict} from a results file, whether suites are a mapping or a list."""
    if not isinstance(doc, dict):
        return {}
    suites = doc.get("suites") or {}
    if isinstance(suites, list):
        return {s.get("name"): s for s in suites if isinstance(s, dict) and s.get("name")}
    return {k: v for k, v in suites.items() if isinstance(v, dict)}


def summarize_results(baseline: Any, evaluation: Any, contract: dict[str, Any]) -> dict[str, Any] | None:
    """Target before/after vs bar and each general suite against baseline and budget."""
    if baseline is None and evaluation is None:
        return None
    verdict = _verdict(evaluation)
    members = _members(baseline, evaluation)
    if verdict is not None:
        t = verdict.get("target") or {}
        return {"passed": verdict.get("passed"),
                "target": {"metric": t.get("metric"), "before": t.get("baseline_score"), "after": t.get("score"),
                           "bar": t.get("bar"), "passed": t.get("passed"), **members},
                "suites": [{"suite": s.get("suite"), "baseline": s.get("baseline"), "after": s.get("tuned"),
                            "drop": s.get("drop"), "rel_drop": s.get("rel_drop"), "status": s.get("status")}
                           for s in verdict.get("suites") or []],
                "budget": verdict.get("budget") or {}, "reasons": verdict.get("reasons") or []}
    base, after = _scores(baseline), _scores(evaluation)
    return {"passed": evaluation.get("passed") if isinstance(evaluation, dict) else None,
            "target": {"metric": contract.get("metric"), "before": _target(baseline), "after": _target(evaluation),
                       "bar": contract.get("bar"), "passed": None, **members},
            "suites": [{"suite": n, "baseline": (base.get(n) or {}).get("score"),
                        "after": (after.get(n) or {}).get("score"), "drop": None, "rel_drop": None,
                        "status": "not judged yet"} for n in sorted(set(base) | set(after))],
            "budget": {k: contract.get(k) for k in ("max_abs_drop", "max_rel_drop") if contract.get(k) is not None},
            "reasons": []}


def _target_members(doc: Any) -> dict[str, dict[str, Any]]:
    """{member name: its result} of a results file's target (a golden set given as a list), in its order."""
    t = doc.get("target") if isinstance(doc, dict) else None
    members = t.get("members") if isinstance(t, dict) else None
    if not isinstance(members, list):
        return {}
    return {str(m["name"]): m for m in members if isinstance(m, dict) and m.get("name") is not None}


def _members(baseline: Any, evaluation: Any) -> dict[str, Any]:
    """``{"members": [...]}``: each golden member's rows and target score before and after (the gate judges the
    union; these show where it moved), or ``{}`` for a one-source golden set, whose status keeps its keys."""
    before, after = _target_members(baseline), _target_members(evaluation)
    names = list(after) + [n for n in before if n not in after]
    if not names:
        return {}
    return {"members": [{"name": n, "rows": (after.get(n) or before.get(n) or {}).get("rows"),
                         "before": (before.get(n) or {}).get("score"), "after": (after.get(n) or {}).get("score")}
                        for n in names]}


def _target(doc: Any) -> float | None:
    if not isinstance(doc, dict):
        return None
    t = doc.get("target")
    if isinstance(t, dict):
        return t.get("score")
    return t if isinstance(t, (int, float)) else None


def _f(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.4g}" if isinstance(x, (int, float)) else str(x)


def _dur(s: Any) -> str:
    return "" if s is None else f"{float(s):.1f}s"


def render_text(info: dict[str, Any]) -> str:
    out = [f"build {info['build']}: {info['name'] or '?'} ({info['method'] or '?'}) - {info['state']}"]
    if info.get("group"):
        out.append(f"W&B group: {info['group']}")
    for problem in info.get("problems") or []:
        out.append(f"  problem: {problem}; recompile (plan.json) or rerun `specc run` (manifest)")
    for s in info["stages"]:
        extra = f"  {s['note']}" if s["note"] and s["status"] != "completed" else ""
        out.append(f"  {s['id']:<14} {s['status']:<12} {_dur(s['duration_s']):>8}  "
                   f"{s['started_at'] or ''}{extra}")
    r = info.get("results")
    if r:
        t = r["target"]
        verdict = {True: "PASS", False: "FAIL", None: "not judged"}[r.get("passed")]
        out.append(f"results: {verdict}")
        out.append(f"  target {t['metric']}: {_f(t['before'])} -> {_f(t['after'])} (bar {_f(t['bar'])})")
        for m in t.get("members") or []:  # the union above is what the bar judges; each golden member under it
            out.append(f"    {m['name']} ({_f(m['rows'])} rows): {_f(m['before'])} -> {_f(m['after'])}")
        for s in r["suites"]:
            out.append(f"  {s['suite']:<14} {_f(s['baseline'])} -> {_f(s['after'])}  drop {_f(s['drop'])}  "
                       f"[{s['status']}]")
        if r.get("budget"):
            out.append("  budget: " + ", ".join(f"{k}={_f(v)}" for k, v in sorted(r["budget"].items())))
    return "\n".join(out) + "\n"


def render_markdown(info: dict[str, Any]) -> str:
    out = [f"## specc build `{info['name'] or '?'}` - {info['state']}", ""]
    out += [f"> problem: {problem}" for problem in info.get("problems") or []]
    out += [""] if info.get("problems") else []
    if info.get("group"):
        out += [f"W&B group: `{info['group']}`", ""]
    out += ["| stage | status | duration | started | note |", "|---|---|---:|---|---|"]
    for s in info["stages"]:
        out.append(f"| {s['id']} | {ICONS.get(s['status'], '')} {s['status']} | {_dur(s['duration_s'])} | "
                   f"{s['started_at'] or ''} | {s['note'] if s['status'] != 'completed' else ''} |")
    r = info.get("results")
    if r:
        t = r["target"]
        verdict = {True: "✅ pass", False: "❌ fail", None: "not judged"}[r.get("passed")]
        out += ["", f"### Results: {verdict}", "",
                f"**Target** `{t['metric']}`: {_f(t['before'])} → {_f(t['after'])} (bar {_f(t['bar'])})", "",
                *[f"- golden member `{m['name']}` ({_f(m['rows'])} rows): {_f(m['before'])} → {_f(m['after'])}"
                  for m in t.get("members") or []], *([""] if t.get("members") else []),
                "| suite | baseline | after | drop | status |", "|---|---:|---:|---:|---|"]
        for s in r["suites"]:
            out.append(f"| {s['suite']} | {_f(s['baseline'])} | {_f(s['after'])} | {_f(s['drop'])} | {s['status']} |")
        if r.get("budget"):
            out += ["", "Budget: " + ", ".join(f"{k} = {_f(v)}" for k, v in sorted(r["budget"].items()))]
        out += [f"- {reason}" for reason in r.get("reasons") or []]
    return "\n".join(out) + "\n"


def render(build_dir: str | Path, fmt: str = "text", info: dict[str, Any] | None = None) -> str:
    info = info if info is not None else collect(build_dir)
    if fmt == "json":
        return json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return render_markdown(info) if fmt == "markdown" else render_text(info)

"""The forgetting gate: did the tune hit its target without breaking the model's general abilities?

The eval contract promises that every tune is followed by a general-capability regression check. This
module turns two sets of suite results (baseline = the base model, tuned = after training) plus the
target metric and the forgetting budget into one verdict with reasons a reviewer can read.

It is pure and stdlib-only on purpose: the CLI renders verdicts in code review and CI, where the
training stack is absent, and the same inputs must always give the same verdict and the same text.

Noise: a suite of 80 rows has a standard error of several points, so a small drop may be chance.
A drop that breaks the budget but lies within ``noise_z`` (default 2) combined standard errors is
reported as "within noise" and does not fail the gate; the reasons say so, so a reviewer can decide
to enlarge the suite. Set ``noise_z`` to 0 in the budget to make every over-budget drop fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from specc.contract.metrics import meets_bar

DEFAULT_NOISE_Z = 2.0


@dataclass(frozen=True)
class SuiteCheck:
    """One general suite, baseline vs tuned. ``drop`` is positive when the tuned model is worse,
    whatever the suite's direction (for NLL/perplexity an increase is a drop)."""

    suite: str
    baseline: float
    tuned: float
    higher_is_better: bool
    drop: float
    rel_drop: float
    noise: float
    over_budget: bool
    within_noise: bool
    status: str  # "ok" | "noise" | "regressed" | "missing"
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in sorted(self.__dict__.items())}


@dataclass(frozen=True)
class TargetCheck:
    metric: str
    bar: float | None
    score: float | None
    baseline_score: float | None
    higher_is_better: bool
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in sorted(self.__dict__.items())}


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    target: TargetCheck
    suites: tuple[SuiteCheck, ...]
    reasons: tuple[str, ...]
    budget: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "target": self.target.to_dict(),
                "suites": [s.to_dict() for s in self.suites], "reasons": list(self.reasons),
                "budget": dict(sorted(self.budget.items()))}

    def render_text(self) -> str:
        lines = [f"forgetting gate: {'PASS' if self.passed else 'FAIL'}",
                 f"  target {self.target.metric}: {self.target.reason}"]
        for s in self.suites:
            lines.append(f"  [{s.status:>9}] {s.suite}: {s.reason}")
        return "\n".join(lines) + "\n"

    def render_markdown(self) -> str:
        out = [f"### Forgetting gate: {'✅ pass' if self.passed else '❌ fail'}", "",
               f"**Target** `{self.target.metric}`: {self.target.reason}", "",
               "| suite | baseline | tuned | drop | rel. drop | 2×SE | status |",
               "|---|---:|---:|---:|---:|---:|---|"]
        for s in self.suites:
            out.append(f"| {s.suite} | {_fmt(s.baseline)} | {_fmt(s.tuned)} | {_fmt(s.drop)} | "
                       f"{_pct(s.rel_drop)} | {_fmt(s.noise)} | {s.status} |")
        out += ["", *(f"- {r}" for r in self.reasons)]
        return "\n".join(out) + "\n"


def _clean(v: Any) -> Any:
    """JSON has no NaN/inf: write them as None (missing) so artifacts stay valid JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(d: Mapping[str, Any], key: str, default: float | None = None) -> float | None:
    v = d.get(key, default)
    return None if v is None else float(v)


def _check_suite(name: str, base: Mapping[str, Any], tuned: Mapping[str, Any] | None,
                 max_abs: float | None, max_rel: float | None, z: float) -> SuiteCheck:
    hib = bool(base.get("higher_is_better", True))
    b = float(base["score"])
    if tuned is None or tuned.get("score") is None:
        return SuiteCheck(name, b, math.nan, hib, math.nan, math.nan, math.nan, True, False, "missing",
                          "not evaluated after tuning: every baseline suite must be re-run")
    t = float(tuned["score"])
    drop = (b - t) if hib else (t - b)
    rel = drop / abs(b) if b != 0 else (math.inf if drop > 0 else 0.0)
    noise = z * math.hypot(_num(base, "stderr", 0.0) or 0.0, _num(tuned, "stderr", 0.0) or 0.0)
    breaches = []
    if max_abs is not None and drop > max_abs:
        breaches.append(f"abs drop {drop:.4g} > budget {max_abs:.4g}")
    if max_rel is not None and rel > max_rel:
        breaches.append(f"rel drop {_pct(rel)} > budget {_pct(max_rel)}")
    within_noise = drop <= noise
    direction = "higher is better" if hib else "lower is better"
    head = f"{_fmt(b)} -> {_fmt(t)} ({direction}; drop {drop:+.4g}, {_pct(rel)})"
    if not breaches:
        return SuiteCheck(name, b, t, hib, drop, rel, noise, False, within_noise, "ok", f"{head}: within budget")
    if within_noise and noise > 0:
        return SuiteCheck(name, b, t, hib, drop, rel, noise, True, True, "noise",
                          f"{head}: {'; '.join(breaches)}, but within noise ({z:g}x combined SE = "
                          f"{noise:.4g}); not counted as forgetting - a larger suite would tell")
    return SuiteCheck(name, b, t, hib, drop, rel, noise, True, False, "regressed",
                      f"{head}: {'; '.join(breaches)}, beyond noise ({z:g}x combined SE = {noise:.4g})")


def _check_target(target: Mapping[str, Any]) -> TargetCheck:
    metric = str(target.get("metric", "target"))
    hib = bool(target.get("higher_is_better", True))
    score = _num(target, "score")
    base = _num(target, "baseline_score")
    since = f" (baseline {_fmt(base)})" if base is not None else ""
    if target.get("bar") is None:
        # A spec may leave the bar unset (only forgetting is gated); the score is still reported.
        return TargetCheck(metric, None, score, base, hib, True, f"{_fmt(score)}{since}: no bar set, reported only")
    bar = float(target["bar"])
    if score is None:
        return TargetCheck(metric, bar, None, base, hib, False, f"no score reported; bar {_fmt(bar)}")
    ok = bool(meets_bar(score, bar, hib))
    cmp = (">=" if ok else "<") if hib else ("<=" if ok else ">")
    verdict = "bar met" if ok else "bar missed"
    return TargetCheck(metric, bar, score, base, hib, ok, f"{_fmt(score)} {cmp} bar {_fmt(bar)}{since}: {verdict}")


def judge(baseline: Mapping[str, Mapping[str, Any]], tuned: Mapping[str, Mapping[str, Any]],
          target: Mapping[str, Any], budget: Mapping[str, Any]) -> GateVerdict:
    """Judge a tuned model against its baseline.

    ``baseline``/``tuned``: suite name -> ``{"score", "stderr", "higher_is_better"}`` (extra keys,
    e.g. a full SuiteResult dict, are ignored). ``target``: ``{"metric", "bar", "score",
    "baseline_score"?, "higher_is_better"?}``. ``budget``: ``{"max_abs_drop"?, "max_rel_drop"?,
    "noise_z"?}`` with relative drops as fractions (0.05 = 5%).

    Passes when the target bar is met and no suite regressed beyond budget and noise.
    """
    max_abs, max_rel = _num(budget, "max_abs_drop"), _num(budget, "max_rel_drop")
    z = _num(budget, "noise_z", DEFAULT_NOISE_Z)
    target_check = _check_target(target)
    checks = tuple(_check_suite(name, baseline[name], tuned.get(name), max_abs, max_rel, z or 0.0)
                   for name in sorted(baseline))
    reasons = []
    if not target_check.passed:
        reasons.append(f"target {target_check.metric}: {target_check.reason}")
    for c in checks:
        if c.status in ("regressed", "missing"):
            reasons.append(f"{c.suite}: {c.reason}")
    passed = not reasons
    for c in checks:
        if c.status == "noise":
            reasons.append(f"{c.suite} (not failing): {c.reason}")
    for name in sorted(set(tuned) - set(baseline)):
        reasons.append(f"{name}: evaluated after tuning but has no baseline; not judged")
    if passed:
        reasons.insert(0, f"target {target_check.metric}: {target_check.reason}; "
                          f"{sum(c.status == 'ok' for c in checks)}/{len(checks)} suites within budget")
    budget_out = {k: float(v) for k, v in (("max_abs_drop", max_abs), ("max_rel_drop", max_rel),
                                           ("noise_z", z)) if v is not None}
    return GateVerdict(passed, target_check, checks, tuple(reasons), budget_out)

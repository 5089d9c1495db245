"""What ``specc report`` shows, read from build directories only (stdlib; no plotting here).

Why separate from the drawing: the numbers a chart shows (means, spreads, the forgetting budget line)
must be testable without matplotlib, and the same reading serves one build or a comparison of several.
Builds compiled from the same spec name (for example one spec run under several seeds) form one *arm*;
an arm's numbers are the mean over its builds with the sample standard deviation as the spread.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specc.run.progress import parse_line
from specc.run.status import collect

TRAINING_KINDS = ("sft", "dpo", "reward", "rl", "distill_logit")


@dataclass
class BuildData:
    """One build: its plan's name, seed and decisions, the gate's results and each training stage's losses."""

    path: Path
    name: str
    method: str
    budget: str
    seed: int | None
    hyperparameters: dict[str, Any]
    decisions: list[dict[str, Any]]
    recommendations: list[str]
    results: dict[str, Any] | None
    losses: dict[str, list[tuple[int, float]]]
    state: str


@dataclass
class Stat:
    """Mean and sample standard deviation (0 for one value) of one number over an arm's builds."""

    mean: float | None
    spread: float
    values: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, values: list[float | None]) -> Stat:
        vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not vals:
            return cls(None, 0.0, [])
        return cls(statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0, vals)

    def text(self, digits: int = 3) -> str:
        if self.mean is None:
            return "n/a"
        if len(self.values) < 2:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.spread:.{digits}f}"


@dataclass
class SuiteStat:
    """One general suite in one arm: before/after over seeds, and the lowest (or highest) score the budget allows."""

    name: str
    higher_is_better: bool
    before: Stat
    after: Stat
    limit: float | None
    regressed: int
    runs: int


@dataclass
class MemberStat:
    """One member of a golden set given as a list, in one arm: its rows and its target score before/after over
    seeds. The bar judges the union (the arm's target); a member shows where the union's move came from."""

    name: str
    rows: int | None
    before: Stat
    after: Stat


@dataclass
class Arm:
    """The builds of one spec name, summarised."""

    name: str
    label: str
    builds: list[BuildData]
    target_before: Stat
    target_after: Stat
    bar: float | None
    metric: str
    suites: list[SuiteStat]
    passed: int
    bar_met: int
    members: list[MemberStat] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.builds)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_losses(log_path: Path) -> list[tuple[int, float]]:
    """(step, loss) pairs of the last attempt recorded in a stage log (the runner appends attempts)."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    points: list[tuple[int, float]] = []
    for line in text.splitlines():
        if line.startswith("### specc run:"):
            points = []
            continue
        event = parse_line(line)
        if not event or event.get("event") != "progress":
            continue
        loss, step = event.get("loss"), event.get("step")
        if isinstance(loss, (int, float)) and isinstance(step, int) and math.isfinite(loss):
            points.append((step, float(loss)))
    return points


def read_build(path: str | Path) -> BuildData:
    """Everything the report needs from one build directory; missing pieces stay empty."""
    build = Path(path)
    doc = _read_json(build / "plan.json") or {}
    plan = doc.get("plan", doc) if isinstance(doc, dict) else {}
    info = collect(build)
    losses = {}
    for stage in plan.get("stages") or []:
        if stage.get("kind") in TRAINING_KINDS:
            points = read_losses(build / "logs" / f"{stage.get('id')}.log")
            if points:
                losses[str(stage.get("id"))] = points
    hp = plan.get("hyperparameters") or {}
    return BuildData(path=build, name=str(plan.get("name") or build.name), method=str(plan.get("method") or ""),
                     budget=str(plan.get("parameter_budget") or ""), seed=hp.get("seed"), hyperparameters=hp,
                     decisions=list(plan.get("decisions") or []),
                     recommendations=list(plan.get("recommendations") or []),
                     results=info.get("results"), losses=losses, state=str(info.get("state")))


def _allowed_drop(baseline: float, budget: dict[str, Any]) -> float | None:
    """The largest drop the gate's budget allows from ``baseline`` (both the absolute and relative caps hold)."""
    caps = []
    if budget.get("max_abs_drop") is not None:
        caps.append(float(budget["max_abs_drop"]))
    if budget.get("max_rel_drop") is not None:
        caps.append(float(budget["max_rel_drop"]) * abs(baseline))
    return min(caps) if caps else None


def summarise_arm(name: str, builds: list[BuildData], label: str | None = None) -> Arm:
    results = [b.results or {} for b in builds]
    targets = [r.get("target") or {} for r in results]
    suite_names: list[str] = []
    for r in results:
        for s in r.get("suites") or []:
            if s.get("suite") not in suite_names:
                suite_names.append(s.get("suite"))
    suites = []
    for sname in suite_names:
        rows = [next((s for s in r.get("suites") or [] if s.get("suite") == sname), {}) for r in results]
        before, after = Stat.of([x.get("baseline") for x in rows]), Stat.of([x.get("after") for x in rows])
        hib = True
        for r, x in zip(results, rows):  # a perplexity-like suite "drops" by rising
            if x.get("drop") is not None and x.get("baseline") is not None and x.get("after") is not None:
                hib = math.isclose(x["drop"], x["baseline"] - x["after"], abs_tol=1e-9)
                break
        budget = next((r.get("budget") for r in results if r.get("budget")), {}) or {}
        allowed = _allowed_drop(before.mean, budget) if before.mean is not None else None
        limit = None if allowed is None else (before.mean - allowed if hib else before.mean + allowed)
        suites.append(SuiteStat(sname, hib, before, after, limit,
                                sum(x.get("status") == "regressed" for x in rows), len(rows)))
    bar = next((t.get("bar") for t in targets if t.get("bar") is not None), None)
    metric = next((t.get("metric") for t in targets if t.get("metric")), "target")
    return Arm(name=name, label=label or name, builds=builds,
               target_before=Stat.of([t.get("before") for t in targets]),
               target_after=Stat.of([t.get("after") for t in targets]), bar=bar, metric=str(metric),
               suites=suites, passed=sum(r.get("passed") is True for r in results),
               bar_met=sum(t.get("passed") is True for t in targets), members=_member_stats(targets))


def _member_stats(targets: list[dict[str, Any]]) -> list[MemberStat]:
    """Each golden member (by name, in first-seen order) over the arm's builds; none for a one-source golden set."""
    names: list[str] = []
    for t in targets:
        names += [m["name"] for m in t.get("members") or [] if m.get("name") not in names]
    out = []
    for name in names:
        rows = [next((m for m in t.get("members") or [] if m.get("name") == name), {}) for t in targets]
        out.append(MemberStat(name, next((m.get("rows") for m in rows if m.get("rows") is not None), None),
                              Stat.of([m.get("before") for m in rows]), Stat.of([m.get("after") for m in rows])))
    return out


def read_arms(paths: list[str | Path], labels: dict[str, str] | None = None) -> list[Arm]:
    """Group builds by plan name, in the order first given, and summarise each group."""
    groups: dict[str, list[BuildData]] = {}
    for p in paths:
        b = read_build(p)
        groups.setdefault(b.name, []).append(b)
    return [summarise_arm(n, sorted(bs, key=lambda b: (b.seed is None, b.seed or 0, str(b.path))),
                          (labels or {}).get(n)) for n, bs in groups.items()]

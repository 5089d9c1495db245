"""`specc demo`: the whole mission on a laptop CPU, with no GPU and no model hub.

What a newcomer sees, in order:

1. the built-in tiny base model is built (or taken from the cache) and its general abilities are scored;
2. every example spec is planned: some stop at prompting or retrieval, the closed-API distillation is
   rejected, the rest fine-tune, each with the rule that decided it;
3. one fine-tune runs end to end through the eval contract (firewall → baseline → LoRA SFT → eval);
4. the same narrow task is tuned with full fine-tuning, and the forgetting of both sides is shown side by
   side (the seed's claim that LoRA forgets less, in miniature).

The demo works on a copy of the example specs inside its work directory, so the repository is never
modified. Heavy work happens in subprocesses (the runner) or in :mod:`specc.runtime` (the tiny model).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Echo = Callable[[str], None]

LORA_SPEC = "sft-lora-tiny"
FULL_SPEC = "full-finetune-tiny"
QUICK_SUITE_ROWS = 16
"""Rows per general suite in the reduced demo (CI): enough to exercise every suite kind, cheap to score."""


@dataclass
class PipelineOutcome:
    name: str
    build: Path
    exit_code: int
    seconds: float
    info: dict[str, Any]


def prepare_workdir(specs_src: Path, workdir: Path, model_dir: Path, quick_steps: int | None) -> Path:
    """Copy the example specs and their data into ``workdir/specs`` and point ``models/tiny-base`` at the model.

    ``quick_steps`` (the reduced demo CI runs) caps every training stage's optimiser steps and scores only
    the first rows of each general suite.
    """
    dest = workdir / "specs"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(specs_src, dest, ignore=shutil.ignore_patterns("models"))
    models = dest / "models"
    models.mkdir(exist_ok=True)
    (models / "tiny-base").symlink_to(model_dir.resolve(), target_is_directory=True)
    if quick_steps is not None:
        for path in dest.glob("*.yaml"):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if data.get("base_model", {}).get("path") == "models/tiny-base":
                data.setdefault("method", {})["max_steps"] = quick_steps
                for suite in data.get("data", {}).get("general_suites", []):
                    suite.setdefault("limit", QUICK_SUITE_ROWS)
                path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dest


def plan_examples(specs: Path, echo: Echo) -> list[Any]:
    """Plan every example spec and print one line each: what was decided, or why it was rejected."""
    from specc.spec.errors import SpecInvalid
    from specc.plan.planner import plan_spec_file

    plans = []
    width = max(len(p.stem) for p in specs.glob("*.yaml"))
    for path in sorted(specs.glob("*.yaml")):
        try:
            plan = plan_spec_file(path)
        except SpecInvalid as exc:  # pragma: no cover - the examples are validated by the test suite
            echo(f"  {path.stem:<{width}}  INVALID: {exc.errors[0].render()}")
            continue
        plans.append(plan)
        echo(f"  {path.stem:<{width}}  {_one_line(plan)}")
    return plans


def _one_line(plan: Any) -> str:
    levers = " → ".join(plan.levers)
    errors = [f for f in plan.findings if f.level == "error"]
    if errors:
        return f"REJECTED [{errors[0].rule}] {errors[0].message}"
    if not plan.trains:
        return f"{levers}: no training — {plan.recommendations[0] if plan.recommendations else 'stop here'}"
    what = plan.method + (f" ({plan.distillation})" if plan.distillation else "")
    budget = f", {plan.parameter_budget}" if plan.parameter_budget else ""
    return f"{levers}: {what}{budget} — {_reason(plan)}"


def _reason(plan: Any) -> str:
    for d in plan.decisions:
        if d.topic in ("method",):
            return f"[{d.rule}] {d.verdict}"
    return plan.decisions[-1].verdict if plan.decisions else ""


def run_pipeline(spec: Path, builds: Path, echo: Echo) -> PipelineOutcome:
    """Compile one spec and run its stages with the real runner (each stage its own process)."""
    from specc.run.runner import compile_spec, run_build
    from specc.run.status import collect

    t0 = time.perf_counter()
    stem = spec.stem
    build = compile_spec(spec, builds / stem)
    echo(f"  compiled {spec.name} → {build}")
    result = run_build(build)
    return PipelineOutcome(stem, build, result.exit_code, time.perf_counter() - t0, collect(build))


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def summarise(plan: Any, outcome: PipelineOutcome, echo: Echo) -> None:
    """What a person wants after a run: what was decided and why, before/after, pass/fail, where things are."""
    echo(f"\nWhat specc decided for {plan.name}, and why:")
    for d in plan.decisions:
        reason = d.reason if len(d.reason) <= 150 else d.reason[:147] + "..."
        echo(f"  [{d.rule}] {d.verdict}: {reason}")
    results = outcome.info.get("results") or {}
    target = results.get("target") or {}
    echo(f"\nTarget ({target.get('metric')} on the golden set; bar {_fmt(target.get('bar'), 2)}): "
         f"{_fmt(target.get('before'))} before → {_fmt(target.get('after'))} after"
         f"  [{'met' if target.get('passed') else 'missed'}]")
    budget = results.get("budget") or {}
    echo(f"General suites (budget: abs drop ≤ {budget.get('max_abs_drop')}, rel drop ≤ {budget.get('max_rel_drop')}):")
    for s in results.get("suites") or []:
        echo(f"  {s.get('suite'):<14} {_fmt(s.get('baseline'))} → {_fmt(s.get('after'))}   {s.get('status')}")
    for reason in results.get("reasons") or []:
        echo(f"  · {reason}")
    verdict = "PASSED" if results.get("passed") else "FAILED"
    echo(f"Eval contract: {verdict} (exit {outcome.exit_code}) in {outcome.seconds:.0f} s")
    echo(f"Build: {outcome.build}   (specc status {outcome.build})")
    wandb_runs = sorted(p.name for p in (outcome.build / "wandb").glob("offline-run-*")) if (outcome.build / "wandb").exists() else []
    echo(f"W&B offline runs: {outcome.build / 'wandb'} ({len(wandb_runs)} runs; `wandb sync` uploads them)")
    adapters = sorted(str(p.parent) for p in outcome.build.glob("artifacts/*/adapter/adapter_config.json"))
    models = sorted(str(p.parent) for p in outcome.build.glob("artifacts/*/model/model.safetensors"))
    if adapters:
        echo(f"Adapter: {adapters[0]}")
    if models:
        echo(f"Merged model: {models[0]}")


def compare(lora: PipelineOutcome, full: PipelineOutcome, echo: Echo) -> None:
    """LoRA vs full fine-tuning on the same narrow task: target gain and forgetting per suite."""
    def rows(o: PipelineOutcome) -> dict[str, dict[str, Any]]:
        return {s["suite"]: s for s in (o.info.get("results") or {}).get("suites") or []}

    lr, fr = rows(lora), rows(full)
    lt = (lora.info.get("results") or {}).get("target") or {}
    ft = (full.info.get("results") or {}).get("target") or {}
    echo("\nThe seed's claim in miniature — same narrow task, LoRA vs full fine-tuning:")
    echo(f"  {'':<14} {'LoRA':>22} {'full':>22}")
    echo(f"  {'target':<14} {_fmt(lt.get('before'))+' → '+_fmt(lt.get('after')):>22} "
         f"{_fmt(ft.get('before'))+' → '+_fmt(ft.get('after')):>22}")
    for name in sorted(set(lr) | set(fr)):
        def cell(r: dict[str, Any] | None) -> str:
            if not r:
                return "n/a"
            return f"{_fmt(r.get('baseline'))} → {_fmt(r.get('after'))}"
        echo(f"  {name:<14} {cell(lr.get(name)):>22} {cell(fr.get(name)):>22}")
    echo(f"  {'gate':<14} {('passed' if (lora.info.get('results') or {}).get('passed') else 'failed'):>22} "
         f"{('passed' if (full.info.get('results') or {}).get('passed') else 'failed'):>22}")
    both = [n for n in sorted(set(lr) & set(fr))
            if lr[n].get("drop") is not None and fr[n].get("drop") is not None]
    less = [n for n in both if lr[n]["drop"] < fr[n]["drop"]]
    more = [n for n in both if lr[n]["drop"] > fr[n]["drop"]]
    if both:
        echo(f"  LoRA forgot less on {len(less)} of {len(both)} suites ({', '.join(less) or 'none'}), "
             f"more on {len(more)} ({', '.join(more) or 'none'}).")
    summary = {"lora": lora.info.get("results"), "full": full.info.get("results")}
    (lora.build.parent / "lora_vs_full.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


def run_demo(specs_src: Path, workdir: Path, *, size: str = "demo", quick_steps: int | None = None,
             echo: Echo = print) -> int:
    """The README's main job. Returns 0 when every pipeline ran to a verdict, 1 when a stage crashed."""
    from specc.demo.tinymodel import ensure_tiny_base

    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    echo(f"[1/4] The built-in tiny base model ({size} size; cached after the first build)")
    t0 = time.perf_counter()
    model_dir = ensure_tiny_base(size=size, progress=lambda msg: echo(f"  {msg}"))
    echo(f"  ready: {model_dir} ({time.perf_counter() - t0:.0f} s)")
    _print_model_card(model_dir, echo)

    specs = prepare_workdir(specs_src, workdir, model_dir, quick_steps)
    echo("\n[2/4] Planning every example spec (adapt last, not first):")
    plans = {p.name: p for p in plan_examples(specs, echo)}

    builds = workdir / "builds"
    echo(f"\n[3/4] Running {LORA_SPEC}: firewall → baseline → LoRA SFT → eval")
    lora = run_pipeline(specs / f"{LORA_SPEC}.yaml", builds, echo)
    lora_plan = next(p for p in plans.values() if p.spec_file == f"{LORA_SPEC}.yaml")
    summarise(lora_plan, lora, echo)

    echo(f"\n[4/4] Running {FULL_SPEC}: the same task with every weight trained")
    full = run_pipeline(specs / f"{FULL_SPEC}.yaml", builds, echo)
    compare(lora, full, echo)
    echo(f"\nDemo finished in {time.perf_counter() - started:.0f} s. Work directory: {workdir}")
    crashed = [o.name for o in (lora, full) if o.exit_code not in (0, 3)]
    if crashed:
        echo(f"stages crashed in: {', '.join(crashed)} (see the logs/ folder of each build)")
        return 1
    return 0


def _print_model_card(model_dir: Path, echo: Echo) -> None:
    card = model_dir / "specc_tiny.json"
    if not card.is_file():
        return
    info = json.loads(card.read_text(encoding="utf-8"))
    recipe = info.get("recipe") or {}
    echo(f"  {info.get('n_parameters', 0):,} parameters, pretrained {recipe.get('steps', '?')} steps "
         f"on the synthetic multi-skill corpus, final loss {_fmt(info.get('final_loss'))}")
    for name, s in sorted((info.get("general_suites") or {}).items()):
        stderr = f" ± {_fmt(s.get('stderr'))}" if s.get("stderr") is not None else ""
        echo(f"  general suite {name:<14} {s.get('metric', s.get('kind', ''))} {_fmt(s.get('score'))}{stderr}")

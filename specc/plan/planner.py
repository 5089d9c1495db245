"""make_plan: apply the adaptation decision guide (:mod:`specc.plan.rules`) to a spec and the facts on disk.

The planner answers, in order, the questions the guide asks — each step in a module of its own — and records each
answer in the :class:`~specc.plan.trace.Trace` as a decision or a finding, always naming the rule:

1. **levers** (:mod:`specc.plan.levers`) — prompting first; retrieval for changing facts or citations; fine-tuning
   for consistent behaviour, skill or latency; distillation for serving cost. A plan may stop before training.
2. **method** (:mod:`specc.plan.method`) — SFT (imitation), DPO (pairs), RLHF (pairs + online sampling),
   distillation (teacher).
3. **licences** (:mod:`specc.plan.licences`) — closed-API models are refused; open licences come from the registry.
4. **parameter budget** (:mod:`specc.plan.budget`) — full / LoRA / QLoRA from the memory estimate.
5. **launch** (:mod:`specc.plan.launch`) and **hyper-parameters** (:mod:`specc.plan.hyperparameters`), each value
   with its source.
6. the **eval contract** and **tracking** (:mod:`specc.plan.contract`), then the **stages**
   (:mod:`specc.plan.stages`), laid out from the Plan alone.

The Plan is the single source of truth: nothing after this function reads the Spec. It is a pure function of the
spec and the facts it reads (data hashes and row counts, local model configs): same inputs, byte-identical plan.
No clocks, no absolute paths, no network.
"""

from __future__ import annotations

from pathlib import Path

from specc import __version__
from specc.plan.budget import choose_budget
from specc.plan.context import check_context_window
from specc.plan.contract import make_contract, make_tracking
from specc.plan.forgetting import assess_forgetting, gate_advice
from specc.plan.adapter_settings import check_adapter_settings
from specc.plan.replay import check_replay, replay_applies
from specc.plan.hyperparameters import resolve_hyperparameters
from specc.plan.reward_functions import resolve_reward_functions
from specc.plan.escape import resolve_trainer_args
from specc.plan.trainer_settings import (check_unused, check_validation, resolve_chat_template,
                                         settle_assistant_only_loss)
from specc.plan.inputs import KnownModel, advise_small_data, know_model, read_data, task_rows
from specc.plan.launch import choose_launch
from specc.plan.levers import choose_levers
from specc.plan.licences import check_licences
from specc.plan.method import choose_method
from specc.plan.outputs import resolve_outputs
from specc.plan.model import ModelInfo, Plan
from specc.plan.safety import check_safety
from specc.plan.stages import build_stages
from specc.plan.teacher import cost_teacher
from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["make_plan", "plan_spec_file"]


def model_info(role: str, m: KnownModel, verdict: str) -> ModelInfo:
    return ModelInfo(role=role, ref=m.ref.ref, source="local" if m.ref.path is not None else "hub",  # type: ignore[arg-type]
                     revision=m.ref.revision, licence=m.licence, licence_verdict=verdict, parameters=m.params,
                     parameters_source=m.params_source, vocab_size=m.vocab_size)


def make_plan(spec: Spec, base_dir: Path | str, spec_file: str = "spec.yaml", spec_sha256: str = "",
              locations: dict | None = None) -> Plan:
    """Decide everything for ``spec``: levers, method, budget, hyper-parameters, contract, stages.

    ``base_dir`` is the spec's directory (data and local model paths resolve against it). ``spec_file``
    (a bare file name) and ``spec_sha256`` are recorded in the plan for the lock; pass the loader's values.
    ``locations`` (the loader's key → (line, column)) lets findings about a spec key say where it is.
    """
    base_dir = Path(base_dir)
    t = Trace()
    data = read_data(spec, base_dir, t)
    base = know_model(spec.base_model, base_dir)
    teacher = know_model(spec.teacher, base_dir) if spec.teacher is not None else None

    lv = choose_levers(spec, t)
    advise_small_data(spec, data, lv.trains, t)
    method, distillation = "none", None
    if lv.trains:
        pref = next((d for d in data if d.role == "preference" and d.exists), None)
        method, distillation = choose_method(spec, lv, base, teacher, t, data, pref.format if pref else None)
    verdicts = check_licences(spec, lv.trains, method, base, teacher, t, data)

    budget, estimate, hp, sources, contract, launch, forgetting = None, None, {}, {}, None, None, None
    check_safety(spec, lv.trains, t)
    if lv.trains:
        hw = spec.constraints.hardware
        if hw.gpus == 0:
            t.decide("HARDWARE-CPU-ONLY", f"gpus is 0: host RAM ({hw.cpu_memory_gb:g} GB) "
                     "is the memory budget; precision resolves to fp32 at run time.")
        loc = (locations or {}).get(("method", "max_seq_length"))
        check_context_window(spec, base, teacher, t, f"{Path(spec_file).name}:{loc[0]}:{loc[1]}" if loc else "")
        chosen = choose_budget(spec, method, distillation, base, teacher, data, t)
        budget, estimate = chosen.budget, chosen.estimate
        estimate = cost_teacher(spec, method, distillation, teacher, data, estimate, t)
        launch = choose_launch(hw, budget, estimate, t)
        hp, sources = resolve_hyperparameters(spec, method, distillation, budget, chosen.checkpointing,
                                              chosen.micro_batch, chosen.accumulation, launch.num_processes)
        check_replay(spec, method, data, t, locations, spec_file)
        applies = replay_applies(method, data)
        replay = {"replay": spec.data.replay.ratio if spec.data.replay is not None and applies else None,
                  "replay_applies": applies, "task_rows": task_rows(data)}
        forgetting = assess_forgetting(
            budget=budget, trainable=_trainable(spec, budget, base), steps=estimate.optimizer_steps if estimate else None,
            epochs=_epochs(spec), behaviours=len(spec.goal.behaviours),
            rows=sum(d.rows or 0 for d in data if d.role in ("train", "preference", "prompts")), t=t, **replay)
        contract = make_contract(spec, data, True, t, gate_advice(forgetting, budget, _epochs(spec), **replay),
                                 method, replay_applies=replay["replay_applies"],
                                 risk_level=forgetting.level if forgetting is not None else None)
        check_validation(spec, data, list(hp.get("learning_rates") or {}), t)
        check_unused(spec, list(hp.get("learning_rates") or {}), t)
        check_adapter_settings(spec, budget, t)
        settle_assistant_only_loss(spec, data, hp, sources, t)
        resolve_chat_template(spec, base_dir, hp, sources, t)
        resolve_reward_functions(spec, base_dir, hp, sources, t)
        resolve_trainer_args(spec, hp, sources, t)

    outputs = resolve_outputs(spec, lv.trains and method != "none", budget, t)
    models = [model_info("base", base, verdicts.get("base", ""))]
    if teacher is not None:
        models.append(model_info("teacher", teacher, verdicts.get("teacher", "")))
    plan = Plan(
        generator=f"specc {__version__}",
        name=spec.name,
        spec_file=Path(spec_file).name,
        spec_sha256=spec_sha256,
        summary=spec.goal.summary,
        behaviours=list(spec.goal.behaviours),
        levers=lv.levers,  # type: ignore[arg-type]
        trains=lv.trains,
        method=method,  # type: ignore[arg-type]
        distillation=distillation,  # type: ignore[arg-type]
        parameter_budget=budget,  # type: ignore[arg-type]
        decisions=t.decisions,
        findings=t.findings,
        recommendations=t.recommendations,
        models=models,
        data=data,
        estimate=estimate,
        forgetting=forgetting,
        hyperparameters=hp,
        hyperparameter_sources=sources,
        launch=launch,
        contract=contract,
        tracking=make_tracking(spec, spec_sha256, data),
        outputs=outputs,
    )
    if plan.trains and plan.ok:
        plan = plan.model_copy(update={"stages": build_stages(plan)})
    return plan


def _epochs(spec: Spec) -> float:
    from specc.plan.defaults import DEFAULT_HYPERPARAMETERS

    return float(spec.method.epochs) if spec.method.epochs is not None else float(DEFAULT_HYPERPARAMETERS["epochs"])


def _trainable(spec: Spec, budget: str | None, base: KnownModel) -> int | None:
    """Parameters the tune moves: all of them for full, the adapters' for LoRA/QLoRA (estimator's count)."""
    if budget is None or base.facts is None:
        return None
    if budget == "full":
        return base.params
    from specc.plan.defaults import DEFAULT_HYPERPARAMETERS
    from specc.plan.estimator import lora_trainable_params

    m = spec.method
    return lora_trainable_params(base.facts, m.lora_r or DEFAULT_HYPERPARAMETERS["lora_r"],
                                 "attention" if m.lora_targets == "attention" else "all-linear")


def plan_spec_file(path: str | Path) -> Plan:
    """Load a spec file (raises ``SpecInvalid``) and plan it; the lock uses the file's bytes."""
    from specc.spec.loader import load_spec

    loaded = load_spec(path)
    return make_plan(loaded.spec, loaded.base_dir, loaded.path.name, loaded.sha256, loaded.locations)


"""Step 4 of the guide: the parameter budget (full / LoRA / QLoRA) from the memory estimate
(:mod:`specc.plan.estimator`), the training shape that fits, and the compute estimate (tokens, steps, GPU-hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from specc.plan.defaults import DEFAULT_HYPERPARAMETERS
from specc.plan.hyperparameters import generation_tokens
from specc.plan.inputs import KnownModel
from specc.plan.levers import SKILL_BEHAVIOURS
from specc.plan.model import DataFact, Estimate, MemoryRow
from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["BudgetResult", "choose_budget"]


@dataclass
class BudgetResult:
    budget: str | None
    estimate: Estimate | None
    checkpointing: bool | None
    micro_batch: int | None = None
    accumulation: int | None = None


_BUDGET_RANK = {"full": 0, "lora": 1, "qlora": 2}




def estimator_method(method: str, distillation: str | None) -> str:
    """The estimator's name for a plan's training (one map for memory and compute): the plan's method, or for
    distillation ``distill_logit`` / ``distill_sequence`` (SFT on the teacher's answers)."""
    if method == "distill":
        return "distill_logit" if distillation == "logit" else "distill_sequence"
    if method == "orpo":
        return "sft"  # no reference model: the policy's forward and backward on both answers of a pair
    if method == "kto":
        return "dpo"  # same shape: a policy and a frozen reference forward per example
    if method == "grpo":
        return "rlhf"  # generation and a reference forward; the reward model's share over-estimates a little
    return method


def estimator_precision(precision: str) -> str:
    """How a stage holds the trained weights: it loads the model in the run-time dtype (``auto`` is bf16 on the
    GPUs specc plans for) and trains it in that dtype, so 16-bit precisions are estimated as pure 16-bit."""
    return {"auto": "bf16", "bf16": "bf16", "fp16": "fp16", "fp32": "fp32"}[precision]


def choose_budget(spec: Spec, method: str, distillation: str | None, base: KnownModel,
                   teacher: KnownModel | None, data: list[DataFact], t: Trace) -> BudgetResult:
    """Full / LoRA / QLoRA from the memory estimate; checkpointing only when it changes what fits."""
    from specc.plan.estimator import DeviceBudget, TrainingShape

    forced = spec.method.parameter_budget if spec.method.parameter_budget != "auto" else None
    hw = spec.constraints.hardware
    if base.facts is None:
        budget = forced or "lora"
        t.find("BUDGET-UNKNOWN-MODEL-SIZE",
               f"the size of {base.ref.ref} is unknown: no config.json, not in the known-model table, no size in "
               f"its name; assuming {budget} without a memory check",
               "give base_model.path to a local directory with config.json, or a hub id with its size (e.g. -7B)")
        return BudgetResult(budget, Estimate(notes=["memory not estimated: model size unknown"]), None)
    m = spec.method
    targets = "attention" if m.lora_targets == "attention" else "all-linear"
    est_method = estimator_method(method, distillation)
    if est_method == "distill_logit" and (teacher is None or teacher.facts is None):
        t.find("BUDGET-UNKNOWN-MODEL-SIZE",
               "the teacher's size is unknown, so the memory estimate leaves out the teacher that logit "
               "distillation holds in memory during training",
               "give teacher.path to a local directory with config.json, or a hub id with its size (e.g. -7B)")
        est_method = "distill_sequence"
    shape = TrainingShape(
        budget="lora", quant_bits=m.quant_bits or 4, lora_r=m.lora_r or DEFAULT_HYPERPARAMETERS["lora_r"],
        lora_targets=targets, seq_len=m.max_seq_length or DEFAULT_HYPERPARAMETERS["max_seq_length"],
        micro_batch=m.micro_batch_size or DEFAULT_HYPERPARAMETERS["micro_batch_size"],
        gradient_checkpointing=bool(m.gradient_checkpointing), method=est_method,
        teacher=teacher.facts if (teacher is not None and est_method == "distill_logit") else None,
        precision=estimator_precision(m.precision), sharding="none" if hw.strategy == "auto" else hw.strategy,
        offload=hw.cpu_offload,
    )
    hardware = DeviceBudget(gpus=hw.gpus, gpu_memory_gb=hw.gpu_memory_gb, nodes=hw.nodes, cpu_memory_gb=hw.cpu_memory_gb)
    wanted = set(spec.goal.behaviours)
    needs_full = bool(wanted & SKILL_BEHAVIOURS) or method == "distill"
    allow_full = spec.constraints.budget.allow_full_finetune
    kwargs = {"goal_needs_full": needs_full and allow_full, "forced": forced, "margin": 1 - hw.memory_headroom}
    choice, checkpointing, micro = _fit_shape(base.facts, hardware, shape, kwargs, m)
    default_micro = DEFAULT_HYPERPARAMETERS["micro_batch_size"]
    accum = m.gradient_accumulation or DEFAULT_HYPERPARAMETERS["gradient_accumulation"]
    if m.micro_batch_size is None and micro < default_micro and m.gradient_accumulation is None:
        accum = accum * default_micro // micro
    rows = [
        MemoryRow(budget=o.budget, per_device_gb=round(o.needed_gib, 2), fits=o.fits,  # type: ignore[arg-type]
                  components_gb={k: round(v, 2) for k, v in o.estimate.breakdown()}, strategy=o.sharding,
                  note=o.reason)
        for o in choice.options
    ]
    table = "; ".join(o.reason for o in choice.options)
    if choice.budget is None or not choice.fits:
        tips = "; ".join(choice.suggestions) or "more memory, more GPUs, or a smaller model"
        if hw.strategy != "auto" and hw.gpus * hw.nodes > 1:
            tips = _auto_strategy_tip(base.facts, hardware, shape, kwargs, m, hw.strategy) + tips
        if forced:
            alt = _what_fits_unforced(base.facts, hardware, shape, {**kwargs, "forced": None}, m)
            if alt is not None:
                tips = alt
            t.find("BUDGET-FORCED-DOESNT-FIT", f"method.parameter_budget is {forced} but it does not fit: "
                   f"{choice.option(forced).reason}", tips)  # type: ignore[union-attr]
        else:
            shape_words = (f"best shape tried: micro batch {micro}, gradient checkpointing "
                           f"{'on' if checkpointing else 'off'}, {shape.seq_len} tokens")
            t.find("BUDGET-NOTHING-FITS", f"no parameter budget fits {_hardware_words(spec)} ({shape_words}): "
                   f"{table}", tips)
    else:
        budget = choice.budget
        if forced:
            rule = "BUDGET-FORCED"
        elif budget == "full":
            rule = "BUDGET-FULL-ONLY-WHEN-NEEDED"
        elif budget == "qlora":
            rule = "BUDGET-QLORA-WHEN-16BIT-DOESNT-FIT"
        else:
            rule = "BUDGET-SMALLEST-FITS"
        why = _budget_reason(budget, needs_full, allow_full, choice, forced)
        t.decide(rule, f"{why} Estimates on {_hardware_words(spec)}: {table}.", verdict=f"parameter budget: {budget}")
        if budget != "full" and allow_full and not forced:
            t.decide("BUDGET-FULL-ONLY-WHEN-NEEDED",
                     "allow_full_finetune is true but " + ("full does not fit." if needs_full else
                     "the goal (no skill/reasoning, not a distilled student) does not need it."),
                     verdict="full fine-tuning passed over")
        if checkpointing and m.gradient_checkpointing is None:
            t.decide("BUDGET-CHECKPOINTING-TO-FIT", f"{budget} fits only with activation checkpointing on.")
        if micro != (m.micro_batch_size or default_micro):
            t.decide("BUDGET-MICRO-BATCH-TO-FIT",
                     f"{budget} fits with micro batch {micro} (not {default_micro}); gradient accumulation {accum} "
                     "keeps the effective batch.")
    estimate = _compute(spec, method, distillation, choice.budget or forced or "lora", base, teacher, data,
                        hardware, checkpointing, micro, accum, rows, list(choice.notes), t)
    return BudgetResult(choice.budget or forced, estimate, checkpointing, micro, accum)


def _fit_shape(facts: Any, hardware: Any, shape: Any, kwargs: dict[str, Any], m: Any) -> tuple[Any, bool, int]:
    """Try the cheapest training shapes first; keep the one whose budget is the smallest intervention.

    Shapes, cheapest first: as configured; with activation checkpointing; then halving the micro batch
    (gradient accumulation grows to keep the effective batch). Values the spec sets are never changed.
    A budget earlier in full → LoRA → QLoRA beats a cheaper shape: LoRA with checkpointing is preferred
    to QLoRA without it. When nothing fits, the shape that needs the least memory is kept, so the finding and
    its suggestions speak of the best shape tried.
    """
    from dataclasses import replace

    from specc.plan.estimator import choose_budget

    micro0 = shape.micro_batch
    gcs = [bool(m.gradient_checkpointing)] if m.gradient_checkpointing is not None else [False, True]
    micros = [micro0] if m.micro_batch_size is not None else [b for b in (micro0, micro0 // 2, 1) if b >= 1]
    shapes: list[tuple[bool, int]] = []
    for gc in gcs:
        shapes.append((gc, micro0))
    for micro in dict.fromkeys(micros[1:]):
        shapes.append((gcs[-1], micro))
    best = None
    for gc, micro in shapes:
        choice = choose_budget(facts, hardware, replace(shape, gradient_checkpointing=gc, micro_batch=micro), **kwargs)
        rank = _BUDGET_RANK.get(choice.budget or "", 9) if choice.fits else 9
        # Among shapes where nothing fits, keep the one that comes closest: a refusal quotes the smallest figure.
        need = 0.0 if rank < 9 else min(
            (o.needed_gib for o in choice.options if o.budget == (kwargs.get("forced") or o.budget)), default=0.0)
        if best is None or (rank, need) < (best[0], best[4]):
            best = (rank, choice, gc, micro, need)
        if choice.fits and kwargs.get("forced"):
            break
    assert best is not None
    return best[1], best[2], best[3]


def _what_fits_unforced(facts: Any, hardware: Any, shape: Any, kwargs: dict[str, Any], m: Any) -> str | None:
    """When a forced budget does not fit: the budget the guide would pick without the force, with its numbers,
    so the refusal points at the way out instead of only at the figure that failed (or, when nothing fits, what
    would make the cheapest budget fit)."""
    choice, checkpointing, micro = _fit_shape(facts, hardware, shape, kwargs, m)
    if choice.budget is None or not choice.fits:
        return "; ".join(choice.suggestions) or None
    option = choice.option(choice.budget)
    how = [w for w in (("activation checkpointing on" if checkpointing and not m.gradient_checkpointing else ""),
                       (f"micro batch {micro}" if micro != shape.micro_batch else "")) if w]
    return (f"remove method.parameter_budget (or set it to {choice.budget}): {choice.budget} fits, needing "
            f"{option.needed_gib:.1f} GiB per device of {option.usable_gib:.1f} GiB usable"
            + (f" ({', '.join(how)})" if how else ""))


def _auto_strategy_tip(facts: Any, hardware: Any, shape: Any, kwargs: dict[str, Any], m: Any, forced: str) -> str:
    """When a forced strategy is what makes the plan not fit: what strategy auto would choose, with its numbers."""
    from dataclasses import replace

    choice, _, _ = _fit_shape(facts, hardware, replace(shape, sharding="none"), kwargs, m)
    if not choice.fits or choice.budget is None:
        return ""
    option = choice.option(choice.budget)
    return (f"strategy {forced} is what does not fit: with strategy auto, {choice.budget} fits with "
            f"{option.sharding} at {option.needed_gib:.1f} GiB per device; ")


def _budget_reason(budget: str, needs_full: bool, allow_full: bool, choice: Any, forced: str | None = None) -> str:
    if forced:
        option = choice.option(budget)
        return (f"method.parameter_budget is {forced} (chosen by the spec, not by the guide); it fits"
                + (f", needing {option.needed_gib:.1f} GiB per device of {option.usable_gib:.1f} GiB usable"
                   if option is not None else "") + ".")
    if budget == "full":
        return "Full fine-tuning is allowed, the goal needs it, and it fits."
    if budget == "qlora":
        return "The frozen base does not fit at 16 bits; quantised to 4 bits it does."
    return "LoRA is the smallest intervention and fits."


def _hardware_words(spec: Spec) -> str:
    hw = spec.constraints.hardware
    if hw.gpus == 0:
        return f"CPU only ({hw.cpu_memory_gb:g} GB RAM)"
    nodes = f" × {hw.nodes} nodes" if hw.nodes > 1 else ""
    return f"{hw.gpus} × {hw.gpu_memory_gb:g} GB GPU{'s' if hw.gpus > 1 else ''}{nodes}"


def _training_inputs(method: str, distillation: str | None, data: list[DataFact]) -> list[DataFact]:
    roles = {"sft": ("train", "replay"), "dpo": ("train", "replay", "preference"),
             "kto": ("train", "replay", "preference"), "orpo": ("train", "replay", "preference"),
             "reward": ("train", "replay", "preference"), "grpo": ("train", "replay", "prompts"),
             "rlhf": ("train", "replay", "preference", "prompts"),
             "distill": ("prompts",) if distillation != "logit" else ("prompts", "train")}[method]
    return [d for d in data if d.role in roles and d.exists and d.bytes is not None]


def _compute(spec: Spec, method: str, distillation: str | None, budget: str, base: KnownModel,
             teacher: KnownModel | None, data: list[DataFact], hardware: Any, checkpointing: bool,
             micro: int, accum: int, rows: list[MemoryRow], notes: list[str], t: Trace) -> Estimate:
    """Tokens, optimizer steps and GPU-hours. Tokens are estimated as file bytes / 4 (no tokenizer here)."""
    from specc.plan.estimator import estimate_compute, gpu_peak_tflops

    m = spec.method
    inputs = _training_inputs(method, distillation, data)
    new_tokens = generation_tokens(spec)
    tokens = 0
    examples = 0
    for fact in inputs:
        used = fact.mix["rows_used"] if fact.mix else (fact.rows or 0)  # a mixture member: its share
        tokens += fact.mix["tokens"] if fact.mix else (fact.bytes or 0) // 4
        examples += used
        if method == "distill" and fact.role == "prompts" and distillation != "logit":
            tokens += used * new_tokens
    notes = list(notes)
    if inputs:
        notes.append("tokens ≈ bytes / 4 of " + ", ".join(f.path for f in inputs)
                     + (f" plus {new_tokens} generated tokens per prompt" if method == "distill"
                        and distillation != "logit" else "") + " (no tokenizer is loaded to plan)")
    epochs = float(m.epochs) if m.epochs is not None else DEFAULT_HYPERPARAMETERS["epochs"]
    devices = max(hardware.gpus, 1) * hardware.nodes
    per_step = micro * accum * devices
    steps = -(-int(examples * epochs) // per_step) if examples else 0
    if m.max_steps is not None:
        steps = min(steps, m.max_steps) if steps else m.max_steps
        notes.append(f"max_steps {m.max_steps} caps the run")
    if not inputs:
        return Estimate(memory=rows, notes=notes + ["no training data to estimate compute from"])
    notes.append(f"steps = rows × {epochs:g} epochs / ({micro} × {accum} × {devices} device(s)), over all "
                 "training inputs")
    if base.facts is None:
        return Estimate(memory=rows, train_tokens=int(tokens * epochs), optimizer_steps=steps, notes=notes)
    seq = m.max_seq_length or DEFAULT_HYPERPARAMETERS["max_seq_length"]
    est_method = estimator_method(method, distillation)
    extra = teacher.params if (teacher is not None and teacher.params and est_method == "distill_logit") else 0
    gpu_tflops = gpu_peak_tflops(spec.constraints.hardware.gpu_type) if spec.constraints.hardware.gpus else None
    if gpu_tflops is not None:
        notes.append(f"throughput from gpu_type {spec.constraints.hardware.gpu_type}: {gpu_tflops:g} TFLOPS peak "
                     "16-bit per GPU (datasheet, dense)")
    elif spec.constraints.hardware.gpu_type and spec.constraints.hardware.gpus:
        notes.append(f"gpu_type {spec.constraints.hardware.gpu_type} is not in specc's throughput table; "
                     "assuming an A100")
    compute = estimate_compute(base.facts, train_tokens=tokens, epochs=epochs, budget=budget, hardware=hardware,
                               effective_batch_tokens=per_step * seq, gradient_checkpointing=checkpointing,
                               lora_r=m.lora_r or DEFAULT_HYPERPARAMETERS["lora_r"], method=est_method,
                               extra_model_params=extra, gpu_tflops=gpu_tflops)
    notes += list(compute.notes) + [f"FLOPs = {compute.formula}"]
    gpu_hours = round(compute.gpu_hours, 4)
    cap = spec.constraints.budget.gpu_hours
    if cap is not None and gpu_hours > cap:
        t.find("BUDGET-GPU-HOURS-EXCEEDED", f"estimated {gpu_hours:g} GPU-hours exceed the budget of {cap:g}",
               "cut epochs, data or sequence length, or raise constraints.budget.gpu_hours")
    return Estimate(memory=rows, train_tokens=compute.tokens, optimizer_steps=steps, gpu_hours=gpu_hours,
                    notes=notes)


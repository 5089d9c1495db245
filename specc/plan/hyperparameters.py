"""Step 5: every hyper-parameter a training stage needs, resolved once (defaults, then the spec's ``method``
overrides, then what the memory fit decided) with where each value came from. The stage builder only lays these
values out per stage; it never resolves a value itself.
"""

from __future__ import annotations

from typing import Any

from specc.plan.defaults import CHECKPOINT_MIN_INTERVAL_S, DEFAULT_HYPERPARAMETERS, LEARNING_RATES
from specc.plan.adapter_settings import resolve_adapter_settings
from specc.plan.trainer_settings import resolve_trainer_settings
from specc.spec.language import Spec

__all__ = ["ATTENTION_MODULES", "generation_tokens", "resolve_hyperparameters", "training_stage_kinds"]


def training_stage_kinds(spec: Spec, method: str, distillation: str | None) -> list[str]:
    """Which learning-rate families the plan's training stages use, in run order."""
    has_train = spec.data.train is not None
    if method == "sft":
        return ["sft"]
    if method in ("dpo", "kto", "orpo"):
        return (["sft"] if has_train else []) + [method]
    if method == "rlhf":
        return (["sft"] if has_train else []) + ["reward", "rl"]
    if method == "reward":
        return (["sft"] if has_train else []) + ["reward"]
    if method == "grpo":
        return (["sft"] if has_train else []) + ["rl"]
    if method == "distill":
        return ["distill_logit"] if distillation == "logit" else ["sft"]
    return []


def generation_tokens(spec: Spec) -> int:
    """Answer length for the teacher's generations (sequence-level distillation): the eval contract's
    ``max_new_tokens`` (what the student is scored on), never past half the training sequence length, so
    that prompt plus answer fit the student's ``max_length`` and a small model's positions."""
    seq = spec.method.max_seq_length or DEFAULT_HYPERPARAMETERS["max_seq_length"]
    return max(1, min(int(spec.eval.max_new_tokens), seq // 2))


ATTENTION_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]
"""``lora_targets: attention`` as module names (the Llama/Qwen/Mistral naming that peft matches by suffix)."""


class _Resolved:
    """Values with where each came from: ``spec`` (method.<key>), ``default`` (specc.plan.defaults),
    ``rule:<ID>`` (a planning decision changed it) or ``derived`` (computed from other values)."""

    def __init__(self, overrides: Any) -> None:
        self.m = overrides
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}

    def set(self, key: str, value: Any, source: str) -> Any:
        self.values[key], self.sources[key] = value, source
        return value

    def pick(self, key: str, default: Any, source: str = "default") -> Any:
        """The spec's ``method.<key>`` when set (not None/auto), else ``default``."""
        value = getattr(self.m, key, None)
        if value is None or value == "auto":
            return self.set(key, default, source)
        return self.set(key, list(value) if isinstance(value, (list, tuple)) else value, "spec")


def resolve_hyperparameters(spec: Spec, method: str, distillation: str | None, budget: str | None,
                            checkpointing: bool | None, micro: int | None = None, accum: int | None = None,
                            devices: int = 1) -> tuple[dict[str, Any], dict[str, str]]:
    """(values, sources): every value a training stage needs, and where each came from.

    The stage builder (:mod:`specc.plan.stages`) reads only these values, so this is the one place a value
    is resolved. ``learning_rates`` and ``epochs_by_stage`` give each training stage its own value
    (imitation and preference stages differ); the flat ``learning_rate``/``epochs`` are shown only when one
    value serves every stage.
    """
    m = spec.method
    r = _Resolved(m)
    d = DEFAULT_HYPERPARAMETERS
    if budget in ("lora", "qlora"):
        rank = r.pick("lora_r", d["lora_r"])
        r.pick("lora_alpha", 2 * rank, "derived")  # 2 × rank unless the spec sets it
        r.pick("lora_dropout", d["lora_dropout"])
        targets = r.pick("lora_targets", d["lora_targets"])
        r.set("lora_target_modules", ATTENTION_MODULES if targets == "attention" else targets, "derived")
    if budget == "qlora":
        r.pick("quant_bits", d["quant_bits"])
    resolve_adapter_settings(r, spec, budget)  # DoRA, rsLoRA, 4-bit type, attention, Liger
    kinds = training_stage_kinds(spec, method, distillation)
    imitation_lr = LEARNING_RATES.get(budget or "lora", LEARNING_RATES["lora"])
    lrs = {k: (LEARNING_RATES["preference"] if k in ("dpo", "kto", "orpo", "rl") else imitation_lr) for k in kinds}
    epochs = {k: (d["rl_epochs"] if k == "rl" else d["epochs"]) for k in kinds}
    r.set("learning_rates", {k: m.learning_rate for k in kinds} if m.learning_rate is not None else lrs,
          "spec" if m.learning_rate is not None else "default")
    r.set("epochs_by_stage", {k: float(m.epochs) for k in kinds} if m.epochs is not None else epochs,
          "spec" if m.epochs is not None else "default")
    if len(set(r.values["learning_rates"].values())) == 1 and kinds:
        r.set("learning_rate", next(iter(r.values["learning_rates"].values())), r.sources["learning_rates"])
    if len(set(r.values["epochs_by_stage"].values())) == 1 and kinds:
        r.set("epochs", next(iter(r.values["epochs_by_stage"].values())), r.sources["epochs_by_stage"])
    r.pick("max_steps", -1)
    for key in ("max_seq_length", "micro_batch_size", "gradient_accumulation", "packing"):
        r.pick(key, d[key])
    if micro is not None and micro != r.values["micro_batch_size"]:
        r.set("micro_batch_size", micro, "rule:BUDGET-MICRO-BATCH-TO-FIT")
    if accum is not None and accum != r.values["gradient_accumulation"]:
        r.set("gradient_accumulation", accum, "rule:BUDGET-MICRO-BATCH-TO-FIT")
    if m.gradient_checkpointing is not None:
        r.set("gradient_checkpointing", m.gradient_checkpointing, "spec")
    elif checkpointing:
        r.set("gradient_checkpointing", True, "rule:BUDGET-CHECKPOINTING-TO-FIT")
    else:
        r.set("gradient_checkpointing", False, "default")
    train_fmt = spec.data.train.format if spec.data.train is not None else None
    if m.assistant_only_loss is not None:
        r.set("assistant_only_loss", m.assistant_only_loss, "spec")
    elif "sft" in kinds:
        r.set("assistant_only_loss", train_fmt in ("messages", "auto", "sharegpt") and method != "distill", "derived")
    r.set("precision", m.precision, "spec" if "precision" in m.model_fields_set else "default")
    r.set("seed", m.seed, "spec" if "seed" in m.model_fields_set else "default")
    for key in ("logging_steps", "save_total_limit"):
        r.set(key, d[key], "default")
    r.set("checkpoint_min_interval_s", CHECKPOINT_MIN_INTERVAL_S, "default")
    generated = max(8, min(256, r.values["max_seq_length"] // 2))  # prompt + completion fit max_seq_length
    if method == "grpo":
        r.pick("rl_algorithm", "grpo", "derived")  # reward functions: GRPO (RLOO takes them too when set)
    if method in ("rlhf", "grpo"):
        if method == "rlhf":
            r.pick("rl_algorithm", d["rl_algorithm"])
        for key in ("rl_beta", "rl_num_generations", "rl_temperature"):
            r.set(key, d[key], "default")
        r.set("rl_max_completion_length", generated, "derived")
    if method == "dpo":
        r.set("dpo_beta", d["dpo_beta"], "default")
    if method == "kto":
        r.set("kto_beta", d["kto_beta"], "default")
    if method == "orpo":
        r.set("orpo_beta", d["orpo_beta"], "default")
    if method == "distill":
        r.set("distillation", distillation, "spec" if m.distillation != "auto" else "derived")
        if distillation == "sequence":
            r.set("max_new_tokens", generation_tokens(spec), "derived")
        else:
            for key in ("distill_beta", "distill_temperature"):
                r.set(key, d[key], "default")
            r.set("distill_max_completion_length", generated, "derived")
    resolve_trainer_settings(r, spec, method, kinds)  # optimiser, schedule, eval during training, per stage
    r.set("effective_batch_size", r.values["micro_batch_size"] * r.values["gradient_accumulation"] * devices,
          "derived")
    return r.values, r.sources

"""The trainer surface of the spec's ``method`` section: optimiser, schedule, evaluation during training,
checkpoint cadence, RL sampling and per-stage overrides — each under the TRL/transformers argument name a
practitioner already knows from axolotl, LLaMA-Factory or the TRL CLI.

Why a module of its own: :mod:`specc.spec.language` states goals and constraints; these are the knobs of
the trainer. Every field is optional (None = the planner's documented default, shown in the plan with its
source), and every check that a value cannot work (a warmup with a scheduler that ignores it, a patience
without a best-model metric) is a located spec error here, before anything trains.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from specc.spec.base import Strict
from specc.spec.rewards import RewardFunction
from specc.spec.trainer_fields import TrainerArgsField
from specc.spec.trainer_names import (CHAT_TEMPLATE_NAMES, SCHEDULERS_WITH_MIN_LR, SCHEDULERS_WITHOUT_WARMUP,
                                      Optimizer, Scheduler)

__all__ = ["Optimisation", "SamplingSettings", "StageOverrides", "StageSettings", "EvalDuringTraining",
           "TrainerSettings", "STAGE_ONLY_KEYS"]


class Optimisation(Strict):
    """Optimiser and learning-rate schedule (transformers ``TrainingArguments`` names)."""

    optim: Optimizer | None = Field(
        default=None,
        description=(
            "Optimizer, by transformers' name: adamw_torch, adamw_torch_fused (default), adafactor, sgd, "
            "adamw_8bit, paged_adamw_8bit, paged_adamw_32bit, lion_8bit, ... The 8-bit and paged ones need "
            "bitsandbytes (checked when the stage starts)."
        ),
    )
    lr_scheduler_type: Scheduler | None = Field(
        default=None,
        description=(
            "Learning-rate schedule: linear (default), cosine, cosine_with_min_lr, constant, "
            "constant_with_warmup, polynomial, inverse_sqrt, warmup_stable_decay, ..."
        ),
    )
    min_lr_rate: float | None = Field(
        default=None, gt=0, lt=1,
        description=(
            "Floor of cosine_with_min_lr / cosine_warmup_with_min_lr as a fraction of the peak learning rate "
            "(passed as lr_scheduler_kwargs.min_lr_rate). Default 0.1 for those schedules."
        ),
    )
    warmup_ratio: float | None = Field(
        default=None, ge=0, lt=1,
        description=(
            "Warm the learning rate up over this fraction of the steps (written as the trainer's "
            "warmup_steps=<fraction>, transformers 5's way to give a ratio). Give this or warmup_steps."
        ),
    )
    warmup_steps: int | None = Field(
        default=None, ge=0, description="Warm the learning rate up over this many optimiser steps. Default 0."
    )
    weight_decay: float | None = Field(default=None, ge=0, lt=1, description="Decoupled weight decay. Default 0.")
    max_grad_norm: float | None = Field(
        default=None, gt=0, description="Clip gradients to this global norm. Default 1.0."
    )

    @model_validator(mode="after")
    def _warmup(self) -> Optimisation:
        if self.warmup_ratio is not None and self.warmup_steps is not None:
            raise ValueError("give warmup_ratio or warmup_steps, not both")
        return self


class SamplingSettings(Strict):
    """Preference and online-RL settings (TRL's names)."""

    beta: float | None = Field(
        default=None, ge=0, le=100,
        description=(
            "DPO/KTO: the preference loss's beta (default 0.1). Online RL: the KL penalty against the reference "
            "policy (default 0.05). Per stage: stages.dpo.beta, stages.rl.beta."
        ),
    )
    num_generations: int | None = Field(
        default=None, ge=2, le=1024, description="Online RL: completions sampled per prompt. Default 2."
    )
    temperature: float | None = Field(
        default=None, gt=0, le=10, description="Online RL: sampling temperature. Default 1.0."
    )
    max_completion_length: int | None = Field(
        default=None, ge=1, le=1_048_576,
        description="Online RL: longest sampled completion in tokens. Default: half of max_seq_length (8..256).",
    )


class StageOverrides(Optimisation, SamplingSettings, TrainerArgsField):
    """Settings of one training stage that differ from the method-wide ones (e.g. the reward model's
    learning rate in an RLHF plan)."""

    learning_rate: float | None = Field(default=None, gt=0, lt=1, description="Peak learning rate of this stage.")
    epochs: float | None = Field(default=None, gt=0, le=100, description="Passes over this stage's data.")


STAGE_ONLY_KEYS: dict[str, frozenset[str]] = {
    "beta": frozenset({"dpo", "orpo", "kto", "rl"}),
    "num_generations": frozenset({"rl"}),
    "temperature": frozenset({"rl"}),
    "max_completion_length": frozenset({"rl"}),
}
"""Per-stage keys that only some stage kinds have (a DPO beta on the SFT stage would be silently unused)."""


class StageSettings(Strict):
    """Per-stage overrides, by stage kind. Only the plan's training stages use them."""

    sft: StageOverrides | None = Field(default=None, description="The SFT stage (also distillation's student).")
    dpo: StageOverrides | None = Field(default=None, description="The DPO stage.")
    kto: StageOverrides | None = Field(default=None, description="The KTO stage.")
    orpo: StageOverrides | None = Field(default=None, description="The ORPO stage.")
    reward: StageOverrides | None = Field(default=None, description="The reward-model stage of RLHF.")
    rl: StageOverrides | None = Field(default=None, description="The online-RL stage of RLHF.")
    distill_logit: StageOverrides | None = Field(default=None, description="The logit-distillation stage.")

    @model_validator(mode="after")
    def _keys_the_stage_has(self) -> StageSettings:
        for kind in type(self).model_fields:
            stage = getattr(self, kind)
            if stage is None:
                continue
            for key in sorted(stage.model_fields_set):
                allowed = STAGE_ONLY_KEYS.get(key)
                if allowed is not None and kind not in allowed:
                    raise ValueError(f"stages.{kind}.{key}: a {kind} stage has no {key} "
                                     f"(only {', '.join(sorted(allowed))})")
        return self


class EvalDuringTraining(Strict):
    """Evaluation on ``data.validation`` while training, best-checkpoint selection, early stopping and
    checkpoint cadence (transformers' names)."""

    eval_strategy: Literal["no", "steps"] | None = Field(
        default=None,
        description="steps: evaluate on data.validation every eval_steps. Default: steps when data.validation is given, else no.",
    )
    eval_steps: int | None = Field(
        default=None, ge=1, description="Evaluate every N optimiser steps. Default: the stage's save_steps."
    )
    save_steps: int | None = Field(
        default=None, ge=1,
        description="Checkpoint every N optimiser steps. Default: about ten checkpoints per stage.",
    )
    load_best_model_at_end: bool | None = Field(
        default=None,
        description="Keep the checkpoint with the best metric_for_best_model as the stage's result. Default false.",
    )
    metric_for_best_model: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_/.-]{1,64}$",
        description="Metric that picks the best checkpoint (eval_loss by default; lower is better for *loss*).",
    )
    early_stopping_patience: int | None = Field(
        default=None, ge=1, le=10_000,
        description=(
            "Stop after this many evaluations without improvement of metric_for_best_model (implies "
            "load_best_model_at_end)."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> EvalDuringTraining:
        if self.eval_strategy == "no":
            for key in ("eval_steps", "load_best_model_at_end", "metric_for_best_model", "early_stopping_patience"):
                if getattr(self, key) not in (None, False):
                    raise ValueError(f"{key} needs evaluation during training; eval_strategy is no")
        if self.early_stopping_patience is not None and self.load_best_model_at_end is False:
            raise ValueError("early_stopping_patience needs load_best_model_at_end (it compares to the best checkpoint)")
        best = self.load_best_model_at_end or self.early_stopping_patience is not None
        if best and self.eval_steps and self.save_steps and self.save_steps % self.eval_steps:
            raise ValueError(f"save_steps ({self.save_steps}) must be a multiple of eval_steps ({self.eval_steps}) "
                             "to keep the best checkpoint: a best model is only kept when it was saved")
        return self


class TrainerSettings(Optimisation, SamplingSettings, EvalDuringTraining, TrainerArgsField):
    """The trainer surface of ``method``: method-wide values plus ``stages`` overrides."""

    reward_functions: list[RewardFunction] | None = Field(
        default=None, min_length=1, max_length=32,
        description=(
            "GRPO's verifiable rewards on data.prompts, e.g. [{kind: exact_answer, column: answer}, "
            "{kind: format, pattern: '\\[.*\\]'}, {kind: python, function: rewards.py:score}]. Given, the "
            "planner chooses GRPO with these functions instead of a learned reward model."
        ),
    )
    chat_template: str | None = Field(
        default=None, max_length=255,
        description=(
            "How chat rows are rendered, in every stage (baseline and eval included): tokenizer (default: the "
            "model's own template), a name (chatml, llama3, qwen2_5, qwen3, gemma, gemma3, phi3, phi3_5, "
            "deepseekv3, cohere, ...; the training variants, with generation markers for assistant-only loss) "
            "or a .jinja file relative to the spec (locked by its sha256)."
        ),
    )
    stages: StageSettings = Field(
        default_factory=StageSettings,
        description="Per-stage overrides, e.g. stages: {reward: {learning_rate: 1e-5}, rl: {beta: 0.02}}.",
    )

    @field_validator("chat_template")
    @classmethod
    def _known_template(cls, v: str | None) -> str | None:
        if v is None or v == "tokenizer" or v in CHAT_TEMPLATE_NAMES:
            return v
        if v.endswith((".jinja", ".j2")):
            if "${" in v or any(ord(c) < 32 for c in v) or v.startswith(("/", "~")):
                raise ValueError("a chat template file is a plain path relative to the spec file")
            return v
        from specc.spec.suggest import did_you_mean

        guess = did_you_mean(v, ["tokenizer", *CHAT_TEMPLATE_NAMES])
        raise ValueError(f"unknown chat template {v!r}" + (f" (did you mean {guess!r}?)" if guess else "")
                         + f"; use tokenizer, one of {', '.join(CHAT_TEMPLATE_NAMES)}, or a .jinja file")

    @model_validator(mode="after")
    def _schedules_that_work(self) -> TrainerSettings:
        for kind in ["", *type(self.stages).model_fields]:
            stage = getattr(self.stages, kind) if kind else None
            if kind and stage is None:
                continue
            where = f"stages.{kind}." if kind else ""

            def value(key: str):  # the stage's value, else the method-wide one
                own = getattr(stage, key) if stage is not None else None
                return own if own is not None else getattr(self, key)

            schedule = value("lr_scheduler_type")
            own_warmup = stage is not None and (stage.warmup_steps is not None or stage.warmup_ratio is not None)
            source = stage if own_warmup else self
            warm = source.warmup_steps or source.warmup_ratio
            if schedule in SCHEDULERS_WITHOUT_WARMUP and warm:
                hint = "constant_with_warmup" if schedule == "constant" else "a schedule with warmup"
                raise ValueError(f"{where}lr_scheduler_type {schedule} ignores warmup; use {hint} or drop the warmup")
            if value("min_lr_rate") is not None and schedule not in SCHEDULERS_WITH_MIN_LR:
                raise ValueError(f"{where}min_lr_rate applies only to "
                                 f"{' or '.join(sorted(SCHEDULERS_WITH_MIN_LR))}, not {schedule or 'linear'}")
        return self

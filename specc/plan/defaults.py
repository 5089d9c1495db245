"""The one table of documented training defaults, shared by the planner and the stage builder.

Why a module of its own: the planner resolves every hyper-parameter of a plan (defaults, then the spec's
``method`` overrides, then what the memory fit decided) into ``Plan.hyperparameters``; the stage builder
(:mod:`specc.plan.stages`) lays those values out per stage. Both used to carry their own copy of these numbers,
and copies drift. Light module: no imports beyond the standard library.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_HYPERPARAMETERS", "LEARNING_RATES", "CHECKPOINTS_PER_RUN", "CHECKPOINT_MIN_INTERVAL_S",
           "save_steps_for"]

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "lora_r": 16,
    "lora_dropout": 0.05,
    "lora_targets": "all-linear",
    "quant_bits": 4,
    "epochs": 3.0,
    "rl_epochs": 1.0,
    "max_seq_length": 2048,
    "micro_batch_size": 4,
    "gradient_accumulation": 4,
    "gradient_checkpointing": False,
    "packing": False,
    "precision": "auto",
    "seed": 42,
    "rl_algorithm": "rloo",
    "dpo_beta": 0.1,
    "kto_beta": 0.1,
    "orpo_beta": 0.1,
    "rl_beta": 0.05,
    "rl_num_generations": 2,
    "rl_temperature": 1.0,
    "distill_beta": 0.5,
    "distill_temperature": 1.0,
    "max_new_tokens": 256,
    "logging_steps": 1,
    # the trainer surface (TRL's own defaults, made visible in the plan)
    "optim": "adamw_torch_fused",
    "lr_scheduler_type": "linear",
    "warmup_steps": 0,
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "min_lr_rate": 0.1,
    "save_total_limit": 2,
}
"""The documented defaults (the spec's field descriptions); spec.method overrides win. ``save_steps`` has
no fixed default: it is derived per stage from the stage's optimiser steps (:func:`save_steps_for`)."""

LEARNING_RATES: dict[str, float] = {"full": 2e-5, "lora": 2e-4, "qlora": 2e-4, "preference": 5e-6}
"""Peak learning rate per budget for imitation stages; preference and RL stages use the smaller one."""

CHECKPOINTS_PER_RUN = 10
"""About this many checkpoints per training stage when the plan does not set ``save_steps``."""

CHECKPOINT_MIN_INTERVAL_S = 600
"""Seconds between two intermediate checkpoints at least (the final step always saves). Saving costs
about the same whatever the step time: on a short run ten checkpoints would cost more than the training,
while a kill loses at most this much work. The plan's ``checkpoint_min_interval_s`` overrides it."""


def save_steps_for(steps: int | None) -> int:
    """Checkpoint interval for a stage of ``steps`` optimiser steps: about :data:`CHECKPOINTS_PER_RUN`
    checkpoints per run, never less than every step. Unknown step counts save every 100 steps."""
    if steps is None or steps <= 0:
        return 100
    return max(1, steps // CHECKPOINTS_PER_RUN)

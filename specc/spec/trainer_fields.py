"""The ``trainer_args`` escape hatch: every argument of each stage's TRL config class, as a committed list,
and the arguments specc already sets (from a spec field, or itself at run time), which the hatch refuses.

Why a committed list and not an import: ``validate``/``plan``/``compile`` never import trl, yet a misspelled
``trainer_args`` key must be a located error with a did-you-mean before anything trains.
``tests/test_trainer_args.py`` checks ``trainer_fields.json`` against the installed TRL (regenerate with
``SPECC_WRITE_TRAINER_FIELDS=1``), and the stage checks its keys again against the installed class at its start.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_CLASSES", "OWNED", "config_class", "fields_of", "all_fields", "unknown_key_message",
           "owned_key_message"]

FIELDS_FILE = Path(__file__).with_name("trainer_fields.json")

CONFIG_CLASSES: dict[str, str] = {
    "sft": "trl.SFTConfig", "dpo": "trl.DPOConfig", "kto": "trl.KTOConfig",
    "orpo": "trl.experimental.orpo.ORPOConfig", "reward": "trl.RewardConfig",
    "rl:rloo": "trl.RLOOConfig", "rl:grpo": "trl.GRPOConfig", "distill_logit": "trl.DistillationConfig",
}
"""Stage kind (``rl:<algorithm>`` for online RL) → the TRL config class its CONFIG["train"] is passed to."""

_SPEC = "method."
OWNED: dict[str, str] = {
    # set from a spec field: the field to use instead
    "learning_rate": _SPEC + "learning_rate (per stage: method.stages.<kind>.learning_rate)",
    "num_train_epochs": _SPEC + "epochs", "max_steps": _SPEC + "max_steps",
    "per_device_train_batch_size": _SPEC + "micro_batch_size",
    "gradient_accumulation_steps": _SPEC + "gradient_accumulation", "max_length": _SPEC + "max_seq_length",
    "activation_checkpointing": _SPEC + "gradient_checkpointing",
    "gradient_checkpointing": _SPEC + "gradient_checkpointing", "seed": _SPEC + "seed",
    "packing": _SPEC + "packing", "assistant_only_loss": _SPEC + "assistant_only_loss",
    "optim": _SPEC + "optim", "lr_scheduler_type": _SPEC + "lr_scheduler_type",
    "lr_scheduler_kwargs": _SPEC + "min_lr_rate", "warmup_steps": _SPEC + "warmup_steps",
    "warmup_ratio": _SPEC + "warmup_ratio", "weight_decay": _SPEC + "weight_decay",
    "max_grad_norm": _SPEC + "max_grad_norm", "beta": _SPEC + "beta",
    "num_generations": _SPEC + "num_generations", "temperature": _SPEC + "temperature",
    "max_completion_length": _SPEC + "max_completion_length", "reward_weights": _SPEC + "reward_functions[].weight",
    "eval_strategy": _SPEC + "eval_strategy", "eval_steps": _SPEC + "eval_steps", "save_steps": _SPEC + "save_steps",
    "load_best_model_at_end": _SPEC + "load_best_model_at_end",
    "metric_for_best_model": _SPEC + "metric_for_best_model",
    "per_device_eval_batch_size": _SPEC + "micro_batch_size",
    "use_liger_kernel": _SPEC + "use_liger_kernel",
    "bf16": _SPEC + "precision", "fp16": _SPEC + "precision", "use_cpu": "constraints.hardware.gpus",
    "push_to_hub": "outputs.push_to_hub (the push stage runs after the eval gate)",
    "hub_model_id": "outputs.hub_model_id", "hub_private_repo": "outputs.hub_private_repo",
    "hub_token": "the HF_TOKEN environment variable (a token is never written to a spec or a build)",
    "report_to": "tracking.backend", "run_name": "tracking (runs are named by stage id)",
    # set by specc itself: the build's layout and the runner depend on them
    "output_dir": "nothing: specc sets it (the build's artifacts/<stage> layout)",
    "save_strategy": "method.save_steps", "save_total_limit": "nothing: specc sets it (resume keeps the last checkpoints)",
    "logging_steps": "nothing: specc sets it (the runner's progress lines)",
    "disable_tqdm": "nothing: specc sets it (the runner's progress lines)",
    "resume_from_checkpoint": "nothing: specc resumes by itself (specc run --no-resume to start over)",
}
"""Config arguments ``trainer_args`` may not set → where the value comes from instead."""


@lru_cache(maxsize=1)
def _fields() -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in json.loads(FIELDS_FILE.read_text(encoding="utf-8")).items()}


def config_class(kind: str, rl_algorithm: str | None = None) -> str | None:
    """The TRL config class of a training stage kind (None: a stage kind without a trainer config)."""
    if kind == "rl":
        return CONFIG_CLASSES.get(f"rl:{rl_algorithm or 'rloo'}")
    return CONFIG_CLASSES.get(kind)


def fields_of(qualified: str) -> tuple[str, ...]:
    """The argument names of a config class, from the committed list."""
    return _fields()[qualified]


def all_fields() -> list[str]:
    """Every argument of any stage's config class (what a method-wide key may name)."""
    return sorted({name for names in _fields().values() for name in names})


def owned_key_message(key: str) -> str | None:
    """Why a key may not be given through trainer_args, with what to use instead (None: it may)."""
    use = OWNED.get(key)
    if use is None:
        return None
    if use.startswith("nothing"):
        return f"trainer_args.{key}: specc sets {key} itself ({use.split('(', 1)[-1].rstrip(')')})"
    return f"trainer_args.{key}: specc sets {key} from a spec field; use {use}"


def unknown_key_message(key: str, names: Any, where: str) -> str:
    """A key that is no argument of the config class(es): the message, with a did-you-mean."""
    from specc.spec.suggest import did_you_mean

    guess = did_you_mean(key, list(names))
    return (f"trainer_args.{key} is not an argument of {where}"
            + (f" (did you mean {guess!r}?)" if guess else "") + "; see that class's documentation")


# --- the spec field --------------------------------------------------------------------------------------------

from pydantic import Field, JsonValue, field_validator  # noqa: E402

from specc.spec.base import Strict  # noqa: E402


class TrainerArgsField(Strict):
    """``trainer_args``: further arguments of the stage's TRL config for which specc has no field."""

    trainer_args: dict[str, JsonValue] | None = Field(
        default=None,
        description=(
            "Escape hatch: more arguments of the trainer's TRL/transformers config (SFTConfig, DPOConfig, ...) "
            "that specc has no field for, e.g. {logging_first_step: true, dataloader_drop_last: true}. Literal "
            "values only. Checked against the config class's arguments (committed list) when planning and "
            "against the installed class when the stage starts; an argument specc sets from a spec field is "
            "refused with the field to use. Method-wide, or per stage under stages.<kind>.trainer_args."
        ),
    )

    @field_validator("trainer_args")
    @classmethod
    def _known_and_free(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if not v:
            return v
        names = set(all_fields())
        for key in v:
            owned = owned_key_message(key)
            if owned:
                raise ValueError(owned)
            if key not in names:
                raise ValueError(unknown_key_message(key, names, "any trainer config specc uses"))
        return v

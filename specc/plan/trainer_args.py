"""The trainer surface of a stage's CONFIG["train"]: optimisation and evaluation-during-training arguments,
laid out from ``plan.hyperparameters`` alone (never the Spec), under the TRL/transformers argument names.

Why apart from :mod:`specc.plan.stages`: the stage graph decides which stages exist and what they read;
this module only says which trainer arguments one stage gets, so a new setting is one line here.
"""

from __future__ import annotations

from typing import Any

from specc.plan.model import Plan
from specc.plan.trainer_settings import OPTIMISATION_KEYS, validation_stage_kind

__all__ = ["escape_args", "escape_config", "chat_template_entry", "optimisation_args", "evaluation_args", "evaluation_config", "validation_kind"]


def optimisation_args(plan: Plan, kind: str) -> dict[str, Any]:
    """optim, lr_scheduler_type(+kwargs), warmup_steps, weight_decay, max_grad_norm: method-wide values,
    then the stage's own overrides (``stage_overrides[kind]``)."""
    hp = plan.hyperparameters
    args = {key: hp[key] for key in OPTIMISATION_KEYS if key in hp}
    if "lr_scheduler_kwargs" in hp:
        args["lr_scheduler_kwargs"] = dict(hp["lr_scheduler_kwargs"])
    own = dict((hp.get("stage_overrides") or {}).get(kind, {}))
    if "lr_scheduler_type" in own and "lr_scheduler_kwargs" not in own:
        args.pop("lr_scheduler_kwargs", None)  # the stage's own schedule takes no floor
    args.update(own)
    return args


def validation_kind(plan: Plan) -> str | None:
    """The stage kind that evaluates on ``data.validation`` (None: no validation, or eval_strategy no)."""
    fact = next((d for d in plan.data if d.role == "validation"), None)
    if fact is None or plan.hyperparameters.get("eval_strategy", "no") == "no":
        return None
    return validation_stage_kind(list(plan.hyperparameters.get("learning_rates") or {}), fact.format)


def evaluation_args(plan: Plan, save_steps: int) -> dict[str, Any]:
    """eval_strategy/eval_steps (every save by default), best-checkpoint selection. With a best model
    kept, checkpoints are saved at every evaluation unless the plan pins save_steps (the spec checked
    that a pinned one is a multiple of eval_steps)."""
    hp = plan.hyperparameters
    eval_steps = int(hp.get("eval_steps") or save_steps)
    args: dict[str, Any] = {"eval_strategy": "steps", "eval_steps": eval_steps,
                            "per_device_eval_batch_size": int(hp["micro_batch_size"])}
    if hp.get("load_best_model_at_end"):
        args["load_best_model_at_end"] = True
        args["metric_for_best_model"] = str(hp["metric_for_best_model"])
        if hp.get("save_steps") is None:
            args["save_steps"] = eval_steps
    return args


def evaluation_config(plan: Plan, validation: dict[str, Any] | None) -> dict[str, Any]:
    """Stage CONFIG keys outside ``train``: the validation file (locked like training data) and early
    stopping (a callback, not a trainer argument: :func:`specc.runtime.common.stage_callbacks`)."""
    out: dict[str, Any] = {"validation": validation}
    patience = plan.hyperparameters.get("early_stopping_patience")
    if patience is not None:
        out["early_stopping"] = {"patience": int(patience)}
    return out


def chat_template_entry(plan: Plan) -> dict[str, Any] | None:
    """The stage CONFIG's ``chat_template`` (every stage that renders chats: baseline, training, merge,
    eval), or None for the tokenizer's own: ``{"name"}`` or ``{"name": "file", "spec_path", "sha256"}``."""
    choice = plan.hyperparameters.get("chat_template", "tokenizer")
    if choice == "tokenizer":
        return None
    if choice.endswith((".jinja", ".j2")):
        return {"name": "file", "spec_path": choice, "sha256": plan.hyperparameters.get("chat_template_sha256")}
    return {"name": choice}


def escape_args(plan: Plan, kind: str) -> dict[str, Any]:
    """The stage's ``trainer_args`` (the escape hatch, :mod:`specc.plan.escape`): arguments passed to its
    TRL config as the spec gave them."""
    return dict((plan.hyperparameters.get("trainer_args") or {}).get(kind, {}))


def escape_config(plan: Plan, kind: str) -> dict[str, Any]:
    """Stage CONFIG keys outside ``train`` for the escape hatch: ``trainer_args`` = the config class and the
    argument names, which :func:`specc.runtime.common.check_trainer_args` checks against the installed class
    at the stage's start (an upgrade that dropped one is one clear line, not a TypeError). Empty: none given."""
    from specc.spec.trainer_fields import config_class

    keys = sorted(escape_args(plan, kind))
    if not keys:
        return {}
    return {"trainer_args": {"config_class": config_class(kind, plan.hyperparameters.get("rl_algorithm")),
                             "arguments": keys}}

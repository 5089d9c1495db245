"""The one stage environment: the variables every stage runs with, whether run.sh or ``specc run`` starts it.

Why one definition: run.sh and the runner used to set their own lists, and one lacked ``TOKENIZERS_PARALLELISM``
(tokenizers then warn, or deadlock after a fork). Both now render or apply :func:`stage_environment`.
``WANDB_DIR`` is the build directory in both (run.sh: ``$PWD`` after its ``cd``; the runner: the build's path).
No value here is a secret: keys (``WANDB_API_KEY``, ``HF_TOKEN``) come from the user's environment only.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["stage_environment", "apply"]


def stage_environment(tracking: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(always, unless_set): variables set for every stage, and defaults that the user's own values override
    (a CI job can force ``SPECC_WANDB_MODE=offline``). ``tracking`` is the plan's Tracking or None."""
    always = {"TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    unless_set: dict[str, str] = {}
    if tracking is not None:
        always["SPECC_WANDB_GROUP"] = tracking.group
        unless_set["WANDB_PROJECT"] = tracking.project
        if tracking.entity:
            unless_set["WANDB_ENTITY"] = tracking.entity
        unless_set["SPECC_WANDB_MODE"] = tracking.mode if tracking.backend == "wandb" else "disabled"
    else:
        unless_set["SPECC_WANDB_MODE"] = "disabled"
    return always, unless_set


def apply(base: Mapping[str, str], tracking: Any, wandb_dir: str) -> dict[str, str]:
    """``base`` (the user's environment) with the stage environment applied, as the runner starts a stage."""
    env = dict(base)
    always, unless_set = stage_environment(tracking)
    env.update(always)
    for key, value in unless_set.items():
        env.setdefault(key, value)
    env["WANDB_DIR"] = wandb_dir
    return env

"""The names the installed training stack accepts for optimiser and scheduler settings, as committed lists.

Why committed lists and not an import: the spec is validated by light commands (``validate``, ``plan``,
``compile``) that never import transformers, yet an unknown optimizer must be a located spec error with a
did-you-mean, not a crash at the stage's start. ``tests/test_trainer_surface.py`` checks these lists
against the installed ``transformers.training_args.OptimizerNames`` and ``transformers.trainer_utils.SchedulerType``,
so a transformers upgrade that renames one fails a test, not a GPU job.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Optimizer", "Scheduler", "OPTIMIZERS", "SCHEDULERS", "BITSANDBYTES_OPTIMIZERS",
           "SCHEDULERS_WITHOUT_WARMUP"]

Optimizer = Literal[
    "adamw_torch", "adamw_torch_fused", "adamw_torch_xla", "adamw_torch_npu_fused", "adafactor",
    "adamw_anyprecision", "adamw_torch_4bit", "adamw_torch_8bit", "ademamix", "sgd", "adagrad",
    "adamw_bnb_8bit", "adamw_8bit", "ademamix_8bit", "lion_8bit", "lion_32bit", "paged_adamw_32bit",
    "paged_adamw_8bit", "paged_ademamix_32bit", "paged_ademamix_8bit", "paged_lion_32bit", "paged_lion_8bit",
    "rmsprop", "rmsprop_bnb", "rmsprop_bnb_8bit", "rmsprop_bnb_32bit", "galore_adamw", "galore_adamw_8bit",
    "galore_adafactor", "galore_adamw_layerwise", "galore_adamw_8bit_layerwise", "galore_adafactor_layerwise",
    "lomo", "adalomo", "grokadamw", "schedule_free_radam", "schedule_free_adamw", "schedule_free_sgd",
    "apollo_adamw", "apollo_adamw_layerwise", "stable_adamw",
]
"""transformers' ``OptimizerNames`` (the ``optim`` argument of every TRL config)."""

Scheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
    "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "cosine_warmup_with_min_lr",
    "warmup_stable_decay", "greedy",
]
"""transformers' ``SchedulerType`` (the ``lr_scheduler_type`` argument)."""

OPTIMIZERS: tuple[str, ...] = Optimizer.__args__  # type: ignore[attr-defined]
SCHEDULERS: tuple[str, ...] = Scheduler.__args__  # type: ignore[attr-defined]

BITSANDBYTES_OPTIMIZERS = frozenset(
    name for name in OPTIMIZERS
    if name.endswith(("_8bit", "_32bit")) and not name.startswith(("adamw_torch", "galore"))
    or name in ("adamw_bnb_8bit", "rmsprop_bnb")
)
"""Optimizers transformers builds from bitsandbytes (8-bit and paged variants): the stage checks that
bitsandbytes imports before it builds the trainer, so a missing install is one clear line."""

SCHEDULERS_WITHOUT_WARMUP = frozenset({"constant", "reduce_lr_on_plateau", "greedy"})
"""Schedulers that ignore warmup: a warmup asked for with one of them would silently not happen."""

SCHEDULERS_WITH_MIN_LR = frozenset({"cosine_with_min_lr", "cosine_warmup_with_min_lr"})
"""Schedulers that need a floor (``lr_scheduler_kwargs.min_lr_rate``); without one transformers raises."""

CHAT_TEMPLATE_NAMES: tuple[str, ...] = (
    "chatml", "cohere", "cohere2", "deepseek_r1_distill", "deepseekv3", "gemma", "gemma3", "glm4moe", "gptoss",
    "lfm2", "lfm2_v2", "llama3", "phi3", "phi3_5", "qwen2_5", "qwen3", "qwen3_instruct_2507",
)
"""Chat templates a spec may name: specc's ``chatml`` and the text templates TRL ships a training variant of
(``trl/chat_templates/<name>_training.jinja``: the same rendering, with ``{% generation %}`` markers so that
assistant-only loss masks). A test checks each against the installed TRL."""

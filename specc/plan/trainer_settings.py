"""Step 5b: the trainer surface of a plan — optimiser, schedule, RL sampling, evaluation during training
and per-stage overrides — resolved once, each value with its source, into ``plan.hyperparameters``.

Why apart from :mod:`specc.plan.hyperparameters`: that module resolves what every plan needs (sizes,
batch, memory-fit decisions); this one resolves the settings a practitioner names by the trainer's own
argument (``optim``, ``lr_scheduler_type``, ``eval_steps`` …). The stage builder reads only the results:
flat method-wide values, per-stage tables (``learning_rates``, ``epochs_by_stage``) and
``stage_overrides`` (kind → {trainer argument: value}) for the rest.
"""

from __future__ import annotations

from typing import Any

from specc.plan.defaults import DEFAULT_HYPERPARAMETERS
from specc.spec.trainer_names import SCHEDULERS_WITH_MIN_LR

__all__ = ["check_unused", "settle_assistant_only_loss", "resolve_chat_template", "resolve_trainer_settings", "OPTIMISATION_KEYS", "validation_stage_kind", "check_validation",
           "EVAL_KEYS"]

EVAL_KEYS = ("eval_steps", "load_best_model_at_end", "metric_for_best_model", "early_stopping_patience")
"""method keys that only mean something with data.validation."""

OPTIMISATION_KEYS = ("optim", "lr_scheduler_type", "warmup_steps", "weight_decay", "max_grad_norm")
"""Method-wide optimisation values, under the TRL/transformers argument names CONFIG["train"] uses."""

_SAMPLING = {"rl": {"beta": "rl_beta", "num_generations": "rl_num_generations", "temperature": "rl_temperature",
                    "max_completion_length": "rl_max_completion_length"},
             "dpo": {"beta": "dpo_beta"}, "kto": {"beta": "kto_beta"},
             "orpo": {"beta": "orpo_beta"}}
"""Spec name → plan key of the preference/RL values each stage kind has."""


def _warmup(settings: Any) -> tuple[float | int | None, bool]:
    """(the trainer's warmup_steps, whether the settings give one): a ratio is a float below 1."""
    if settings.warmup_ratio is not None:
        return float(settings.warmup_ratio), True
    if settings.warmup_steps is not None:
        return int(settings.warmup_steps), True
    return None, False


def validation_stage_kind(kinds: list[str], validation_format: str | None) -> str | None:
    """The training stage that evaluates on ``data.validation``: the first stage reading rows of its
    family (demonstrations → sft; preference pairs → dpo, orpo, reward, or kto, which unpairs them as it does its
    training pairs). None when no stage can."""
    if validation_format is None:
        return None
    wanted = {"preference": ("dpo", "orpo", "reward", "kto"),
              "unpaired_preference": ("kto",)}.get(validation_format, ("sft",))
    return next((k for k in kinds if k in wanted), None)


def resolve_trainer_settings(r: Any, spec: Any, method: str, kinds: list[str]) -> None:
    """Resolve the trainer surface into ``r`` (a :class:`specc.plan.hyperparameters._Resolved`)."""
    m = spec.method
    d = DEFAULT_HYPERPARAMETERS
    if not kinds:
        return
    for key in ("optim", "lr_scheduler_type", "weight_decay", "max_grad_norm"):
        r.pick(key, d[key])
    warm, given = _warmup(m)
    r.set("warmup_steps", warm if given else d["warmup_steps"], "spec" if given else "default")
    if r.values["lr_scheduler_type"] in SCHEDULERS_WITH_MIN_LR:
        rate = m.min_lr_rate if m.min_lr_rate is not None else d["min_lr_rate"]
        r.set("lr_scheduler_kwargs", {"min_lr_rate": rate}, "spec" if m.min_lr_rate is not None else "default")
    # preference / RL values: method-wide spec value, else the stage's, else the default (already set
    # by resolve_hyperparameters as rl_* / dpo_beta)
    for kind, names in _SAMPLING.items():
        if kind not in kinds:
            continue
        stage = getattr(m.stages, kind)
        for spec_key, plan_key in names.items():
            own = getattr(stage, spec_key) if stage is not None else None
            wide = getattr(m, spec_key)
            if own is not None:
                r.set(plan_key, own, "spec")
            elif wide is not None:
                r.set(plan_key, wide, "spec")
    overrides: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        stage = getattr(m.stages, kind, None)
        if stage is None:
            continue
        if stage.learning_rate is not None:
            r.values["learning_rates"][kind] = stage.learning_rate
            r.sources[f"learning_rates.{kind}"] = "spec"
        if stage.epochs is not None:
            r.values["epochs_by_stage"][kind] = float(stage.epochs)
            r.sources[f"epochs_by_stage.{kind}"] = "spec"
        own: dict[str, Any] = {}
        for key in ("optim", "lr_scheduler_type", "weight_decay", "max_grad_norm"):
            if getattr(stage, key) is not None:
                own[key] = getattr(stage, key)
        warm, given = _warmup(stage)
        if given:
            own["warmup_steps"] = warm
        schedule = own.get("lr_scheduler_type", r.values["lr_scheduler_type"])
        if schedule in SCHEDULERS_WITH_MIN_LR and (stage.min_lr_rate is not None or "lr_scheduler_type" in own):
            own["lr_scheduler_kwargs"] = {"min_lr_rate": stage.min_lr_rate if stage.min_lr_rate is not None
                                          else r.values.get("lr_scheduler_kwargs", {}).get("min_lr_rate",
                                                                                          d["min_lr_rate"])}
        if own:
            overrides[kind] = own
    if overrides:
        r.set("stage_overrides", overrides, "spec")
    for table, key in (("learning_rates", "learning_rate"), ("epochs_by_stage", "epochs")):
        values = set(r.values[table].values())
        if len(values) == 1:
            r.set(key, next(iter(values)), r.sources.get(f"{table}.{kinds[0]}", r.sources[table]))
        else:
            r.values.pop(key, None)
            r.sources.pop(key, None)
    _resolve_evaluation(r, spec, kinds)


def _resolve_evaluation(r: Any, spec: Any, kinds: list[str]) -> None:
    """Evaluation during training on ``data.validation``, best checkpoint, early stopping, save cadence."""
    m = spec.method
    validation = spec.data.validation
    if m.save_steps is not None:
        r.set("save_steps", int(m.save_steps), "spec")
    if validation is None:
        return
    strategy = m.eval_strategy or "steps"
    r.set("eval_strategy", strategy, "spec" if m.eval_strategy else "derived")
    if strategy == "no":
        return
    if m.eval_steps is not None:
        r.set("eval_steps", int(m.eval_steps), "spec")
    patience = m.early_stopping_patience
    best = bool(m.load_best_model_at_end) or patience is not None
    if best:
        r.set("load_best_model_at_end", True, "spec" if m.load_best_model_at_end else "derived")
        r.pick("metric_for_best_model", "eval_loss")
        # a paced (skipped) save would drop the best checkpoint the trainer points at: save at every evaluation
        r.set("checkpoint_min_interval_s", 0, "derived")
    if patience is not None:
        r.set("early_stopping_patience", int(patience), "spec")


def check_unused(spec: Any, kinds: list[str], t: Any) -> None:
    """Errors for method settings no stage of the plan reads: per-stage overrides of an absent stage kind,
    and sampling settings (beta: dpo/orpo/kto/rl; the rest: rl) on a plan without such a stage."""
    from specc.spec.training import STAGE_ONLY_KEYS

    m = spec.method
    for kind in type(m.stages).model_fields:
        if getattr(m.stages, kind) is not None and kind not in kinds:
            t.find("METHOD-SETTING-UNUSED", f"method.stages.{kind} is set but the plan has no {kind} stage "
                   f"(its training stages: {', '.join(kinds) or 'none'})", f"drop method.stages.{kind}")
    for key, stage_kinds in STAGE_ONLY_KEYS.items():
        if getattr(m, key) is not None and not set(kinds) & stage_kinds:
            t.find("METHOD-SETTING-UNUSED", f"method.{key} is set but no stage of the plan reads it "
                   f"(only {', '.join(sorted(stage_kinds))} stages do)", f"drop method.{key}")


def settle_assistant_only_loss(spec: Any, data: list[Any], values: dict[str, Any], sources: dict[str, str],
                               t: Any) -> None:
    """``assistant_only_loss`` against the rows actually read: only chat (messages) rows have assistant
    turns to mask. A derived ``True`` on other rows becomes ``False`` (prompt/completion rows get TRL's
    completion-only loss instead); one the spec asked for is an error, since it cannot be honoured."""
    if "assistant_only_loss" not in values or spec.data.train is None:
        return
    fact = next((d for d in data if d.role == "train" and d.exists), None)
    chat = any(d.format == "messages" for d in data if d.role == "train" and d.exists)  # a mix with chat: messages
    if fact is None or chat or not values["assistant_only_loss"]:
        return
    if sources.get("assistant_only_loss") == "spec":
        t.find("METHOD-SETTING-UNUSED",
               f"method.assistant_only_loss is true but data.train ({fact.path}) holds {fact.format} rows, which "
               "have no assistant turns to mask", "drop it: prompt/completion rows are trained on the completion "
               "only anyway (TRL's completion-only loss)")
        return
    values["assistant_only_loss"] = False
    sources["assistant_only_loss"] = "derived"


def check_validation(spec: Any, data: list[Any], kinds: list[str], t: Any) -> None:
    """Findings for evaluation settings that could not take effect: no validation split for them, or a
    split no stage of the plan can evaluate (its format belongs to no training stage)."""
    m = spec.method
    asked = [k for k in EVAL_KEYS if getattr(m, k) not in (None, False)]
    if m.eval_strategy == "steps":
        asked.insert(0, "eval_strategy")
    if spec.data.validation is None:
        if asked:
            t.find("DATA-VALIDATION-NEEDED",
                   f"method.{asked[0]} asks for evaluation during training, but data.validation is not given",
                   "add data.validation: {path: ...} (rows in the training stage's format), or drop "
                   + ", ".join(f"method.{k}" for k in asked))
        return
    fact = next((d for d in data if d.role == "validation"), None)
    if fact is None or not fact.exists or m.eval_strategy == "no":
        return
    if validation_stage_kind(kinds, fact.format) is None:
        t.find("DATA-VALIDATION-UNUSED",
               f"data.validation ({fact.path}) holds {fact.format} rows, which no stage of this plan "
               f"({', '.join(kinds) or 'none'}) trains on",
               "demonstrations are evaluated by sft, preference pairs by dpo or reward, unpaired ones by kto")


def resolve_chat_template(spec: Any, base_dir: Any, values: dict[str, Any], sources: dict[str, str], t: Any) -> None:
    """``chat_template``: tokenizer (default), a named template, or a .jinja file next to the spec, locked
    by its sha256 (``chat_template_sha256``) like a data file, so an edited template is refused at run time."""
    import hashlib
    from pathlib import Path

    choice = spec.method.chat_template
    values["chat_template"] = choice or "tokenizer"
    sources["chat_template"] = "spec" if choice else "default"
    if not choice or not choice.endswith((".jinja", ".j2")):
        return
    file = Path(base_dir) / choice
    try:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError as exc:
        t.find("DATA-MISSING", f"method.chat_template file {choice!r} cannot be read ({exc.strerror or exc})",
               "the path is relative to the spec's directory")
        return
    values["chat_template_sha256"] = digest
    sources["chat_template_sha256"] = "derived"

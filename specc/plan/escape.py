"""Step 5c: ``method.trainer_args`` (and ``method.stages.<kind>.trainer_args``) resolved per training stage.

Why apart from :mod:`specc.plan.trainer_settings`: those are settings specc knows by name and resolves with
defaults; these are arguments it has no field for, passed through untouched. The spec already refused unknown
names and the ones specc sets itself; here each key is checked against the config class of every stage it
reaches (a method-wide key must be an argument of all of them, so nothing is silently dropped), and the result
is recorded in ``plan.hyperparameters["trainer_args"]`` (kind → {argument: value}) with the source
``spec:trainer_args``. :func:`specc.plan.trainer_args.extra_args` lays it into CONFIG["train"].
"""

from __future__ import annotations

from typing import Any

from specc.spec.trainer_fields import config_class, fields_of, unknown_key_message

__all__ = ["resolve_trainer_args", "SOURCE"]

SOURCE = "spec:trainer_args"


def resolve_trainer_args(spec: Any, hp: dict[str, Any], sources: dict[str, str], t: Any) -> None:
    """Per-stage escape-hatch arguments into ``hp["trainer_args"]``; a key no stage can take is an error."""
    m = spec.method
    kinds = list(hp.get("learning_rates") or {})
    wide = dict(m.trainer_args or {})
    out: dict[str, dict[str, Any]] = {}
    if wide and not kinds:
        t.find("METHOD-SETTING-UNUSED", "method.trainer_args is set but the plan has no training stage",
               "drop method.trainer_args")
    for kind in kinds:
        cls = config_class(kind, hp.get("rl_algorithm"))
        if cls is None:
            continue
        stage = getattr(m.stages, kind, None)
        own = dict((stage.trainer_args if stage is not None else None) or {})
        names = set(fields_of(cls))
        for key in sorted(wide):
            if key not in names:
                t.find("METHOD-TRAINER-ARG-UNKNOWN",
                       f"method.trainer_args.{key}: the {kind} stage's {cls} has no argument {key}",
                       f"give it to the stages that take it: method.stages.<kind>.trainer_args.{key}")
        for key in sorted(own):
            if key not in names:
                t.find("METHOD-TRAINER-ARG-UNKNOWN", unknown_key_message(key, names, cls).replace(
                    "trainer_args.", f"method.stages.{kind}.trainer_args.", 1), "")
        merged = {k: v for k, v in {**wide, **own}.items() if k in names}
        if merged:
            out[kind] = dict(sorted(merged.items()))
    if out:
        hp["trainer_args"] = out
        sources["trainer_args"] = SOURCE

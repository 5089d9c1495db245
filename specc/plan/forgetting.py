"""Forgetting risk: how much a tune may erode what the model could already do, estimated before training.

The seed's words: forgetting rises with the parameters trained and the steps taken, and LoRA forgets less than
full fine-tuning. specc turns that into one transparent number,

    exposure = trainable parameters × optimizer steps × narrowness

where *narrowness* is 2 for a single wanted behaviour (one narrow task), 1 for two, 0.5 for three or more, and
doubles again when the data is seen more than three times (epochs > 3). The level is ``low`` below 1e11,
``medium`` below 1e13 and ``high`` from there on. The thresholds are placed so that LoRA on a few thousand rows is
low, full tuning of an 8B model on a few thousand rows is medium, and millions of rows or many epochs are high;
they rank plans, they do not predict a score drop. The eval contract still measures the real drop.

What the level drives: the plan's FORGETTING-* rules, recommendations (LoRA over full, fewer epochs, replay data)
and the advice the eval stage prints when the forgetting gate fails (``contract.forgetting_advice``).

Replay is advised in one wording everywhere (:func:`replay_advice`): a concrete ``data.replay`` snippet at
:data:`SUGGESTED_REPLAY_RATIO`, only where the plan has an SFT stage on data.train to mix it into, and never when
``data.replay`` is already given (nothing is recommended that the spec already does). The same words serve the
high-risk warning (FORGETTING-RISK-HIGH, advised now), the remedy for a failed gate (CONTRACT-FORGETTING-REMEDY,
advised for later) and the gate's failure message.
"""

from __future__ import annotations

from specc.plan.model import ForgettingRisk
from specc.plan.trace import Trace

__all__ = ["LOW_BELOW", "MEDIUM_BELOW", "SUGGESTED_REPLAY_RATIO", "assess_forgetting", "gate_advice",
           "replay_advice"]

LOW_BELOW = 1e11
MEDIUM_BELOW = 1e13

SUGGESTED_REPLAY_RATIO = 0.5
"""The replay share the planner suggests: as many general rows as task rows (the mix the demo's remedy arm
measures on the tiny model). The spec's ``data.replay.ratio`` is the user's to tune."""


def replay_advice(task_rows: int | None) -> str:
    """The one replay suggestion: a ``data.replay`` line to paste, and how many general rows it mixes in."""
    from specc.data.mixture import replay_rows

    about = f" (about {replay_rows(task_rows, SUGGESTED_REPLAY_RATIO)} general examples)" if task_rows else ""
    return (f"Replay general data: add `data.replay: {{path: data/general.jsonl, ratio: {SUGGESTED_REPLAY_RATIO:g}}}`"
            f"{about}: general instruction rows in the task's format (never the suites' or the golden set's rows), "
            "mixed into the SFT stage, keep the old skills exercised.")


def _narrowness(behaviours: int, epochs: float) -> tuple[float, str]:
    factor = 2.0 if behaviours <= 1 else 1.0 if behaviours == 2 else 0.5
    words = {2.0: "one behaviour (narrow)", 1.0: "two behaviours", 0.5: f"{behaviours} behaviours (broad)"}[factor]
    if epochs > 3:
        factor *= 2
        words += f"; {epochs:g} epochs repeat the same rows"
    return factor, words


def assess_forgetting(*, budget: str | None, trainable: int | None, steps: int | None, epochs: float,
                      behaviours: int, rows: int | None, t: Trace, replay: float | None = None,
                      replay_applies: bool = False, task_rows: int | None = None) -> ForgettingRisk | None:
    """Estimate the risk, fire the FORGETTING-* rules and return the advice the contract carries.

    ``replay`` is ``data.replay.ratio`` when given (then replay is not advised: it is done);
    ``replay_applies``: the plan has an SFT stage on data.train that replay rows could join."""
    if budget is None or trainable is None or not steps:
        return None
    factor, words = _narrowness(behaviours, epochs)
    exposure = float(trainable) * steps * factor
    level = "low" if exposure < LOW_BELOW else "medium" if exposure < MEDIUM_BELOW else "high"
    t.decide("FORGETTING-RISK-ESTIMATE",
             f"{trainable:,} trainable parameters ({budget}) × {steps:,} optimizer steps × narrowness {factor:g} "
             f"({words}) = {exposure:.2g}: {level} (low < {LOW_BELOW:.0e}, medium < {MEDIUM_BELOW:.0e})"
             + (f"; data.replay mixes general rows in at {replay:g} of the SFT data." if replay else "."),
             verdict=f"forgetting risk: {level}")
    advice: list[str] = []
    if budget == "full" and level != "low":
        advice.append("Tune with LoRA instead of full fine-tuning (method.parameter_budget: lora): it trains a few "
                      "percent of the weights and forgets less.")
        t.find("FORGETTING-FULL-TUNE",
               f"full fine-tuning with {level} forgetting risk: every one of {trainable:,} weights moves",
               "prefer LoRA (method.parameter_budget: lora, or allow_full_finetune: false) unless the goal truly "
               "needs full tuning")
    if level == "high":
        if epochs > 1:
            advice.append(f"Train fewer epochs (method.epochs: 1 instead of {epochs:g}), or cap method.max_steps.")
        if replay_applies and not replay:
            advice.append(replay_advice(task_rows))
        t.find("FORGETTING-RISK-HIGH",
               f"forgetting risk is high: {trainable:,} trainable parameters × {steps:,} steps"
               + (f" over {rows:,} rows" if rows else "") + f" ({words})",
               "; ".join(a.rstrip(".") for a in advice))
    if level != "low":
        advice.append("Lower the learning rate (method.learning_rate) for a gentler update.")
    for line in advice:
        t.recommend(line)
    return ForgettingRisk(level=level, trainable_parameters=trainable, optimizer_steps=steps, narrowness=factor,
                          narrowness_reason=words, exposure=float(f"{exposure:.4g}"), advice=advice)


def gate_advice(risk: ForgettingRisk | None, budget: str | None, epochs: float, *, replay: float | None = None,
                replay_applies: bool = False, task_rows: int | None = None) -> list[str]:
    """What the eval stage prints when the forgetting gate fails: the risk's advice, or — when the estimate was
    low and forgetting happened anyway — the same levers in order of cost (the gate measured what the estimate
    only ranked). Replay is named with its ``data.replay`` snippet where the plan can take it and does not yet;
    with ``data.replay`` given, the advice is to raise its ratio."""
    raise_ratio = f"Raise data.replay.ratio (now {replay:g}): more general rows in the SFT stage's mix." if replay else None
    if risk is not None and risk.advice:
        return list(risk.advice) + ([raise_ratio] if raise_ratio else [])
    out = []
    if budget == "full":
        out.append("Tune with LoRA instead of full fine-tuning (method.parameter_budget: lora): it forgets less.")
    out.append("Lower the learning rate (method.learning_rate) or train fewer steps (method.epochs"
               + (f", now {epochs:g}" if epochs else "") + ", or method.max_steps).")
    if raise_ratio:
        out.append(raise_ratio)
    elif replay_applies:
        out.append(replay_advice(task_rows))
    return out

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
"""

from __future__ import annotations

from specc.plan.model import ForgettingRisk
from specc.plan.trace import Trace

__all__ = ["LOW_BELOW", "MEDIUM_BELOW", "assess_forgetting", "gate_advice"]

LOW_BELOW = 1e11
MEDIUM_BELOW = 1e13


def _narrowness(behaviours: int, epochs: float) -> tuple[float, str]:
    factor = 2.0 if behaviours <= 1 else 1.0 if behaviours == 2 else 0.5
    words = {2.0: "one behaviour (narrow)", 1.0: "two behaviours", 0.5: f"{behaviours} behaviours (broad)"}[factor]
    if epochs > 3:
        factor *= 2
        words += f"; {epochs:g} epochs repeat the same rows"
    return factor, words


def assess_forgetting(*, budget: str | None, trainable: int | None, steps: int | None, epochs: float,
                      behaviours: int, rows: int | None, t: Trace) -> ForgettingRisk | None:
    """Estimate the risk, fire the FORGETTING-* rules and return the advice the contract carries."""
    if budget is None or trainable is None or not steps:
        return None
    factor, words = _narrowness(behaviours, epochs)
    exposure = float(trainable) * steps * factor
    level = "low" if exposure < LOW_BELOW else "medium" if exposure < MEDIUM_BELOW else "high"
    t.decide("FORGETTING-RISK-ESTIMATE",
             f"{trainable:,} trainable parameters ({budget}) × {steps:,} optimizer steps × narrowness {factor:g} "
             f"({words}) = {exposure:.2g}: {level} (low < {LOW_BELOW:.0e}, medium < {MEDIUM_BELOW:.0e}).",
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
        advice.append("Mix replay data into data.train: general instruction rows (about 5–10% of the set) keep "
                      "the old skills exercised.")
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


def gate_advice(risk: ForgettingRisk | None, budget: str | None, epochs: float) -> list[str]:
    """What the eval stage prints when the forgetting gate fails: the risk's advice, or — when the estimate was
    low and forgetting happened anyway — the same levers in order of cost (the gate measured what the estimate
    only ranked)."""
    if risk is not None and risk.advice:
        return list(risk.advice)
    out = []
    if budget == "full":
        out.append("Tune with LoRA instead of full fine-tuning (method.parameter_budget: lora): it forgets less.")
    out.append("Lower the learning rate (method.learning_rate) or train fewer steps (method.epochs"
               + (f", now {epochs:g}" if epochs else "") + ", or method.max_steps).")
    out.append("Mix replay data into data.train: general instruction rows (about 5–10% of the set) keep the old "
               "skills exercised.")
    return out

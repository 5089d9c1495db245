"""``data.replay``: where general rows join training, checked at plan time.

Why a module of its own: replay rows are demonstrations, so they can only join a stage that trains on
demonstrations — the SFT stage on data.train (method sft, or the SFT stage before DPO/KTO/ORPO/RLHF/GRPO).
A plan without one (preference-only DPO, distillation) would silently ignore them, so that is a located error;
so is a replay source whose rows are in another format than data.train's (the stage could not concatenate
them). The rows and tokens replay adds are in its DataFact (:func:`specc.plan.inputs.read_data`); the draw
itself is :func:`specc.data.mixture.replay_rows`, in the stage (:func:`specc.runtime.common.mix_replay`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from specc.plan.model import DataFact
from specc.plan.stages import SFT_ON_TRAIN_METHODS
from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["SFT_ON_TRAIN_METHODS", "check_replay", "replay_applies"]



def replay_applies(method: str, data: list[DataFact]) -> bool:
    """Whether the plan has an SFT stage on data.train, the stage replay rows join."""
    return method in SFT_ON_TRAIN_METHODS and any(d.role == "train" for d in data)


def check_replay(spec: Spec, method: str, data: list[DataFact], t: Trace,
                 locations: dict[Any, Any] | None = None, spec_file: str = "spec.yaml") -> None:
    """Errors for a replay the plan cannot use, else the decision that says what it adds to the SFT stage."""
    replay = spec.data.replay
    if replay is None:
        return
    loc = (locations or {}).get(("data", "replay"))
    at = f"{Path(spec_file).name}:{loc[0]}:{loc[1]}: " if loc else ""
    if not replay_applies(method, data):
        t.find("DATA-REPLAY-NO-SFT",
               f"{at}data.replay ({replay.where}) is given, but this {method} plan has no SFT stage on data.train "
               "for its rows to join",
               "add data.train (demonstrations: the plan then starts with an SFT stage that mixes the replay "
               "rows in), or drop data.replay")
        return
    fact = next((d for d in data if d.role == "replay"), None)
    train = sorted({d.format for d in data if d.role == "train" and d.exists})
    if fact is None or not fact.exists:
        return  # a missing or unreadable source is reported by the data rules already
    if len(train) == 1 and fact.format != train[0]:
        t.find("DATA-REPLAY-FORMAT",
               f"{at}data.replay ({replay.where}) holds {fact.format} rows, data.train holds {train[0]} rows: the "
               "SFT stage trains on one row format",
               f"map the replay source to {train[0]} (format:, columns:) or pick a replay source in that format")
        return
    mix = fact.mix or {}
    if mix.get("rows_used") is not None:
        used, task = int(mix["rows_used"]), int(mix["task_rows"])
        repeated = f"; its {fact.rows} rows repeat to fill the share" if used > (fact.rows or 0) else ""
        t.decide("DATA-REPLAY",
                 f"{used} rows of {replay.where} (~{mix.get('tokens', 0):,} tokens) join the {task} task rows of "
                 f"the SFT stage: {used / (used + task):.1%} of its {used + task} rows (ratio {replay.ratio:g}), "
                 f"drawn with the seed{repeated}.")

"""Checks ``specc run`` makes before its first stage: things a stage would only discover minutes in.

Why here and not in the plan: a plan may be made and compiled where the weights are not (a reviewer's
laptop, CI), so a missing local model is only a warning there. Running is different: the firewall stage
would pass and the baseline stage would then die inside transformers. So the runner looks for every local
model directory that the stages about to run load, and stops with one line per missing model, naming the
spec key and the command that fixes it (:mod:`specc.runtime.localmodel`).

Why stop rather than build specc's tiny model when the path is where the examples expect it: a missing
directory is as often a typo or a model not yet copied over, and training specc's model in its place would
run something the spec's author did not choose, silently. Building the demo-size model also takes minutes
of CPU that ``specc run`` was not asked to spend, and the plan in the build was made without the model
(its size unknown), so the honest order is: build it, then compile and run. The message gives the one
command that does the first step (``specc tiny-model --link PATH``).

Light: standard library and specc's pydantic plan only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from specc.plan.model import Plan, Stage
from specc.runtime import localmodel

MODEL_KEYS = ("model", "teacher")
"""Keys of a stage's config that name a model it loads (``model`` is the teacher in a generate stage)."""


def missing_models(build_dir: Path, plan: Plan, stages: Iterable[Stage], spec_dir: Path | None,
                   cwd: Path | None = None) -> list[str]:
    """One message per local model that a stage in ``stages`` loads and that is not there.

    ``spec_dir`` is where the spec's relative paths resolve (see ``runner.spec_dir_of``); None (an old
    build that does not record it) skips the check, and the stages' own check still applies.
    """
    if spec_dir is None:
        return []
    roles = {m.ref: m.role for m in plan.models if m.source == "local"}
    messages: list[str] = []
    seen: set[str] = set()
    for stage in stages:
        for key in MODEL_KEYS:
            model = stage.config.get(key)
            if not isinstance(model, dict) or model.get("source") != "local":
                continue
            ref = model.get("ref")
            if not isinstance(ref, str) or ref in seen:
                continue
            seen.add(ref)
            directory = spec_dir / ref
            why = localmodel.problem(directory)
            if why is None:
                continue
            messages.append(localmodel.missing_message(
                ref=ref, role=roles.get(ref), spec_file=plan.spec_file, directory=directory,
                shown=localmodel.shown_path(directory, cwd), why=why))
    return messages

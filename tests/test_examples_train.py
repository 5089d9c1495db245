"""The example specs of the new methods run end to end (issue 12): specs/kto-tiny.yaml (KTO on answers
labelled good or bad) and specs/grpo-tiny.yaml (GRPO scored by built-in and user reward functions) are
planned, compiled and their emitted stages run on the tiny model — firewall, the SFT warm-up, then the
method's own stage — one optimiser step each (``--max-steps 1``), as shipped (only the model link is made)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _example(tmp_path: Path, tiny_model: Path, name: str) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(REPO / "specs", specs, ignore=shutil.ignore_patterns("models", "build"))
    (specs / "models").mkdir()
    (specs / "models" / "tiny-base").symlink_to(tiny_model, target_is_directory=True)
    return specs / f"{name}.yaml"


def _steps(proc) -> list[int]:
    return [json.loads(line[8:])["step"] for line in proc.stdout.splitlines()
            if line.startswith("@@specc ") and '"loss"' in line]


@pytest.mark.train
@pytest.mark.parametrize("name, method, kind", [("kto-tiny", "kto", "kto"), ("grpo-tiny", "grpo", "rl")])
def test_example_spec_trains_end_to_end(tmp_path, tiny_model, compile_spec, stage_runner, name, method, kind):
    plan, build = compile_spec(_example(tmp_path, tiny_model, name))
    assert plan.method == method and [s.kind for s in plan.stages][2:4] == ["sft", kind]
    stage_runner(build, plan.stage("firewall").script)
    assert _steps(stage_runner(build, plan.stage("sft").script, "--max-steps", "1")) == [1]
    proc = stage_runner(build, plan.stage(kind).script, "--max-steps", "1")
    assert _steps(proc) == [1], proc.stdout[-2000:]
    assert (build / plan.stage(kind).outputs["adapter"] / "adapter_model.safetensors").is_file()
    if method == "grpo":  # the user's reward function (specs/rewards/house_format.py) was called
        logged = [json.loads(line[8:]) for line in proc.stdout.splitlines() if line.startswith("@@specc ")]
        assert any(any(k.startswith("rewards/bracketed_upper") for k in e) for e in logged), logged[-1:]

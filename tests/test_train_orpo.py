"""ORPO (issue 12): method: orpo on preference pairs plans one ORPO stage (trl.experimental.orpo, no
reference model) whose CONFIG["train"] names only ORPOConfig fields, and it trains on the tiny model."""

from __future__ import annotations

import dataclasses
import json

import pytest


def _spec(write_spec):
    return write_spec(name="tiny-orpo", data={"preference": "preference.jsonl"}, method={"method": "orpo"})


def test_orpo_plans_one_stage_under_trls_names(write_spec):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(_spec(write_spec))
    assert plan.ok and plan.method == "orpo" and "METHOD-ORPO-PAIRS" in [d.rule for d in plan.decisions]
    assert [s.kind for s in plan.stages] == ["firewall", "baseline", "orpo", "merge", "eval"]
    train = plan.stage("orpo").config["train"]
    assert train["beta"] == 0.1 and train["gradient_checkpointing"] is False
    pytest.importorskip("trl")
    from trl.experimental.orpo import ORPOConfig

    assert sorted(set(train) - {f.name for f in dataclasses.fields(ORPOConfig)}) == []


@pytest.mark.train
def test_orpo_stage_trains_on_the_tiny_model(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(_spec(write_spec))
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage("orpo").script)
    steps = [json.loads(line[8:])["step"] for line in proc.stdout.splitlines()
             if line.startswith("@@specc ") and '"loss"' in line]
    assert steps == [1, 2], proc.stdout[-2000:]
    assert (build / plan.stage("orpo").outputs["adapter"] / "adapter_model.safetensors").is_file()

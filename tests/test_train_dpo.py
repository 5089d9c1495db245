"""End to end: the emitted DPO stage (ref_model=None + LoRA) trains on preference pairs, and the merge
stage folds its adapter into the base."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.train


def test_dpo_lora_then_merge(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec(name="tiny-dpo", method={"method": "dpo"},
                                          data={"preference": "preference.jsonl"}))
    assert [s.id for s in plan.stages] == ["firewall", "baseline", "dpo", "merge", "eval"]
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage("dpo").script)
    logged = [json.loads(l[8:]) for l in proc.stdout.splitlines() if l.startswith("@@specc ")]
    assert [e["step"] for e in logged if "loss" in e] == [1, 2]
    assert any(k.startswith("rewards/") for e in logged for k in e)
    assert (build / "artifacts/dpo/adapter/adapter_config.json").is_file()
    stage_runner(build, plan.stage("merge").script)
    assert (build / "artifacts/merge/model/model.safetensors").is_file()

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


def _merged(base_dir, adapters):
    """State dict of the base with ``adapters`` merged in order (each on the previous result)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base_dir))
    for adapter in adapters:
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_sft_then_dpo_merge_keeps_the_sft_training(write_spec, compile_spec, stage_runner):
    import torch
    from transformers import AutoModelForCausalLM

    plan, build = compile_spec(write_spec(name="tiny-sft-dpo", method={"method": "dpo"},
                                          data={"train": "train.jsonl", "preference": "preference.jsonl"}))
    assert [s.id for s in plan.stages] == ["firewall", "baseline", "sft", "dpo", "merge", "eval"]
    for sid in ("firewall", "sft", "dpo", "merge"):
        stage_runner(build, plan.stage(sid).script)
    base = build.parent.parent / "model"
    sft, dpo = build / "artifacts/sft/adapter", build / "artifacts/dpo/adapter"
    merged = AutoModelForCausalLM.from_pretrained(str(build / "artifacts/merge/model")).state_dict()
    chain = _merged(base, [sft, dpo])
    dpo_only = _merged(base, [dpo])
    sft_only = _merged(base, [sft])
    assert merged.keys() == chain.keys()
    assert all(torch.allclose(merged[k], chain[k], atol=1e-6) for k in chain)
    gap = max((merged[k] - dpo_only[k]).abs().max().item() for k in chain)
    assert gap > 1e-6, "the merged model is base + DPO only: the SFT training was lost"
    assert max((chain[k] - sft_only[k]).abs().max().item() for k in chain) > 0  # and DPO did train

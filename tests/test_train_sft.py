"""End to end: the emitted SFT pipeline (firewall → baseline → sft → merge → eval) runs as subprocesses
on the tiny local model; each stage writes its declared outputs and the next consumes them."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.train


def _events(stdout: str) -> list[dict]:
    return [json.loads(line[len("@@specc "):]) for line in stdout.splitlines() if line.startswith("@@specc ")]


def test_sft_lora_pipeline_end_to_end(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec())
    assert [s.id for s in plan.stages] == ["firewall", "baseline", "sft", "merge", "eval"]
    script = {s.id: s.script for s in plan.stages}

    stage_runner(build, script["firewall"])
    assert json.loads((build / "reports/firewall.json").read_text())["passed"] is True
    stage_runner(build, script["baseline"])
    baseline = json.loads((build / "results/baseline.json").read_text())
    assert set(baseline["suites"]) == {"arithmetic", "capitals"} and baseline["target"]["n"] == 8

    proc = stage_runner(build, script["sft"])
    steps = [e["step"] for e in _events(proc.stdout) if "loss" in e]
    assert steps == [1, 2]
    adapter = build / plan.stage("sft").outputs["adapter"]
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((build / "artifacts/sft/specc_done.json").read_text())["stage"] == "sft"

    stage_runner(build, script["merge"])
    merged = build / plan.stage("merge").outputs["model"]
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()

    proc = stage_runner(build, script["eval"], check=False)
    result = json.loads((build / "results/eval.json").read_text())
    verdict = result["verdict"]
    assert set(result["suites"]) == {"arithmetic", "capitals"}
    assert proc.returncode == (0 if verdict["passed"] else 3), proc.stderr[-2000:]
    # The tiny model cannot reach the 0.5 bar in two steps: the gate must say so, and exit 3.
    assert verdict["passed"] is False and proc.returncode == 3


def test_training_refuses_without_firewall_and_on_changed_data(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec())
    proc = stage_runner(build, plan.stage("sft").script, check=False)
    assert proc.returncode == 3 and "firewall" in proc.stderr
    stage_runner(build, plan.stage("firewall").script)
    train = build.parent.parent / "data" / "train.jsonl"
    train.write_text(train.read_text() + '{"messages": []}\n')
    proc = stage_runner(build, plan.stage("sft").script, check=False)
    assert proc.returncode == 3 and "data/train.jsonl changed" in proc.stderr


def test_firewall_fails_on_golden_overlap(write_spec, compile_spec, stage_runner):
    spec = write_spec()
    data = spec.parent / "data"
    (data / "train.jsonl").write_text((data / "train.jsonl").read_text() + (data / "golden.jsonl").read_text())
    plan, build = compile_spec(spec)
    proc = stage_runner(build, plan.stage("firewall").script, check=False)
    assert proc.returncode == 3
    assert json.loads((build / "reports/firewall.json").read_text())["passed"] is False


def test_sft_resumes_from_checkpoint(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec())
    stage_runner(build, plan.stage("firewall").script)
    sft = plan.stage("sft").script
    stage_runner(build, sft, "--max-steps", "2")
    assert (build / "artifacts/sft/checkpoints/checkpoint-2").is_dir()
    proc = stage_runner(build, sft, "--max-steps", "4")
    assert "resuming from" in proc.stderr and "checkpoint-2" in proc.stderr
    steps = [e["step"] for e in _events(proc.stdout) if "loss" in e]
    assert steps == [3, 4]
    assert (build / "artifacts/sft/checkpoints/checkpoint-4").is_dir()


def test_sft_full_on_prompt_completion(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec(method={"parameter_budget": "full"}, allow_full=True,
                                          data={"train": "train_pc.jsonl"}))
    assert plan.parameter_budget == "full"
    assert [s.id for s in plan.stages] == ["firewall", "baseline", "sft", "eval"]
    stage_runner(build, plan.stage("firewall").script)
    stage_runner(build, plan.stage("sft").script)
    model = build / plan.stage("sft").outputs["model"]
    assert (model / "model.safetensors").is_file() and (model / "tokenizer.json").is_file()
    assert plan.stage("eval").config["init"] == {"model": "artifacts/sft/model"}

"""End to end (issue 12): an SFT stage evaluates on data.validation every step, keeps the best checkpoint
by eval_loss and runs with early stopping, all from the spec, on the tiny model (2 optimiser steps)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.train


def _events(stdout: str) -> list[dict]:
    return [json.loads(line[len("@@specc "):]) for line in stdout.splitlines() if line.startswith("@@specc ")]


def test_sft_evaluates_keeps_the_best_checkpoint_and_stops_early(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec(
        data={"train": "train.jsonl", "validation": "train_pc.jsonl"},
        method={"eval_steps": 1, "early_stopping_patience": 1, "lr_scheduler_type": "cosine",
                "warmup_steps": 1, "weight_decay": 0.01, "optim": "adamw_torch"}))
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage("sft").script)
    evals = [e for e in _events(proc.stdout) if "eval_loss" in e]
    assert [e["step"] for e in evals] == [1, 2], proc.stdout[-2000:]
    state = json.loads((build / "artifacts/sft/checkpoints/checkpoint-2/trainer_state.json").read_text())
    assert state["best_metric"] == min(e["eval_loss"] for e in evals)
    assert state["best_model_checkpoint"].endswith(f"checkpoint-{1 + [e['eval_loss'] for e in evals].index(state['best_metric'])}")
    assert "EarlyStoppingCallback" in state["stateful_callbacks"]
    assert state["stateful_callbacks"]["EarlyStoppingCallback"]["args"]["early_stopping_patience"] == 1
    assert (build / plan.stage("sft").outputs["adapter"] / "adapter_model.safetensors").is_file()

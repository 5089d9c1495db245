"""The forgetting gate on real runs: a destructive fine-tune trips it, a gentle one passes.

Both runs use the emitted stage scripts on the tiny local model (firewall → baseline → sft → [merge] →
eval). No target bar is set, so only forgetting decides: the destructive run trains every weight hard
on the narrow task (held-out NLL rises far past the budget), the gentle one takes one LoRA step at a
tiny learning rate (the scores stay within the budget or within noise).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_project, plan_and_compile, run_stage

SPEC = """\
specc: 1
name: {name}
goal:
  behaviours: [format]
  consistency_required: true
evidence:
  prompting: {{score: 0.0}}
constraints:
  hardware: {{gpus: 0, cpu_memory_gb: 16}}
  budget: {{allow_full_finetune: true}}
base_model: {{path: model, licence: apache-2.0}}
data:
  train: {{path: data/train.jsonl}}
  golden: {{path: data/golden.jsonl}}
  general_suites:
    - {{name: heldout-nll, kind: perplexity, path: data/suites/heldout_nll.jsonl}}
    - {{name: capitals, kind: multiple_choice, path: data/suites/capitals.jsonl}}
method:
{method}
eval:
  metric: exact_match
  max_new_tokens: 12
  forgetting: {{max_abs_drop: 0.05, max_rel_drop: 0.05}}
tracking: {{backend: none}}
"""


def _project(root: Path, tiny_data: Path, tiny_model: Path, name: str, method: dict) -> Path:
    make_project(root, tiny_data, tiny_model)
    lines = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in method.items())
    spec = root / "spec.yaml"
    spec.write_text(SPEC.format(name=name, method=lines), encoding="utf-8")
    return spec


def _run_pipeline(spec: Path) -> tuple[int, dict]:
    plan, build = plan_and_compile(spec)
    assert plan.ok, [f.message for f in plan.findings]
    for stage in plan.stages:
        proc = run_stage(build, stage.script, check=stage.kind != "eval")
    result = json.loads((build / "results" / "eval.json").read_text())
    _run_pipeline.eval_stderr = proc.stderr  # type: ignore[attr-defined]
    return proc.returncode, result["verdict"]


@pytest.mark.train
def test_destructive_finetune_trips_the_gate_and_gentle_one_passes(tmp_path, tiny_data, tiny_model):
    destructive = _project(tmp_path / "destructive", tiny_data, tiny_model, "destructive", {
        "parameter_budget": "full", "learning_rate": 0.05, "max_steps": 25, "micro_batch_size": 8,
        "gradient_accumulation": 1, "max_seq_length": 64})
    code, verdict = _run_pipeline(destructive)
    assert code == 3 and verdict["passed"] is False
    regressed = {s["suite"] for s in verdict["suites"] if s["status"] == "regressed"}
    assert "heldout-nll" in regressed, verdict
    nll = next(s for s in verdict["suites"] if s["suite"] == "heldout-nll")
    assert nll["tuned"] > nll["baseline"] + 0.05  # lower is better: a rise is forgetting
    # The plan's forgetting advice (contract.forgetting_advice) is printed with the failure.
    assert "[specc] advice: Tune with LoRA instead of full fine-tuning" in _run_pipeline.eval_stderr  # type: ignore[attr-defined]

    gentle = _project(tmp_path / "gentle", tiny_data, tiny_model, "gentle", {
        "parameter_budget": "lora", "lora_r": 4, "learning_rate": 1e-6, "max_steps": 1, "micro_batch_size": 4,
        "gradient_accumulation": 1, "max_seq_length": 64})
    code, verdict = _run_pipeline(gentle)
    assert verdict["passed"] is True and code == 0, verdict
    assert all(s["status"] in ("ok", "noise") for s in verdict["suites"])

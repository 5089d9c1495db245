"""The example specs plan as their comments promise, and their committed data is what the generator makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from specc.demo.example_data import write_example_data
from specc.plan.planner import plan_spec_file

SPECS = Path(__file__).resolve().parents[1] / "specs"

EXPECTED = {
    # spec: (levers, method, parameter budget, ok)
    "prompting-only": (["prompting"], "none", None, True),
    "retrieval-docs-qa": (["prompting", "retrieval"], "none", None, True),
    "retrieval-plus-style-lora": (["prompting", "retrieval", "fine_tune"], "sft", None, True),
    "sft-lora-tiny": (["prompting", "fine_tune"], "sft", "lora", True),
    "full-finetune-tiny": (["prompting", "fine_tune"], "sft", "full", True),
    "sft-lora-replay-tiny": (["prompting", "fine_tune"], "sft", "lora", True),
    "qlora-8b": (["prompting", "fine_tune"], "sft", "qlora", True),
    "dpo-tiny": (["prompting", "fine_tune"], "dpo", "lora", True),
    "rlhf-tiny": (["prompting", "fine_tune"], "rlhf", "lora", True),
    "distill-open-teacher": (["prompting", "distill"], "distill", None, True),
    "distill-closed-api": (["prompting", "distill"], "distill", None, False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_plans_as_documented(name: str):
    levers, method, budget, ok = EXPECTED[name]
    plan = plan_spec_file(SPECS / f"{name}.yaml")
    assert plan.levers == levers
    assert plan.method == method
    if budget is not None:
        assert plan.parameter_budget == budget
    assert plan.ok is ok, [f.message for f in plan.findings if f.level == "error"]
    assert plan.trains is (method != "none")
    if not ok:
        assert any(f.rule == "LICENCE-CLOSED-API-TEACHER" for f in plan.findings)


def test_committed_example_data_is_regenerated_byte_for_byte(tmp_path: Path):
    fresh = write_example_data(tmp_path)
    for name, path in fresh.items():
        committed = SPECS / "data" / path.name
        assert committed.read_bytes() == path.read_bytes(), f"{committed} is stale: run python -m specc.demo.example_data"


def test_the_planner_names_the_replay_remedy_the_demo_runs():
    """The demo's remedy arm is what rule CONTRACT-FORGETTING-REMEDY advises for the LoRA spec: the same
    budget and schedule, with as many general examples as task rows mixed into the training data."""
    lora = plan_spec_file(SPECS / "sft-lora-tiny.yaml")
    remedy = plan_spec_file(SPECS / "sft-lora-replay-tiny.yaml")
    fired = next(d for d in lora.decisions if d.rule == "CONTRACT-FORGETTING-REMEDY")
    assert "replay about 400 general examples" in fired.reason
    assert any("mix about 400 general-capability examples" in r for r in lora.recommendations)
    train = {d.role: d for d in remedy.data}["train"]
    assert train.rows == 800 and remedy.parameter_budget == lora.parameter_budget
    same = ("learning_rate", "epochs", "lora_r", "lora_alpha", "lora_targets", "micro_batch_size")
    assert {k: remedy.hyperparameters.get(k) for k in same} == {k: lora.hyperparameters.get(k) for k in same}

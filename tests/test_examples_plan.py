"""The example specs plan as their comments promise, and their committed data is what the generator makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from specc.demo.example_data import write_example_data
from specc.plan.planner import plan_spec_file

SPECS = Path(__file__).resolve().parents[1] / "specs"

UNSIZED = ["BUDGET-UNKNOWN-MODEL-SIZE"]  # the tiny base model is not built in a fresh checkout
ALIGNED = ["SAFETY-ALIGNED-BASE"]  # an instruct base tuned without a refusal suite in the contract

EXPECTED = {
    # spec: (levers, method, parameter budget, warning rule ids, error rule ids) — all exact
    "prompting-only": (["prompting"], "none", None, [], []),
    "retrieval-docs-qa": (["prompting", "retrieval"], "none", None, [], []),
    "retrieval-plus-style-lora": (["prompting", "retrieval", "fine_tune"], "sft", "lora", ALIGNED, []),
    "sft-lora-tiny": (["prompting", "fine_tune"], "sft", "lora", UNSIZED, []),
    "full-finetune-tiny": (["prompting", "fine_tune"], "sft", "full", UNSIZED, []),
    "sft-lora-replay-tiny": (["prompting", "fine_tune"], "sft", "lora", UNSIZED, []),
    "qlora-8b": (["prompting", "fine_tune"], "sft", "qlora", ALIGNED, []),
    "dpo-tiny": (["prompting", "fine_tune"], "dpo", "lora", UNSIZED, []),
    "kto-tiny": (["prompting", "fine_tune"], "kto", "lora", UNSIZED, []),
    "reward-tiny": (["prompting", "fine_tune"], "reward", "lora", UNSIZED, []),
    "grpo-tiny": (["prompting", "fine_tune"], "grpo", "lora", UNSIZED, []),
    "rlhf-tiny": (["prompting", "fine_tune"], "rlhf", "lora", UNSIZED, []),
    "distill-open-teacher": (["prompting", "distill"], "distill", "lora", ALIGNED, []),
    "distill-closed-api": (["prompting", "distill"], "distill", "lora", ["CONTRACT-NO-GENERAL-SUITE", *ALIGNED],
                           ["LICENCE-CLOSED-API-TEACHER"]),
}


@pytest.fixture(scope="module")
def fresh_specs(tmp_path_factory) -> Path:
    """specs/ as a fresh clone has it: the examples and their data, no locally built model."""
    out = tmp_path_factory.mktemp("specs")
    for path in SPECS.rglob("*"):
        rel = path.relative_to(SPECS)
        if rel.parts[0] in ("models", "build") or not path.is_file():
            continue
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(path.read_bytes())
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_plans_as_documented(name: str, fresh_specs: Path):
    levers, method, budget, warnings, errors = EXPECTED[name]
    plan = plan_spec_file(fresh_specs / f"{name}.yaml")
    assert (plan.levers, plan.method, plan.parameter_budget) == (levers, method, budget)
    assert sorted({f.rule for f in plan.findings if f.level == "warning"}) == warnings
    assert sorted({f.rule for f in plan.findings if f.level == "error"}) == errors
    assert plan.ok is (not errors)
    assert plan.trains is (method != "none")


def test_committed_example_data_is_regenerated_byte_for_byte(tmp_path: Path):
    fresh = write_example_data(tmp_path)
    for name, path in fresh.items():
        committed = SPECS / "data" / path.name
        assert committed.read_bytes() == path.read_bytes(), f"{committed} is stale: run python -m specc.demo.example_data"


def test_the_planner_names_the_replay_remedy_the_demo_runs():
    """The demo's remedy arm is what rule CONTRACT-FORGETTING-REMEDY advises for the LoRA spec: the same
    budget and schedule, with data.replay mixing as many general examples as task rows into the SFT stage."""
    lora = plan_spec_file(SPECS / "sft-lora-tiny.yaml")
    remedy = plan_spec_file(SPECS / "sft-lora-replay-tiny.yaml")
    fired = next(d for d in lora.decisions if d.rule == "CONTRACT-FORGETTING-REMEDY")
    assert "replay about 400 general examples" in fired.reason and "data.replay (ratio 0.5)" in fired.reason
    assert any("`data.replay: {path: data/general.jsonl, ratio: 0.5}` (about 400 general examples)" in r
               for r in lora.recommendations)
    data = {d.role: d for d in remedy.data}
    assert data["train"].rows == 400 and remedy.parameter_budget == lora.parameter_budget
    assert data["replay"].path == "data/general.jsonl" and data["replay"].mix["rows_used"] == 400
    # the remedy spec does what the advice says, so its plan does not advise it again
    assert not any("add `data.replay" in r for r in remedy.recommendations)
    assert "DATA-REPLAY" in {d.rule for d in remedy.decisions}
    same = ("learning_rate", "epochs", "lora_r", "lora_alpha", "lora_targets", "micro_batch_size")
    assert {k: remedy.hyperparameters.get(k) for k in same} == {k: lora.hyperparameters.get(k) for k in same}

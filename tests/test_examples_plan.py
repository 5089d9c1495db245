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

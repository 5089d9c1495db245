"""The scenario catalogue (tests/scenarios/catalogue.yaml): each spec's expected levers, method, budget
and fired rules. Table-driven so the decision guide's coverage is reviewable in one file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import make_fixture_dir, plan_for
from specc.plan.rules import RULES_BY_ID

CATALOGUE = yaml.safe_load((Path(__file__).parent / "scenarios" / "catalogue.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fixture_dir(tmp_path_factory.mktemp("scenarios"))


def _fired(plan: Any) -> set[str]:
    return {d.rule for d in plan.decisions} | {f.rule for f in plan.findings}


def test_catalogue_is_large_and_ids_unique() -> None:
    ids = [s["id"] for s in CATALOGUE]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)


def test_catalogue_names_only_documented_rules() -> None:
    for scenario in CATALOGUE:
        expect = scenario["expect"]
        for key in ("fired", "not_fired", "errors", "warnings", "infos"):
            for rule in expect.get(key, []):
                assert rule in RULES_BY_ID, f"{scenario['id']}: unknown rule {rule}"


@pytest.mark.parametrize("scenario", CATALOGUE, ids=[s["id"] for s in CATALOGUE])
def test_scenario(scenario: dict[str, Any], fixture_dir: Path) -> None:
    plan = plan_for(fixture_dir, scenario["spec"], name=f"{scenario['id']}.yaml")
    expect = scenario["expect"]
    fired = _fired(plan)
    for key in ("trains", "levers", "method", "distillation"):
        if key in expect:
            assert getattr(plan, key) == expect[key], f"{key}: {getattr(plan, key)!r}"
    if "budget" in expect:
        assert plan.parameter_budget == expect["budget"]
    for rule in expect.get("fired", []):
        assert rule in fired, f"{rule} did not fire; fired: {sorted(fired)}"
    for rule in expect.get("not_fired", []):
        assert rule not in fired, f"{rule} fired unexpectedly"
    errors = {f.rule for f in plan.findings if f.level == "error"}
    assert errors == set(expect.get("errors", [])), [f.message for f in plan.findings if f.level == "error"]
    assert plan.ok == (not expect.get("errors"))
    for level in ("warnings", "infos"):
        want = level[:-1] if level == "warnings" else "info"
        got = {f.rule for f in plan.findings if f.level == want}
        for rule in expect.get(level, []):
            assert rule in got, f"{rule} is not a {want}; {want}s: {sorted(got)}"
    for rule, text in expect.get("says", {}).items():
        said = [f"{f.message} | {f.hint}" for f in plan.findings if f.rule == rule]
        said += [d.reason for d in plan.decisions if d.rule == rule]
        assert any(text in words for words in said), f"{rule} does not say {text!r}: {said}"
    for text in expect.get("not_recommended", []):
        assert not any(text in r for r in plan.recommendations), f"recommends {text!r}: {plan.recommendations}"
    for key, value in expect.get("hp", {}).items():
        assert plan.hyperparameters.get(key) == value, f"hp {key}: {plan.hyperparameters.get(key)!r}"
    # Invariants every plan keeps, whatever the scenario.
    assert plan.levers[0] == "prompting" and "LEVER-PROMPT-FIRST" in fired
    assert fired <= set(RULES_BY_ID)
    if plan.trains and plan.ok:
        assert plan.contract is not None and "CONTRACT-EVERY-TUNE" in fired
        assert plan.parameter_budget in ("full", "lora", "qlora")
    if not plan.trains:
        assert plan.method == "none" and not plan.stages and plan.contract is None and plan.recommendations

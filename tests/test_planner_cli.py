"""`specc plan`, `specc explain`, `specc rules`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_fixture_dir, write_scenario_spec as write_spec
from specc.cli.main import main
from specc.plan.rules import RULES

SFT = {"goal": {"behaviours": ["style"], "consistency_required": True}, "evidence": {"prompting": {"score": 0.5}},
       "data": {"train": {"path": "train.jsonl"}}}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fixture_dir(tmp_path_factory.mktemp("cli"))


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_plan_ok_exits_0_in_every_format(root: Path) -> None:
    spec = write_spec(root, SFT, "ok.yaml")
    for fmt in ("text", "markdown", "json"):
        result = run("plan", str(spec), "--format", fmt)
        assert result.exit_code == 0, result.output
    assert json.loads(run("plan", str(spec), "--format", "json").output)["method"] == "sft"


def test_plan_errors_exit_1(root: Path) -> None:
    spec = write_spec(root, {**SFT, "teacher": {"id": "gpt-4o"}, "method": {"method": "distill"},
                             "data": {"prompts": {"path": "prompts.jsonl"}}}, "closed.yaml")
    result = run("plan", str(spec))
    assert result.exit_code == 1 and "LICENCE-CLOSED-API-TEACHER" in result.output


def test_strict_turns_warnings_into_exit_1(root: Path) -> None:
    spec = write_spec(root, {**SFT, "evidence": {}}, "warn.yaml")
    assert run("plan", str(spec)).exit_code == 0
    result = run("plan", str(spec), "--strict")
    assert result.exit_code == 1 and "EVIDENCE-PROMPTING-FIRST" in result.output


def test_unreadable_spec_exits_2_and_invalid_spec_exits_1(root: Path) -> None:
    assert run("plan", str(root / "absent.yaml")).exit_code == 2
    bad = root / "bad.yaml"
    bad.write_text("specc: 1\nname: x\ngoal: {behaviours: [styel]}\nbase_model: {id: a/b}\n", encoding="utf-8")
    assert run("plan", str(bad)).exit_code == 1


def test_explain_known_and_unknown_rules() -> None:
    ok = run("explain", "LICENCE-CLOSED-API-TEACHER")
    assert ok.exit_code == 0 and "when:" in ok.output and "source:" in ok.output and "seed:" in ok.output
    bad = run("explain", "LICENSE-CLOSED-API-TEACHER")
    assert bad.exit_code == 2 and "Did you mean LICENCE-CLOSED-API-TEACHER" in bad.output


def test_rules_lists_every_rule_and_filters_by_topic() -> None:
    out = run("rules").output
    assert all(r.id in out for r in RULES)
    licence = run("rules", "--topic", "licence").output.splitlines()
    assert licence and all(" licence " in line for line in licence)

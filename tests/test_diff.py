"""Plan diffs: what changes, and which rules start or stop firing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_fixture_dir, plan_for, write_scenario_spec as write_spec
from specc.plan.diff import diff_plans, render_diff

SFT = {"goal": {"behaviours": ["style"], "consistency_required": True}, "evidence": {"prompting": {"score": 0.5}},
       "data": {"train": {"path": "train.jsonl"}}}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_fixture_dir(tmp_path)


def test_identical_plans_have_an_empty_diff(root: Path) -> None:
    d = diff_plans(plan_for(root, SFT), plan_for(root, SFT))
    assert d.empty and "No changes to the plan." in render_diff(d)


def test_bigger_model_switches_to_qlora_and_says_why(root: Path) -> None:
    old = plan_for(root, SFT)
    new = plan_for(root, {**SFT, "base_model": {"id": "Qwen/Qwen2.5-14B-Instruct"}})
    d = diff_plans(old, new)
    where = {c.where: (c.old, c.new) for c in d.changes}
    assert where["parameter_budget"] == ("lora", "qlora")
    assert "hyperparameters.quant_bits" in where
    started = [r for r, _ in d.rules_started]
    stopped = [r for r, _ in d.rules_stopped]
    assert "BUDGET-QLORA-WHEN-16BIT-DOESNT-FIT" in started and "BUDGET-SMALLEST-FITS" in stopped
    text = render_diff(d, "text")
    assert "parameter_budget: lora → qlora" in text and "+ BUDGET-QLORA-WHEN-16BIT-DOESNT-FIT" in text


def test_prompting_evidence_that_meets_bar_removes_training(root: Path) -> None:
    old = plan_for(root, SFT)
    new = plan_for(root, {**SFT, "evidence": {"prompting": {"score": 0.9}}})
    d = diff_plans(old, new)
    where = {c.where: (c.old, c.new) for c in d.changes}
    assert where["trains"] == (True, False) and where["method"] == ("sft", "none")
    assert "LEVER-PROMPT-MEETS-BAR" in [r for r, _ in d.rules_started]
    assert "METHOD-SFT-IMITATION" in [r for r, _ in d.rules_stopped]
    md = render_diff(d, "markdown")
    assert "### What changes" in md and "### Why: rules that start or stop firing" in md


def test_new_finding_is_listed(root: Path) -> None:
    d = diff_plans(plan_for(root, SFT), plan_for(root, {**SFT, "data": {"golden": None}}))
    assert ("warning", "CONTRACT-NO-GOLDEN") in [(lvl, r) for lvl, r, _ in d.findings_added]


def test_cli_diff_two_files(root: Path) -> None:
    from specc.cli.main import main

    old = write_spec(root, SFT, "old.yaml")
    new = write_spec(root, {**SFT, "method": {"lora_r": 32}}, "new.yaml")
    result = CliRunner().invoke(main, ["diff", str(old), str(new)])
    assert result.exit_code == 0, result.output
    assert "hyperparameters.lora_r: 16 → 32" in result.output
    assert "hyperparameters.lora_alpha: 32 → 64" in result.output


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_cli_diff_against_git_revision(root: Path) -> None:
    from specc.cli.main import main

    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q"], cwd=root, check=True)
    spec = write_spec(root, SFT)
    subprocess.run(git + ["add", "spec.yaml"], cwd=root, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "spec"], cwd=root, check=True)
    write_spec(root, {**SFT, "method": {"epochs": 1}})
    result = CliRunner().invoke(main, ["diff", str(spec), "--base", "HEAD", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "`hyperparameters.epochs` | 3.0 | 1.0" in result.output
    assert "read from the working tree" in result.output
    bad = CliRunner().invoke(main, ["diff", str(spec), "--base", "no-such-rev"])
    assert bad.exit_code == 2

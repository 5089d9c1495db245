"""Plan renderings: text for terminals, Markdown for PR comments, canonical JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_fixture_dir, plan_for
from specc.plan.model import Plan
from specc.plan.render import md_cell, render, render_markdown, render_text

SFT = {"goal": {"behaviours": ["style"], "consistency_required": True, "summary": "House | style"},
       "evidence": {"prompting": {"score": 0.5}}, "data": {"train": {"path": "train.jsonl"}}}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fixture_dir(tmp_path_factory.mktemp("render"))


def test_json_round_trips_to_an_equal_plan(root: Path) -> None:
    plan = plan_for(root, SFT)
    again = Plan.model_validate(json.loads(render(plan, "json")))
    assert again == plan and again.to_json() == plan.to_json()


def test_text_names_every_decision_and_finding(root: Path) -> None:
    plan = plan_for(root, {**SFT, "data": {"train": {"path": "train.jsonl"}, "golden": None}})
    text = render_text(plan)
    for d in plan.decisions:
        assert d.rule in text
    assert "CONTRACT-NO-GOLDEN" in text and "warning" in text
    assert text.endswith("\n") and "Levers: prompting → fine_tune" in text


def test_markdown_has_headings_tables_and_collapsed_estimate(root: Path) -> None:
    md = render_markdown(plan_for(root, SFT))
    assert md.startswith("## specc plan: `scenario`")
    assert "### Decisions" in md and "| rule | topic | verdict | why |" in md
    assert "<details><summary>Estimate" in md and "</details>" in md
    assert "House | style" in md  # the summary is a quote, not a table cell


def test_markdown_tables_escape_pipes() -> None:
    assert md_cell("a|b") == "a\\|b" and md_cell({"k": [1]}) == '{"k": [1]}' and md_cell(None) == "—"


def test_errors_sort_before_warnings_and_status_says_invalid(root: Path) -> None:
    plan = plan_for(root, {**SFT, "data": {"train": {"path": "gone.jsonl"}, "golden": None}})
    text = render_text(plan)
    assert "INVALID: 1 error(s)" in text
    assert text.index("error   DATA-MISSING") < text.index("warning CONTRACT-NO-GOLDEN")


def test_non_training_plan_renders_recommendations(root: Path) -> None:
    plan = plan_for(root, {"goal": {"behaviours": ["knowledge"]}, "constraints": {"citations_required": True}})
    text = render_text(plan)
    assert "no training (the plan stops at prompting + retrieval)" in text
    assert "Recommendations:" in text and "retrieval" in text
    assert "Stages:" not in text and "Hyperparameters:" not in text


def test_unknown_format_is_rejected(root: Path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(plan_for(root, SFT), "html")


def test_a_held_out_validation_split_renders_as_held_out_rows_not_as_missing(root: Path) -> None:
    """`validation: {fraction}` has no file of its own: the text said MISSING and the Markdown table
    `commit None`, though the split is planned and its rows counted."""
    spec = {**SFT, "data": {"train": {"path": "train.jsonl"}, "validation": {"fraction": 0.1}}}
    plan = plan_for(root, spec)
    held = next(d for d in plan.data if d.role == "validation")
    assert held.exists and held.rows
    line = next(x for x in render_text(plan).splitlines() if x.strip().startswith("validation:"))
    assert "MISSING" not in line and f"{held.rows} rows held out by a seeded split" in line
    row = next(x for x in render_markdown(plan).splitlines() if x.startswith("| validation"))
    assert "None" not in row and "MISSING" not in row and f"| {held.rows} |" in row

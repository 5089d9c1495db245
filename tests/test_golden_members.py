"""Per-member target scores of a golden set given as a list (``data.golden: [source, ...]``).

The gate and the bar judge the union of the members' rows; a reviewer also needs to see which member moved. Each
member's score is cut from the union's own per-row results (one scoring pass), with the union's aggregate, so
the union is the row-weighted mean of the members and does not move by a bit. Shown in the results files,
``specc status`` (text, Markdown, JSON), ``specc report``, the model card and the W&B summary
(``<stage>/target/<member>``). A one-source golden set shows exactly what it showed before.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.runtime.suites import SuiteResult, _accuracy, _binomial, _mean_nll, member_keys, with_members


def _weighted(members: list[dict]) -> float:
    return sum(m["score"] * m["n"] for m in members) / sum(m["n"] for m in members)


def test_member_scores_are_cut_from_the_union_and_average_back_to_it() -> None:
    a, b = [{"prompt": "p"}] * 3, [{"prompt": "q"}] * 5
    # exact_match: hits of member a (1 of 3) and b (4 of 5)
    union = _binomial("golden", "exact_match", [True, False, False, True, True, False, True, True], "exact_match")
    split = with_members(union, [("data/a.jsonl", a), ("hub:org/x[test]", b)])
    members = split.to_dict()["members"]
    assert [(m["name"], m["key"], m["rows"], m["n"]) for m in members] == [
        ("data/a.jsonl", "data_a_jsonl", 3, 3), ("hub:org/x[test]", "hub_org_x_test", 5, 5)]
    assert [m["score"] for m in members] == [1 / 3, 4 / 5]
    assert split.score == union.score == 5 / 8 and _weighted(members) == pytest.approx(union.score, abs=1e-15)
    assert {k: v for k, v in split.to_dict().items() if k != "members"} == union.to_dict()
    # accuracy (multiple choice): the same cut, each member with its own chance level
    mc_a = [{"choices": ["x", "y"], "answer": 0}] * 3
    mc_b = [{"choices": ["x", "y", "z", "w"], "answer": 1}] * 5
    hits = [True, True, False, False, False, False, True, False]
    acc = with_members(_accuracy("golden", "multiple_choice", hits, mc_a + mc_b), [("a", mc_a), ("b", mc_b)])
    members = acc.to_dict()["members"]
    assert [m["score"] for m in members] == [2 / 3, 1 / 5]
    assert [m["extra"]["chance"] for m in members] == [0.5, 0.25]
    assert _weighted(members) == pytest.approx(acc.score, abs=1e-15)
    # perplexity: the score is the mean per-row token NLL, so the union is again the row-weighted mean of the
    # members (rows with nothing to score count in neither); each member's perplexity is exp of its own score
    nll = _mean_nll("golden", "perplexity", [0.5, None, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    members = with_members(nll, [("a", a), ("b", b)]).to_dict()["members"]
    assert [(m["rows"], m["n"], m["score"]) for m in members] == [(3, 2, 1.0), (5, 5, 3.0)]
    assert _weighted(members) == pytest.approx(nll.score, abs=1e-15)
    assert members[1]["extra"]["perplexity"] == math.exp(3.0)


def test_one_source_has_no_breakdown_and_member_keys_are_valid_and_unique() -> None:
    union = _binomial("golden", "exact_match", [True, False], "exact_match")
    assert with_members(union, [("data/a.jsonl", [{}, {}])]) is union  # a list of one: shown as before
    assert "members" not in union.to_dict()
    keys = member_keys(["data/a.jsonl", "data_a.jsonl", "data/a.jsonl", "hub:o/x[train[:5%]]", "//", "é"])
    assert keys == ["data_a_jsonl", "data_a_jsonl_2", "data_a_jsonl_3", "hub_o_x_train_5", "member_5", "member_6"]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", k) for k in keys) and len(set(keys)) == len(keys)

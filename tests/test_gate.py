"""Forgetting gate: table-driven verdicts, direction awareness, noise handling, rendering."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from specc.contract.gate import judge

BUDGET = {"max_abs_drop": 0.05, "max_rel_drop": 0.10}
TARGET_OK = {"metric": "exact_match", "bar": 0.8, "score": 0.9, "baseline_score": 0.1}


def acc(score: float, stderr: float = 0.0) -> dict:
    return {"score": score, "stderr": stderr, "higher_is_better": True}


def nll(score: float, stderr: float = 0.0) -> dict:
    return {"score": score, "stderr": stderr, "higher_is_better": False}


CASES = [
    # id, baseline, tuned, target, budget, passed, {suite: status}
    ("pass", {"arith": acc(0.8, 0.01)}, {"arith": acc(0.79, 0.01)}, TARGET_OK, BUDGET, True, {"arith": "ok"}),
    ("improvement", {"arith": acc(0.5)}, {"arith": acc(0.7)}, TARGET_OK, BUDGET, True, {"arith": "ok"}),
    ("target bar missed", {"arith": acc(0.8)}, {"arith": acc(0.8)},
     {"metric": "exact_match", "bar": 0.8, "score": 0.6}, BUDGET, False, {"arith": "ok"}),
    ("abs drop over budget", {"arith": acc(0.9, 0.01)}, {"arith": acc(0.80, 0.01)}, TARGET_OK,
     {"max_abs_drop": 0.05}, False, {"arith": "regressed"}),
    ("rel drop over budget", {"arith": acc(0.30, 0.005)}, {"arith": acc(0.26, 0.005)}, TARGET_OK,
     BUDGET, False, {"arith": "regressed"}),  # abs 0.04 is fine, rel 13% is not
    ("drop within noise", {"arith": acc(0.80, 0.045)}, {"arith": acc(0.70, 0.045)}, TARGET_OK,
     BUDGET, True, {"arith": "noise"}),
    ("noise tolerance off", {"arith": acc(0.80, 0.045)}, {"arith": acc(0.70, 0.045)}, TARGET_OK,
     {**BUDGET, "noise_z": 0}, False, {"arith": "regressed"}),
    ("perplexity rise is a drop", {"nll": nll(1.0, 0.01)}, {"nll": nll(1.3, 0.01)}, TARGET_OK,
     BUDGET, False, {"nll": "regressed"}),
    ("perplexity fall is fine", {"nll": nll(1.0, 0.01)}, {"nll": nll(0.7, 0.01)}, TARGET_OK,
     BUDGET, True, {"nll": "ok"}),
    ("suite not re-run", {"arith": acc(0.8), "nll": nll(1.0)}, {"nll": nll(1.0)}, TARGET_OK,
     BUDGET, False, {"arith": "missing", "nll": "ok"}),
    ("lower-is-better target", {"nll": nll(1.0)}, {"nll": nll(1.0)},
     {"metric": "loss", "bar": 0.5, "score": 0.4, "higher_is_better": False}, BUDGET, True, {"nll": "ok"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_verdicts(case):
    _, baseline, tuned, target, budget, passed, statuses = case
    verdict = judge(baseline, tuned, target, budget)
    assert verdict.passed is passed, verdict.render_text()
    assert {s.suite: s.status for s in verdict.suites} == statuses
    assert verdict.reasons


def test_drop_is_direction_aware_and_signed():
    v = judge({"a": acc(0.8), "n": nll(2.0)}, {"a": acc(0.6), "n": nll(2.5)}, TARGET_OK, {})
    drops = {s.suite: s.drop for s in v.suites}
    assert drops["a"] == pytest.approx(0.2)
    assert drops["n"] == pytest.approx(0.5)
    assert v.passed  # no budget given: nothing to breach


def test_reasons_say_noise_and_numbers():
    v = judge({"arith": acc(0.80, 0.045)}, {"arith": acc(0.70, 0.045)}, TARGET_OK, BUDGET)
    text = " ".join(v.reasons)
    assert "within noise" in text and "2x combined SE" in text
    failing = judge({"arith": acc(0.9, 0.01)}, {"arith": acc(0.8, 0.01)}, TARGET_OK, BUDGET)
    assert any("abs drop 0.1 > budget 0.05" in r for r in failing.reasons)


def test_target_reason_and_missing_score():
    v = judge({}, {}, {"metric": "em", "bar": 0.5}, BUDGET)
    assert not v.passed and "no score" in v.target.reason


def test_rendering_is_deterministic_and_json_safe():
    args = ({"arith": acc(0.8, 0.01), "nll": nll(1.0)}, {"nll": nll(1.1)}, TARGET_OK, BUDGET)
    a, b = judge(*args), judge(*args)
    assert a.to_dict() == b.to_dict()
    dumped = json.dumps(a.to_dict(), sort_keys=True, allow_nan=False)  # NaN of the missing suite -> null
    assert json.loads(dumped)["passed"] is False
    md = a.render_markdown()
    assert "| arith |" in md and "missing" in md and "fail" in md
    assert a.render_text().startswith("forgetting gate: FAIL")


def test_gate_is_stdlib_only():
    code = ("import sys, specc.contract.gate; heavy = {'torch','transformers','trl','peft','datasets','wandb',"
            "'bitsandbytes','pydantic'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_bar_set_reports_the_target_and_gates_only_forgetting():
    from specc.contract.gate import judge

    suites = {"s": {"score": 0.5, "stderr": 0.01, "higher_is_better": True}}
    verdict = judge(suites, suites, {"metric": "exact_match", "bar": None, "score": 0.3}, {"max_abs_drop": 0.02})
    assert verdict.passed
    assert verdict.target.bar is None and "no bar set" in verdict.target.reason
    worse = {"s": {"score": 0.2, "stderr": 0.01, "higher_is_better": True}}
    assert not judge(suites, worse, {"metric": "exact_match", "bar": None, "score": 0.3}, {"max_abs_drop": 0.02}).passed

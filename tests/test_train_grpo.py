"""GRPO with verifiable reward functions (issue 12): built-ins (exact answer against a column, format by
regex, length) and a user function ``file.py:name`` next to the spec, locked by sha256 and checked at plan
time; the emitted RL stage trains on the tiny model with them (2 optimiser steps)."""

from __future__ import annotations

import dataclasses
import json

import pytest

USER = "def brevity(completions, **kwargs):\n    return [1.0 if len(str(c)) < 200 else 0.0 for c in completions]\n"
REWARDS = [{"kind": "exact_answer", "column": "answer"}, {"kind": "format", "pattern": r"\[.*\]", "weight": 0.5},
           {"kind": "length", "max_chars": 80}, {"kind": "python", "function": "rewards.py:brevity"}]


def _spec(write_spec, *, rewards=REWARDS, user=USER, **method):
    spec = write_spec(name="tiny-grpo", data={"prompts": "qa.jsonl"},
                      method={"reward_functions": rewards, "num_generations": 2, "max_completion_length": 8,
                              **method})
    data = spec.parent / "data"
    rows = [json.loads(line) for line in (data / "train_pc.jsonl").read_text().splitlines()][:16]
    (data / "qa.jsonl").write_text("".join(json.dumps({"prompt": r["prompt"], "answer": r["completion"]}) + "\n"
                                           for r in rows))
    if user is not None:
        (spec.parent / "rewards.py").write_text(user)
    return spec


def _errors(plan):
    return [(f.rule, f.message) for f in plan.findings if f.level == "error"]


def test_reward_functions_route_to_grpo(write_spec):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(_spec(write_spec))
    assert _errors(plan) == []
    assert plan.method == "grpo" and "METHOD-GRPO-REWARD-FUNCTIONS" in [d.rule for d in plan.decisions]
    assert [s.id for s in plan.stages] == ["firewall", "baseline", "rl", "merge", "eval"]
    rl = plan.stage("rl").config
    assert rl["algorithm"] == "grpo" and "reward" not in rl
    assert [f["kind"] for f in rl["reward_functions"]] == ["exact_answer", "format", "length", "python"]
    assert rl["reward_functions"][3]["spec_path"] == "rewards.py" and len(rl["reward_functions"][3]["sha256"]) == 64
    assert rl["train"]["reward_weights"] == [1.0, 0.5, 1.0, 1.0]
    assert (rl["train"]["num_generations"], rl["train"]["max_completion_length"]) == (2, 8)
    trl = pytest.importorskip("trl")
    assert sorted(set(rl["train"]) - {f.name for f in dataclasses.fields(trl.GRPOConfig)}) == []


@pytest.mark.parametrize("case,kw,rule,needle", [
    ("missing file", dict(user=None), "METHOD-REWARD-FUNCTION-INVALID", "rewards.py cannot be read"),
    ("no such function", dict(user="def other(completions, **kw):\n    return []\n"),
     "METHOD-REWARD-FUNCTION-INVALID", "no top-level function 'brevity'"),
    ("missing column", dict(rewards=[{"kind": "exact_answer", "column": "solution"}]),
     "METHOD-REWARD-FUNCTION-INVALID", "column 'solution'"),
    ("grpo without rewards", dict(rewards=None, method="grpo"), "METHOD-GRPO-NEEDS-REWARDS", "grpo"),
    ("rewards on sft", dict(method="sft"), "METHOD-REWARD-FUNCTIONS-UNUSED", "only grpo"),
])
def test_reward_functions_that_cannot_work_are_plan_errors(write_spec, case, kw, rule, needle):
    from specc.plan.planner import plan_spec_file

    kw = dict(kw)
    rewards = kw.pop("rewards", REWARDS)
    method = {"method": kw.pop("method")} if "method" in kw else {}
    spec = _spec(write_spec, rewards=rewards, **kw, **method)
    if rewards is None:
        text = spec.read_text().replace('  reward_functions: null\n', '')
        spec.write_text(text)
    if method.get("method") == "sft":
        spec.write_text(spec.read_text().replace("prompts: {path: data/qa.jsonl}", "train: {path: data/train.jsonl}"))
    errors = _errors(plan_spec_file(spec))
    mine = [m for r, m in errors if r == rule]
    assert len(mine) == 1 and needle in mine[0], errors
    # an SFT plan also reads none of the spec's RL sampling settings: each is its own error
    others = {r for r, _ in errors} - {rule}
    assert others == ({"METHOD-SETTING-UNUSED"} if case == "rewards on sft" else set()), errors


def test_bad_reward_function_entries_are_located_spec_errors(tmp_path):
    from specc.spec.errors import SpecInvalid
    from specc.spec.loader import load_spec

    for entry, needle in [("{kind: format}", "needs `pattern`"), ("{kind: format, pattern: '['}", "not a valid regex"),
                          ("{kind: python, function: /abs/r.py:f}", "relative"),
                          ("{kind: length, max_chars: 5, pattern: x}", "does not use pattern")]:
        spec = tmp_path / "spec.yaml"
        spec.write_text("specc: 1\nname: x\ngoal: {behaviours: [format]}\nbase_model: {id: org/m}\n"
                        f"method:\n  reward_functions:\n    - {entry}\n", encoding="utf-8")
        with pytest.raises(SpecInvalid) as info:
            load_spec(spec)
        assert any(needle in str(e) and e.line == 7 for e in info.value.errors), [str(e) for e in info.value.errors]


def test_builtin_rewards_score_conversational_and_plain_completions():
    from specc.runtime import reward_functions as rf

    exact, fmt, length = rf.build([{"kind": "exact_answer", "column": "answer"},
                                   {"kind": "format", "pattern": r"\[.*\]"}, {"kind": "length", "max_chars": 4}])
    chat = [[{"role": "assistant", "content": " [A B] "}], [{"role": "assistant", "content": "a b"}]]
    assert exact(chat, answer=["[a b]", "x"]) == [1.0, 0.0]
    assert fmt(chat) == [1.0, 0.0] and fmt(["[x]", "x"]) == [1.0, 0.0]
    assert length(["abcd", "abcdef", "abcdefghi"]) == [1.0, 0.5, 0.0]
    assert (exact.__name__, fmt.__name__, length.__name__) == ("exact_answer_answer", "format", "length")


@pytest.mark.train
def test_grpo_with_reward_functions_trains_on_the_tiny_model(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(_spec(write_spec))
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage("rl").script)
    events = [json.loads(line[8:]) for line in proc.stdout.splitlines() if line.startswith("@@specc ")]
    logged = [e for e in events if "loss" in e]
    assert [e["step"] for e in logged] == [1, 2], proc.stdout[-2000:]
    # every reward function was called and logged under its name
    for name in ("exact_answer_answer", "format", "length", "brevity"):
        assert any(f"rewards/{name}/mean" in e for e in logged), (name, sorted(logged[0]))
    assert (build / plan.stage("rl").outputs["adapter"] / "adapter_model.safetensors").is_file()

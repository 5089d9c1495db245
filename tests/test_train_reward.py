"""A reward model on its own (issue 12, ``method: reward``): the planner routes preference pairs with
``eval.metric: pairwise_accuracy`` to a reward model (rule METHOD-REWARD-MODEL); the eval contract scores pairwise
accuracy on golden pairs before and after, with no forgetting gate (CONTRACT-REWARD-MODEL); and the example spec
``specs/reward-tiny.yaml`` runs end to end on the tiny model (firewall → baseline → reward → eval) with the metric in
the report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _reward_spec(write_spec, **kw):
    spec = write_spec(name="tiny-reward", data={"preference": "preference.jsonl"}, **kw)
    data = spec.parent / "data"
    pairs = [json.loads(line) for line in (data / "preference.jsonl").read_text().splitlines()]
    # golden pairs held out from the training pairs (the firewall checks it)
    (data / "preference.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs[:40]))
    (data / "golden_pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs[40:]))
    text = spec.read_text().replace("path: data/golden.jsonl", "path: data/golden_pairs.jsonl")
    text = text.replace("  metric: exact_match\n", "  metric: pairwise_accuracy\n")
    head, _, tail = text.partition("  general_suites:\n")
    tail = tail.split("method:", 1)[1]
    spec.write_text(head + "method:" + tail)
    return spec


def test_pairwise_accuracy_routes_pairs_to_a_reward_model(write_spec):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(_reward_spec(write_spec))
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    assert plan.method == "reward"
    fired = [d.rule for d in plan.decisions]
    assert "METHOD-REWARD-MODEL" in fired and "CONTRACT-REWARD-MODEL" in fired
    assert [s.kind for s in plan.stages] == ["firewall", "baseline", "reward", "eval"]  # no merge: a classifier
    assert plan.contract.metric == "pairwise_accuracy" and plan.contract.suites == []
    reward, ev = plan.stage("reward").config, plan.stage("eval").config
    assert reward["peft"] is not None and ev["reward"] == {"adapter": "artifacts/reward/adapter"}
    assert plan.stage("eval").inputs["reward_adapter"] == "artifacts/reward/adapter"
    assert plan.stage("baseline").config["seed"] == reward["train"]["seed"]  # the baseline head = the start's


def test_forced_reward_with_demonstrations_starts_from_the_sft_model(write_spec):
    from specc.plan.planner import plan_spec_file

    spec = _reward_spec(write_spec, method={"method": "reward"})
    text = spec.read_text().replace("  preference: {path: data/preference.jsonl}",
                                    "  train: {path: data/train.jsonl}\n  preference: {path: data/preference.jsonl}")
    spec.write_text(text.replace("  metric: pairwise_accuracy\n", ""))  # the metric defaults to the reward's
    plan = plan_spec_file(spec)
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    assert [s.kind for s in plan.stages] == ["firewall", "baseline", "sft", "reward", "eval"]
    assert plan.contract.metric == "pairwise_accuracy"
    assert plan.stage("eval").config["reward"]["init"] == {"adapter": "artifacts/sft/adapter"}
    assert plan.stage("eval").inputs["reward_init_adapter"] == "artifacts/sft/adapter"


@pytest.mark.parametrize("edit,rule", [
    (lambda t: t.replace("  metric: pairwise_accuracy\n", "  metric: exact_match\n")
     .replace("method:\n", "method:\n  method: reward\n"), "CONTRACT-METRIC-MISMATCH"),
    (lambda t: t.replace("method:\n", "method:\n  method: dpo\n"), "CONTRACT-METRIC-MISMATCH"),
    (lambda t: t.replace("method:\n", "  general_suites:\n    - {name: arithmetic, kind: exact_match, path: "
                         "data/suites/arithmetic.jsonl}\nmethod:\n"), "CONTRACT-REWARD-SUITES"),
])
def test_a_reward_contract_that_cannot_work_is_an_error(write_spec, edit, rule):
    from specc.plan.planner import plan_spec_file

    spec = _reward_spec(write_spec)
    spec.write_text(edit(spec.read_text()))
    plan = plan_spec_file(spec)
    assert rule in [f.rule for f in plan.findings if f.level == "error"], [(f.rule, f.message) for f in plan.findings]


def test_preference_pairs_as_golden_set_of_a_generator_are_an_error(write_spec):
    from specc.plan.planner import plan_spec_file

    spec = _reward_spec(write_spec)
    spec.write_text(spec.read_text().replace("  metric: pairwise_accuracy\n", "  metric: exact_match\n"))
    plan = plan_spec_file(spec)
    assert plan.method == "dpo"
    assert [f.rule for f in plan.findings if f.level == "error"] == ["CONTRACT-METRIC-MISMATCH"]


@pytest.mark.train
def test_the_reward_example_runs_end_to_end_with_pairwise_accuracy_in_the_report(tmp_path, tiny_model):
    work = tmp_path / "reward"
    (work / "data").mkdir(parents=True)
    (work / "models").mkdir()
    for name in ("preference.jsonl", "preference_golden.jsonl"):
        shutil.copy(REPO / "specs" / "data" / name, work / "data" / name)
    os.symlink(tiny_model, work / "models" / "tiny-base")
    text = (REPO / "specs" / "reward-tiny.yaml").read_text().replace("mode: offline", "mode: disabled")
    (work / "reward-tiny.yaml").write_text(text)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "specc", "run", "reward-tiny.yaml", "-o", "build"], cwd=work,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    build = work / "build"
    before = json.loads((build / "results/baseline.json").read_text())["target"]
    after = json.loads((build / "results/eval.json").read_text())
    assert before["metric"] == after["target"]["metric"] == "pairwise_accuracy" and before["n"] == 60
    assert after["suites"] == {} and after["verdict"]["passed"] is True
    assert after["target"]["score"] >= 0.7 > before["score"], (before, after["target"])  # the bar, met by training
    saved = json.loads((build / "artifacts/reward/adapter/adapter_config.json").read_text())
    assert saved["task_type"] == "SEQ_CLS"
    proc = subprocess.run([sys.executable, "-m", "specc", "report", "build", "-o", "report"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = (work / "report" / "report.html").read_text()
    assert "pairwise_accuracy before → after" in html

"""``data.replay`` (issue 11): general rows mixed into the SFT stage at a stated share — planned (rows, tokens),
locked, firewalled, checked, diffed, guarded, drawn deterministically and really trained on — and a held-out
validation fraction for every training stage (DPO and KTO evaluate on a share of their own pairs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specc.data.mixture import replay_rows

GENERAL_ROWS = 20


def _events(stdout: str) -> list[dict]:
    return [json.loads(line[len("@@specc "):]) for line in stdout.splitlines() if line.startswith("@@specc ")]


def _general(proj: Path, rows: list[dict] | None = None) -> None:
    """``data/general.jsonl``: general chat rows of the tiny model's world, none of them a task or golden row."""
    from specc.demo import corpus

    if rows is None:
        corpus.write_chat(proj / "data" / "general.jsonl", corpus.pretraining_split(GENERAL_ROWS, seed=3))
    else:
        (proj / "data" / "general.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _with(spec: Path, lines: str) -> Path:
    """Add spec lines under ``data:`` (before the golden set)."""
    text = spec.read_text(encoding="utf-8").replace("  golden:", f"{lines}\n  golden:", 1)
    spec.write_text(text, encoding="utf-8")
    return spec


def _errors(plan) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in plan.findings if f.level == "error"]


# ---------------------------------------------------------------- the draw (runtime, no model)

def test_replay_rows_are_the_stated_share_of_the_final_mix():
    assert replay_rows(400, 0.5) == 400
    assert replay_rows(200, 0.2) == 50
    assert replay_rows(42, 0.2) == 11  # 10.5 rounds half up, in the planner and in the stage alike
    assert replay_rows(3, 0.01) == 1 and replay_rows(0, 0.3) == 0


def test_mix_replay_draws_the_same_rows_every_time_and_repeats_a_short_source(tmp_path, monkeypatch):
    import datasets

    from specc.runtime.common import DATA_COUNTS, mix_replay

    monkeypatch.chdir(tmp_path)
    # the completions name this test's directory: new content, so no datasets cache of an earlier run serves it
    (tmp_path / "general.jsonl").write_text("".join(json.dumps({"prompt": f"g{i}", "completion": f"G{i} {tmp_path}"})
                                                    + "\n" for i in range(3)), encoding="utf-8")
    task = datasets.Dataset.from_list([{"prompt": f"t{i}", "completion": f"T{i}"} for i in range(8)])
    config = {"output_dir": "artifacts/sft",
              "replay": {"role": "replay", "name": "replay", "spec_path": "general.jsonl", "path": "general.jsonl",
                         "format": "prompt_completion", "mix": {"ratio": 0.5, "seed": 7}}}
    mixed = mix_replay(task, config, chat=False)
    again = mix_replay(task, config, chat=False)
    assert mixed.to_list() == again.to_list()
    prompts = [r["prompt"] for r in mixed]
    assert len(mixed) == 16 and sorted(p for p in prompts if p.startswith("t")) == sorted(f"t{i}" for i in range(8))
    replayed = [p for p in prompts if p.startswith("g")]
    assert len(replayed) == 8 and set(replayed) == {"g0", "g1", "g2"}  # 3 rows repeated to fill the share
    counts = json.loads((tmp_path / "artifacts/sft" / DATA_COUNTS).read_text())
    assert counts == {"task_rows": 8, "replay_rows": 8, "train_rows": 16, "validation_rows": 0, "ratio": 0.5,
                      "replay_source": "general.jsonl", "replay_source_rows": 3}
    other = mix_replay(task, {**config, "replay": {**config["replay"], "mix": {"ratio": 0.5, "seed": 8}}}, chat=False)
    assert other.to_list() != mixed.to_list()  # the seed decides the order


# ---------------------------------------------------------------- plan, lock, firewall, check, diff, guard

def test_replay_is_planned_locked_firewalled_and_mixed_by_the_sft_stage(write_spec, tiny_data):
    from specc.build.lock import build_document
    from specc.plan.planner import plan_spec_file

    spec = write_spec(data={"train": "train.jsonl"})
    _general(spec.parent)
    plan = plan_spec_file(_with(spec, "  replay: {path: data/general.jsonl, ratio: 0.2}"))
    assert not _errors(plan), _errors(plan)
    replay = next(d for d in plan.data if d.role == "replay")
    assert replay.rows == GENERAL_ROWS and replay.mix["rows_used"] == replay_rows(56, 0.2) == 14
    assert replay.mix["task_rows"] == 56 and replay.mix["tokens"] > 0
    decision = next(d for d in plan.decisions if d.rule == "DATA-REPLAY")
    assert "14 rows of data/general.jsonl" in decision.reason and "20.0% of its 70 rows" in decision.reason
    from specc.plan.render import render_text

    assert "replay: ratio 0.2, 14 rows used beside 56 task rows" in render_text(plan)
    # the lock pins it; the firewall reads it as training data; the SFT stage mixes it
    lock = json.loads(build_document(plan, "..", spec.parent))["lock"]
    assert {"role": "replay", "path": "data/general.jsonl"}.items() <= next(
        d for d in lock["data"] if d["role"] == "replay").items()
    assert next(d for d in lock["data"] if d["role"] == "replay")["sha256"] == replay.sha256
    assert [d["role"] for d in plan.stage("firewall").config["training"]] == ["train", "replay"]
    assert plan.stage("firewall").inputs["replay"] == "data/general.jsonl"
    assert plan.stage("sft").config["replay"]["mix"] == {**replay.mix, "seed": 42}
    assert "replay" in plan.contract.firewall["inputs"]
    # no recommendation for what the spec already does
    assert not any("add `data.replay" in r for r in plan.recommendations)
    assert "Raise data.replay.ratio (now 0.2)" in " ".join(plan.contract.forgetting_advice)


def test_a_golden_row_in_the_replay_data_stops_the_firewall_stage(write_spec, tiny_data):
    from specc.demo import corpus

    spec = write_spec(data={"train": "train.jsonl"})
    golden = [json.loads(line) for line in (spec.parent / "data" / "golden.jsonl").read_text().splitlines()]
    general = [{"messages": [{"role": "user", "content": ex.prompt}, {"role": "assistant", "content": ex.completion}]}
               for ex in corpus.pretraining_split(GENERAL_ROWS, seed=3)]
    _general(spec.parent, general + [golden[2]])
    _with(spec, "  replay: {path: data/general.jsonl, ratio: 0.2}")
    from conftest import run_firewall_stage

    proc = run_firewall_stage(spec)
    assert proc.returncode == 3, proc.stderr[-2000:]
    report = json.loads((proc.build / "reports" / "firewall.json").read_text())
    assert report["contaminated"][0]["hits"][0]["file"] == "data/general.jsonl"


def test_specc_check_scans_the_replay_source(write_spec, tiny_data):
    spec = write_spec(data={"train": "train.jsonl"})
    golden = [json.loads(line) for line in (spec.parent / "data" / "golden.jsonl").read_text().splitlines()]
    _general(spec.parent, [golden[1]])
    _with(spec, "  replay: {path: data/general.jsonl, ratio: 0.2}")
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "specc", "check", str(spec)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "general.jsonl [replay]" in proc.stdout + proc.stderr


def test_diff_shows_a_changed_replay_and_the_guard_refuses_a_changed_file(write_spec, tiny_data, stage_runner):
    from specc.build.emitter import compile_plan
    from specc.plan.diff import diff_plans
    from specc.plan.planner import plan_spec_file

    spec = write_spec(data={"train": "train.jsonl"})
    _general(spec.parent)
    before = plan_spec_file(_with(spec, "  replay: {path: data/general.jsonl, ratio: 0.2}"))
    spec.write_text(spec.read_text().replace("ratio: 0.2", "ratio: 0.5"), encoding="utf-8")
    after = plan_spec_file(spec)
    changes = diff_plans(before, after).changes
    assert any(c.where.startswith("data.replay:replay.mix") for c in changes), [c.where for c in changes]
    build = spec.parent / "build"
    compile_plan(after, spec.parent, build)
    with (spec.parent / "data" / "general.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"messages": [{"role": "user", "content": "x"},
                                              {"role": "assistant", "content": "y"}]}) + "\n")
    proc = stage_runner(build, after.stage("sft").script, check=False)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "general.jsonl" in proc.stderr


def test_replay_without_an_sft_stage_or_in_another_format_is_a_located_plan_error(write_spec, tiny_data):
    from specc.plan.planner import plan_spec_file

    spec = write_spec(data={"preference": "preference.jsonl"}, method={"method": "dpo"})
    _general(spec.parent)
    plan = plan_spec_file(_with(spec, "  replay: {path: data/general.jsonl, ratio: 0.2}"))
    [error] = [e for e in _errors(plan) if e.startswith("DATA-REPLAY-NO-SFT")]
    assert "spec.yaml:" in error and "dpo plan has no SFT stage" in error
    assert not plan.stages
    spec = write_spec(data={"train": "train_pc.jsonl"})
    _general(spec.parent)
    plan = plan_spec_file(_with(spec, "  replay: {path: data/general.jsonl, ratio: 0.2}"))
    assert [e.split(":")[0] for e in _errors(plan)] == ["DATA-REPLAY-FORMAT"]


def test_replay_joins_the_sft_stage_of_every_method_that_has_one(write_spec, tiny_data):
    """The methods whose plan puts an SFT stage on data.train (stages.py) and those replay accepts are one list:
    a reward model trained after SFT on data.train was refused as having "no SFT stage"."""
    from specc.plan.planner import plan_spec_file
    from specc.plan.replay import SFT_ON_TRAIN_METHODS

    assert "reward" in SFT_ON_TRAIN_METHODS
    spec = write_spec(data={"train": "train.jsonl", "preference": "preference.jsonl"}, method={"method": "reward"})
    _general(spec.parent)
    (spec.parent / "data" / "golden_pairs.jsonl").write_text("".join(
        json.dumps({"prompt": f"Golden question {i} about the house format?", "chosen": f"#{i}/HOUSE",
                    "rejected": f"plain answer {i}"}) + "\n" for i in range(6)), encoding="utf-8")
    text = spec.read_text(encoding="utf-8").replace("metric: exact_match", "metric: pairwise_accuracy")
    text = text.replace("golden: {path: data/golden.jsonl}", "golden: {path: data/golden_pairs.jsonl}")
    spec.write_text(text.split("  general_suites:")[0] + "method:" + text.split("\nmethod:", 1)[1],
                    encoding="utf-8")  # a reward model does not generate: no general suites
    plan = plan_spec_file(_with(spec, "  replay: {path: data/general.jsonl, ratio: 0.2}"))
    assert not [e for e in _errors(plan) if e.startswith("DATA-REPLAY")], _errors(plan)
    assert not _errors(plan), _errors(plan)
    assert plan.stage("sft").config.get("replay"), plan.stage("sft").config


# ---------------------------------------------------------------- end to end on the tiny model

@pytest.mark.train
def test_the_sft_stage_trains_on_the_replay_rows_beside_a_held_out_split(write_spec, compile_spec, stage_runner):
    """SFT with data.replay at 0.2 and a quarter of data.train held out: the stage trains on the task rows left
    after the split plus the planned replay rows, and evaluates on task rows only."""
    from specc.runtime.common import DATA_COUNTS

    spec = write_spec(data={"train": "train.jsonl"}, method={"eval_steps": 1})
    _general(spec.parent)
    plan, build = compile_spec(_with(spec, "  validation: {fraction: 0.25}\n"
                                           "  replay: {path: data/general.jsonl, ratio: 0.2}"))
    replay = next(d for d in plan.data if d.role == "replay")
    assert replay.mix["task_rows"] == 42 and replay.mix["rows_used"] == 11  # 56 - ceil(56 × 0.25)
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage("sft").script)
    counts = json.loads((build / "artifacts" / "sft" / DATA_COUNTS).read_text())
    assert counts == {"task_rows": 42, "replay_rows": 11, "train_rows": 53, "validation_rows": 14, "ratio": 0.2,
                      "replay_source": "data/general.jsonl", "replay_source_rows": GENERAL_ROWS}
    assert "replay: 11 rows of data/general.jsonl mixed into 42 task rows" in proc.stderr + proc.stdout
    assert [e["step"] for e in _events(proc.stdout) if "eval_loss" in e] == [1, 2], proc.stdout[-2000:]


@pytest.mark.train
@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_preference_stages_evaluate_on_a_held_out_share_of_their_own_pairs(method, write_spec, compile_spec,
                                                                          stage_runner):
    from specc.runtime.common import DATA_COUNTS

    spec = write_spec(data={"preference": "preference.jsonl"}, method={"method": method, "eval_steps": 1})
    plan, build = compile_spec(_with(spec, "  validation: {fraction: 0.25}"))
    fact = next(d for d in plan.data if d.role == "validation")
    assert (fact.path, fact.rows) == ("0.25 of data.preference", 14)
    config = plan.stage(method).config
    assert config["validation"]["source"] == {"kind": "held_out", "fraction": 0.25, "of": "data.preference",
                                                   "seed": 42}
    assert config["train"]["eval_strategy"] == "steps"
    assert [d["role"] for d in plan.stage("firewall").config["training"]] == ["preference"]  # scanned whole
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage(method).script)
    assert [e["step"] for e in _events(proc.stdout) if "eval_loss" in e] == [1, 2], proc.stdout[-2000:]
    counts = json.loads((build / "artifacts" / method / DATA_COUNTS).read_text())
    pairs = {"dpo": 1, "kto": 2}[method]  # KTO trains on each answer alone: a pair is two rows
    assert counts["validation_rows"] == 14 * pairs and counts["task_rows"] == 42 * pairs, counts


def test_a_hub_replay_source_is_pinned_and_its_rows_recorded_by_the_firewall(tmp_path, monkeypatch):
    """Replay from a Hub dataset (alpaca columns, mapped): the plan locks its commit, the firewall stage reads it
    through the loader and records its rows' fingerprint, like any Hub training source."""
    from conftest import make_hub_repo, run_firewall_stage
    from specc.plan.planner import plan_spec_file
    from strategies import write_fuzz_project
    from test_datasources import ALPACA, GOLDEN, _spec

    mirror = tmp_path / "hub"
    mirror.mkdir()
    monkeypatch.setenv("SPECC_HUB_MIRROR", str(mirror))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    proj = write_fuzz_project(tmp_path / "proj")
    (proj / "data" / "golden.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GOLDEN), encoding="utf-8")
    (proj / "data" / "task.jsonl").write_text("".join(json.dumps({"prompt": f"task {i}", "completion": f"T{i}"})
                                                      + "\n" for i in range(40)), encoding="utf-8")
    sha = make_hub_repo(mirror, "acme/general", {"train": ALPACA})
    spec = _spec(proj, "{path: data/task.jsonl}")
    _with(spec, f"  replay: {{hub: acme/general, revision: {sha}, format: alpaca, ratio: 0.25}}")
    plan = plan_spec_file(spec)
    assert not _errors(plan), _errors(plan)
    replay = next(d for d in plan.data if d.role == "replay")
    assert replay.source["revision"] == sha and replay.format == "prompt_completion"
    assert replay.mix["rows_used"] == replay_rows(40, 0.25) == 13
    proc = run_firewall_stage(spec)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((proc.build / "reports" / "data-lock.json").read_text())["hub:acme/general"]
    assert record["rows"] == len(ALPACA) and len(record["fingerprint"]) == 64


@pytest.mark.parametrize("line,needle", [
    ("  replay: {path: data/general.jsonl}", "ratio"),
    ("  replay: {path: data/general.jsonl, ratio: 1}", "ratio"),
    ("  replay: {path: data/general.jsonl, ratoi: 0.2}", "ratoi"),
])
def test_bad_replay_fields_are_located_spec_errors(write_spec, line, needle):
    from specc.spec.loader import SpecInvalid, load_spec

    spec = _with(write_spec(data={"train": "train.jsonl"}), line)
    with pytest.raises(SpecInvalid) as info:
        load_spec(spec)
    errors = info.value.errors
    assert errors and all(e.line > 1 for e in errors), [str(e) for e in errors]
    assert any(needle in str(e) and "replay" in str(e) for e in errors), [str(e) for e in errors]


def test_a_replay_conversation_without_an_assistant_turn_is_refused_by_check(write_spec, tiny_data):
    """Replay rows are trained on, so they meet the training rows' rules (checked by `specc check` and the
    firewall stage before any training stage starts), not only when the SFT stage loads them."""
    spec = write_spec(data={"train": "train.jsonl"})
    _general(spec.parent, [{"messages": [{"role": "user", "content": "general question"}]}])
    _with(spec, "  replay: {path: data/general.jsonl, ratio: 0.2}")
    proc = subprocess.run([sys.executable, "-m", "specc", "check", str(spec)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "general.jsonl:1" in proc.stdout + proc.stderr and "no assistant turn" in proc.stdout + proc.stderr

"""End to end on the tiny model: general suites from any source (issue 11: every role from every source). The
arithmetic suite is a split of a Hub-layout repository (through ``SPECC_HUB_MIRROR``, the same loader a Hub id
takes), the capitals suite a local Parquet file; the training data mixes alpaca rows from the Hub with local chat
rows. The firewall stage records the Hub suite's rows, the baseline stage scores both suites from their sources,
SFT trains on the mixture as conversations, and the baseline refuses once the Hub suite's served rows are no
longer the locked commit's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_hub_repo, write_parquet

pytestmark = pytest.mark.train


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_general_suites_from_a_hub_split_and_parquet_are_locked_and_scored(write_spec, compile_spec, stage_runner,
                                                                          tmp_path, monkeypatch):
    spec = write_spec()
    data = spec.parent / "data"
    arithmetic = _rows(data / "suites" / "arithmetic.jsonl")
    capitals = _rows(data / "suites" / "capitals.jsonl")
    mirror = tmp_path / "hub"
    sha = make_hub_repo(mirror, "acme/general", {"test": arithmetic + arithmetic})
    write_parquet(data / "suites" / "capitals.parquet", capitals)
    alpaca = [{"instruction": r["prompt"], "input": "", "output": r["completion"]} for r in _rows(data / "train_pc.jsonl")]
    tasks = make_hub_repo(mirror, "acme/tasks", {"train": alpaca[:28]})
    env = {"SPECC_HUB_MIRROR": str(mirror), "HF_DATASETS_CACHE": str(tmp_path / "hf-cache")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    text = spec.read_text(encoding="utf-8")
    text = text.replace("{name: arithmetic, kind: exact_match, path: data/suites/arithmetic.jsonl}",
                        f"{{name: arithmetic, kind: exact_match, hub: acme/general, revision: {sha}, "
                        f"split: 'test[:{len(arithmetic)}]'}}")
    text = text.replace("path: data/suites/capitals.jsonl", "path: data/suites/capitals.parquet")
    # training data: alpaca rows from the Hub mixed with local chat rows, trained as conversations
    text = text.replace("  train: {path: data/train.jsonl}",
                        f"  train:\n    - {{hub: acme/tasks, revision: {tasks}, format: alpaca, weight: 1}}\n"
                        "    - {path: data/train.jsonl, weight: 1, max_rows: 20}")
    assert "hub: acme/general" in text and "capitals.parquet" in text and "hub: acme/tasks" in text, text
    spec.write_text(text, encoding="utf-8")

    plan, build = compile_spec(spec)
    facts = {d.name: d for d in plan.data if d.role == "suite"}
    assert facts["arithmetic"].rows == len(arithmetic) and facts["arithmetic"].source["revision"] == sha
    assert facts["capitals"].source["kind"] == "parquet" and facts["capitals"].sha256
    script = {s.id: s.script for s in plan.stages}
    stage_runner(build, script["firewall"], env=env)
    record = json.loads((build / "reports/data-lock.json").read_text())[f"hub:acme/general[test[:{len(arithmetic)}]]"]
    assert record["rows"] == len(arithmetic) and record["revision"] == sha
    stage_runner(build, script["baseline"], env=env)
    suites = json.loads((build / "results/baseline.json").read_text())["suites"]
    assert suites["arithmetic"]["n"] == len(arithmetic) and suites["capitals"]["n"] == len(capitals)
    proc = stage_runner(build, script["sft"], env=env)  # the alpaca + chat mixture, trained as conversations
    assert "inputs match the lock" in proc.stderr
    assert [d["format"] for d in plan.stage("sft").config["data"]] == ["prompt_completion", "messages"]
    assert plan.hyperparameters["assistant_only_loss"] is True
    assert (build / plan.stage("sft").outputs["adapter"] / "adapter_model.safetensors").is_file()
    # the Hub suite's branch moves: the stage that scores it refuses (exit 3), nothing is scored
    (build / "results/baseline.json").unlink()
    make_hub_repo(mirror, "acme/general", {"test": arithmetic[:3]})
    moved = stage_runner(build, script["baseline"], env=env, check=False)
    assert moved.returncode == 3 and "REFUSED: hub:acme/general[test[:" in moved.stderr, moved.stderr[-2000:]
    assert f"not the locked revision {sha[:12]}" in moved.stderr
    assert not (build / "results/baseline.json").exists()

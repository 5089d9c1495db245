"""End to end on the tiny model: a spec whose training data is a weighted mixture of an alpaca-format Hub
dataset and a local prompt/completion file, and whose
golden set is a sharegpt subset of the same repository (both from a Hub-layout repository through ``SPECC_HUB_MIRROR``, the
same loader code a Hub id takes). The firewall, baseline and SFT stages run as the emitted scripts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import make_hub_repo

pytestmark = pytest.mark.train


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_sft_trains_on_a_hub_and_local_mixture_scored_on_a_sharegpt_subset(write_spec, compile_spec, stage_runner,
                                                                        tmp_path, monkeypatch):
    spec = write_spec()
    data = spec.parent / "data"
    train = [{"instruction": r["prompt"], "input": "", "output": r["completion"]} for r in _rows(data / "train_pc.jsonl")]
    golden = [{"conversations": [{"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]}
                                 for m in r["messages"]]} for r in _rows(data / "golden.jsonl")]
    mirror = tmp_path / "hub"
    sha = make_hub_repo(mirror, "acme/tickets", {"train": train}, configs={"golden": {"test": golden}})
    monkeypatch.setenv("SPECC_HUB_MIRROR", str(mirror))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    text = spec.read_text(encoding="utf-8")
    start = text.index("  train: {path: data/train.jsonl}")
    text = text.replace("  train: {path: data/train.jsonl}",
                        f"  train:\n    - {{hub: acme/tickets, revision: {sha}, format: alpaca, weight: 2}}\n"
                        "    - {path: data/train_pc.jsonl, weight: 1, max_rows: 20}")
    text = text.replace("  golden: {path: data/golden.jsonl}",
                        f"  golden: {{hub: acme/tickets, revision: {sha}, subset: golden, split: test, format: sharegpt}}")
    assert start >= 0 and "golden: {hub:" in text, text
    spec.write_text(text, encoding="utf-8")

    plan, build = compile_spec(spec)
    script = {s.id: s.script for s in plan.stages}
    env = {"SPECC_HUB_MIRROR": str(mirror), "HF_DATASETS_CACHE": str(tmp_path / "hf-cache")}
    stage_runner(build, script["firewall"], env=env)
    assert json.loads((build / "reports/firewall.json").read_text())["passed"] is True
    stage_runner(build, script["baseline"], env=env)
    baseline = json.loads((build / "results/baseline.json").read_text())
    assert baseline["target"]["n"] == len(golden)
    proc = stage_runner(build, script["sft"], env=env)
    assert "inputs match the lock" in proc.stderr
    assert [d["name"] for d in plan.stage("sft").config["data"]] == ["train[0]", "train[1]"]
    adapter = build / plan.stage("sft").outputs["adapter"]
    assert (adapter / "adapter_model.safetensors").is_file()
    assert os.environ.get("SPECC_HUB_MIRROR") == str(mirror)

"""Mixtures (issue 11): a data role given as a list of sources, with weight / max_rows / fraction, drawn
deterministically given the seed; the plan shows rows and tokens per member; the firewall scans every member.
Hub members come from Hub-layout repositories through ``SPECC_HUB_MIRROR`` (see ``make_hub_repo`` in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_hub_repo
from specc.build.emitter import compile_plan
from specc.cli.main import main as cli
from specc.data.mixture import MixtureError, member_counts
from specc.plan.planner import plan_spec_file
from specc.plan.render import render_text
from strategies import write_fuzz_project
from test_datasources import ALPACA, GOLDEN, _errors, _spec

LOCAL = [{"prompt": f"local ticket {i} about thing {i * 5}", "completion": f"#{i}/LOCAL"} for i in range(40)]


@pytest.fixture()
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_fuzz_project(tmp_path / "proj")
    (root / "data" / "golden.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GOLDEN), encoding="utf-8")
    (root / "data" / "local.jsonl").write_text("".join(json.dumps(r) + "\n" for r in LOCAL), encoding="utf-8")
    mirror = tmp_path / "hub"
    make_hub_repo(mirror, "acme/tickets", {"train": ALPACA})
    monkeypatch.setenv("SPECC_HUB_MIRROR", str(mirror))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return root


MIX = "[{path: data/local.jsonl, weight: 1}, {hub: acme/tickets, format: alpaca, weight: 3}]"


def test_member_counts() -> None:
    assert member_counts([40, 30], [None, None], [None, 10], [0.5, None]) == [20, 10]
    assert member_counts([40, 30], [1, 3], [None, None], [None, None]) == [17, 53]  # 70 rows: 17.5 and 52.5, the remainder to the larger weight; 30 rows upsampled to 53
    assert sum(member_counts([7, 5, 3], [1, 1, 1], [None] * 3, [None] * 3)) == 15
    with pytest.raises(MixtureError, match="member 1: no rows left"):
        member_counts([40, 30], [None, None], [None, None], [None, 0.01])
    with pytest.raises(MixtureError, match="sum to zero"):
        member_counts([4, 3], [0, 0], [None, None], [None, None])


def test_plan_shows_rows_and_tokens_per_member(proj: Path) -> None:
    plan = plan_spec_file(_spec(proj, MIX))
    assert not _errors(plan), _errors(plan)
    members = [d for d in plan.data if d.role == "train"]
    assert [(d.name, d.path, d.rows, d.mix["rows_used"]) for d in members] == [
        ("train[0]", "data/local.jsonl", 40, 17), ("train[1]", "hub:acme/tickets", 30, 53)]
    assert all(d.mix["tokens"] > 0 for d in members)
    text = render_text(plan)
    assert "train[0]: data/local.jsonl (prompt_completion)" in text and "weight 3.0, 53 rows used, ≈" in text
    training = plan.stage("firewall").config["training"]
    assert [d["name"] for d in training] == ["train[0]", "train[1]"]
    assert plan.stage("sft").config["data"][1]["mix"]["seed"] == 42


def test_bad_mixtures_are_located_errors(proj: Path) -> None:
    empty = plan_spec_file(_spec(proj, "[{path: data/local.jsonl}, {hub: acme/tickets, max_rows: 5, fraction: 0.01}]"))
    assert any(e.startswith("DATA-MIXTURE-INVALID: data.train: member 1: no rows left") for e in _errors(empty))
    mixed = plan_spec_file(_spec(proj, "[{path: data/local.jsonl}, {path: data/golden.jsonl, columns: {text: prompt}}]"))
    assert any(e.startswith("DATA-MIXTURE-INVALID") and "differ in format" in e for e in _errors(mixed)), _errors(mixed)
    spec = _spec(proj, "[{path: data/local.jsonl, weight: 0}, {hub: acme/tickets, weight: 0}]")
    result = CliRunner().invoke(cli, ["validate", str(spec)])
    assert result.exit_code == 1 and "spec.yaml:8:" in result.output and "sum to zero" in result.output, result.output


def test_mixture_draw_is_deterministic_and_matches_the_plan(proj: Path) -> None:
    from specc.runtime.common import load_rows_dataset

    plan = plan_spec_file(_spec(proj, MIX))
    build = proj / "build"
    # the entries as the compiled sft script holds them (the emitter adds each local file's build-relative path)
    from specc.build.emitter import script_config

    config = script_config(plan.stage("sft"), None, "..")
    entries = [{**e, "path": str(build / e["path"])} if e.get("path") else e for e in config["data"]]
    first = load_rows_dataset(entries, chat=False)
    again = load_rows_dataset(entries, chat=False)
    assert len(first) == 70 and first.to_list() == again.to_list()
    completions = [r["completion"] for r in first]
    assert sum(c.endswith("/LOCAL") for c in completions) == 17 and sum(c.endswith("/ITEM") for c in completions) == 53


def test_firewall_scans_every_member(proj: Path) -> None:
    leaked = LOCAL + [GOLDEN[4]]
    (proj / "data" / "local.jsonl").write_text("".join(json.dumps(r) + "\n" for r in leaked), encoding="utf-8")
    plan = plan_spec_file(_spec(proj, "[{hub: acme/tickets, format: alpaca}, {path: data/local.jsonl, max_rows: 5}]"))
    assert plan.ok, _errors(plan)
    build = proj / "build"
    compile_plan(plan, proj, build)
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SPECC_WANDB_MODE": "disabled"})
    assert proc.returncode == 3, proc.stderr[-2000:]
    report = json.loads((build / "reports" / "firewall.json").read_text())
    assert [f["name"] for f in report["files"]] == ["hub:acme/tickets", "data/local.jsonl"]
    assert report["contaminated"][0]["hits"][0]["file"] == "data/local.jsonl"

"""The Hub example specs (specs/hub/) plan, compile and run their firewall stage through the real loader, against
a local mirror of the real dataset ids they name (``make_hub_repo`` + ``SPECC_HUB_MIRROR``: the same loading code
a Hub id takes on a machine with network). Their rows are small stand-ins in each dataset's own layout.

Why specs/hub/ and not specs/: ``specc demo`` and the example checks plan every ``specs/*.yaml`` offline, and
planning a Hub source reads its rows (a download of the whole split on a connected machine)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_hub_repo
from specc.demo import corpus
from specc.build.emitter import compile_plan
from specc.plan.planner import plan_spec_file

REPO = Path(__file__).resolve().parents[1]
ALPACA = [{"instruction": ex.prompt, "input": "", "output": ex.completion}
          for ex in corpus.narrow_task_examples(200, seed=11)]
HERMES = [{"conversations": [{"from": "system", "value": "You are a helpful assistant."},
                             {"from": "human", "value": ex.prompt}, {"from": "gpt", "value": ex.completion}]}
          for ex in corpus.narrow_task_examples(300, seed=12)]


@pytest.fixture()
def examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """specs/ copied to a scratch folder, and a Hub mirror holding the ids the Hub examples name."""
    mirror = tmp_path / "hub"
    shas = {"yahma/alpaca-cleaned": make_hub_repo(mirror, "yahma/alpaca-cleaned", {"train": ALPACA},
                                                  card="license: cc-by-4.0\n"),
            "teknium/OpenHermes-2.5": make_hub_repo(mirror, "teknium/OpenHermes-2.5", {"train": HERMES})}
    monkeypatch.setenv("SPECC_HUB_MIRROR", str(mirror))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    specs = tmp_path / "specs"
    shutil.copytree(REPO / "specs" / "hub", specs / "hub")
    shutil.copytree(REPO / "specs" / "data", specs / "data")
    return specs, shas


def _pinned(spec: Path, shas: dict[str, str]) -> Path:
    """The example with each Hub source pinned to the mirror's commit (what a reviewer pastes in)."""
    lines = []
    for line in spec.read_text(encoding="utf-8").splitlines(keepends=True):
        for hub, sha in shas.items():
            if f"hub: {hub}" in line:
                line = line.replace("revision: main", f"revision: {sha}")
        lines.append(line)
    text = "".join(lines)
    if "\n    hub: " in text:  # block style: one source per mapping
        for hub, sha in shas.items():
            text = text.replace(f"hub: {hub}\n    revision: main", f"hub: {hub}\n    revision: {sha}")
    out = spec.with_name(f"pinned-{spec.name}")
    out.write_text(text, encoding="utf-8")
    return out


def _errors(plan) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in plan.findings if f.level == "error"]


def _firewall(plan, spec: Path) -> dict:
    build = spec.parent / "build"
    compile_plan(plan, spec.parent, build)
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SPECC_WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((build / "reports" / "firewall.json").read_text())


def test_the_hub_example_plans_warns_until_pinned_and_runs_its_firewall(examples) -> None:
    specs, shas = examples
    sha = shas["yahma/alpaca-cleaned"]
    unpinned = plan_spec_file(specs / "hub" / "sft-alpaca-hub.yaml")
    assert not _errors(unpinned), _errors(unpinned)
    assert {f.message for f in unpinned.findings if f.rule == "DATA-HUB-UNPINNED"} == {
        f"train source hub:yahma/alpaca-cleaned[train[:95%]] is not pinned: revision 'main' resolved to {sha}",
        f"golden source hub:yahma/alpaca-cleaned[train[95%:]] is not pinned: revision 'main' resolved to {sha}"}
    spec = _pinned(specs / "hub" / "sft-alpaca-hub.yaml", shas)
    plan = plan_spec_file(spec)
    assert not _errors(plan) and not [f for f in plan.findings if f.rule == "DATA-HUB-UNPINNED"]
    facts = {d.role: d for d in plan.data}
    assert (facts["train"].rows, facts["golden"].rows) == (190, 10)
    assert facts["train"].format == "prompt_completion" and facts["train"].licence == "cc-by-4.0"
    report = _firewall(plan, spec)
    assert report["passed"] is True and report["golden"] == {"file": "hub:yahma/alpaca-cleaned[train[95%:]]", "rows": 10}


def test_the_mixture_example_mixes_alpaca_and_sharegpt_rows_as_chat(examples) -> None:
    from specc.runtime.common import load_rows_dataset

    specs, shas = examples
    spec = _pinned(specs / "hub" / "sft-mixture-hub.yaml", shas)
    plan = plan_spec_file(spec)
    assert not _errors(plan), _errors(plan)
    members = [d for d in plan.data if d.role == "train"]
    assert [(d.format, d.mix["weight"]) for d in members] == [("prompt_completion", 2.0), ("messages", 1.0)]
    assert plan.hyperparameters["assistant_only_loss"] is True  # the mix is trained as chat
    validation = next(d for d in plan.data if d.role == "validation")
    assert validation.rows == math.ceil(sum(d.mix["rows_used"] for d in members) * 0.05)  # as datasets holds out
    assert validation.format == "messages"
    report = _firewall(plan, spec)
    assert report["passed"] is True and len(report["files"]) == 2
    # the SFT stage's loader draws the mix as the plan says: every row a conversation
    entries = [{**e, "path": None} for e in plan.stage("sft").config["data"]]
    rows = load_rows_dataset(entries, chat=False)
    assert rows.column_names == ["messages"] and len(rows) == sum(d.mix["rows_used"] for d in members)
    firsts = {r["messages"][0]["content"][:9] for r in rows}
    assert "You are a" in firsts and len(firsts) > 2

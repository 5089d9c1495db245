"""``data.validation`` (issue 11): its own source, firewalled like training data, or a seeded held-out share
of data.train. (Evaluation during training is wired into the trainers by another issue.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specc.build.emitter import compile_plan
from specc.plan.planner import plan_spec_file
from strategies import write_fuzz_project
from test_datasources import GOLDEN, _errors, _spec

TRAIN = [{"prompt": f"local ticket {i} about thing {i * 5}", "completion": f"#{i}/LOCAL"} for i in range(40)]


@pytest.fixture()
def proj(tmp_path: Path) -> Path:
    root = write_fuzz_project(tmp_path / "proj")
    for name, rows in (("golden", GOLDEN), ("local", TRAIN), ("val", TRAIN[:5] + [GOLDEN[3]])):
        (root / "data" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def _with_validation(proj: Path, validation: str) -> Path:
    spec = _spec(proj, "{path: data/local.jsonl}")
    spec.write_text(spec.read_text().replace("  golden:", f"  validation: {validation}\n  golden:"), encoding="utf-8")
    return spec


def test_a_validation_source_is_firewalled_like_training_data(proj: Path) -> None:
    plan = plan_spec_file(_with_validation(proj, "{path: data/val.jsonl}"))
    assert not _errors(plan), _errors(plan)
    assert [d["role"] for d in plan.stage("firewall").config["training"]] == ["train", "validation"]
    assert plan.stage("sft").config["validation"]["spec_path"] == "data/val.jsonl"
    build = proj / "build"
    compile_plan(plan, proj, build)
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SPECC_WANDB_MODE": "disabled"})
    assert proc.returncode == 3, proc.stderr[-2000:]  # the validation rows hold a golden row
    report = json.loads((build / "reports" / "firewall.json").read_text())
    assert report["contaminated"][0]["hits"][0]["file"] == "data/val.jsonl"


def test_validation_that_is_the_golden_set_is_a_plan_error(proj: Path) -> None:
    plan = plan_spec_file(_with_validation(proj, "{path: data/golden.jsonl}"))
    assert any(e.startswith("DATA-GOLDEN-IS-TRAINING") and "data.validation" in e for e in _errors(plan))


def test_a_held_out_fraction_is_a_seeded_disjoint_split(proj: Path) -> None:
    import datasets

    from specc.runtime.datasource import hold_out

    plan = plan_spec_file(_with_validation(proj, "{fraction: 0.25}"))
    assert not _errors(plan), _errors(plan)
    [fact] = [d for d in plan.data if d.role == "validation"]
    assert (fact.path, fact.rows, fact.source) == ("0.25 of data.train", 10,
                                                   {"kind": "held_out", "fraction": 0.25, "of": "data.train"})
    assert [d["role"] for d in plan.stage("firewall").config["training"]] == ["train"]  # scanned as train
    entry = plan.stage("sft").config["validation"]
    assert entry["source"] == {"kind": "held_out", "fraction": 0.25, "of": "data.train", "seed": 42}
    ds = datasets.Dataset.from_list(TRAIN)
    train, val = hold_out(ds, entry)
    again = hold_out(ds, entry)[1]
    assert len(val) == 10 and len(train) == 30 and val.to_list() == again.to_list()
    assert not {r["prompt"] for r in val} & {r["prompt"] for r in train}

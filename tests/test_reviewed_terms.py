"""A stage reads the reviewed plan's terms at run time: the package floors of the lock and the eval contract."""

from __future__ import annotations

import json

import pytest

from conftest import run_stage
from specc.runtime.reviewed import contract, package_problems


def test_an_older_installed_package_is_named_with_the_fix():
    problems = package_problems({"click": ">=999", "pydantic": ">=2", "not-a-real-package-xyz": ">=1"})
    assert len(problems) == 1
    assert problems[0].startswith("click ") and "compiled for click>=999" in problems[0]
    assert "pip install 'click>=999'" in problems[0]


def test_a_stage_refuses_to_start_on_a_stack_older_than_the_lock(write_spec, compile_spec):
    plan, build = compile_spec(write_spec())
    doc = json.loads((build / "plan.json").read_text())
    doc["lock"]["packages"]["click"] = ">=999"
    (build / "plan.json").write_text(json.dumps(doc))
    proc = run_stage(build, plan.stage("baseline").script, check=False, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "REFUSED: click " in proc.stderr and "Traceback" not in proc.stderr


def test_the_eval_stage_reads_the_contract_from_plan_json(write_spec, compile_spec):
    spec = write_spec()
    spec.write_text(spec.read_text().replace("bar: 0.5", "bar: 0.25").replace("max_abs_drop: 1.0", "max_abs_drop: 0.07"))
    plan, build = compile_spec(spec)
    assert contract(build)["bar"] == 0.25 and contract(build)["max_abs_drop"] == 0.07
    eval_script = (build / plan.stage("eval").script).read_text()
    assert "reviewed.contract()" in eval_script and "'max_abs_drop'" not in eval_script
    assert not (build / "contract.json").exists()


def test_an_unreadable_plan_json_stops_the_contract_read(tmp_path):
    (tmp_path / "plan.json").write_text("{")
    with pytest.raises(SystemExit, match="cannot read the reviewed contract"):
        contract(tmp_path)

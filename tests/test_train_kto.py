"""KTO (issue 12): answers labelled good or bad ({prompt, completion, label}) under data.preference are
routed to KTO by the planner (never trained on as demonstrations), and the emitted KTO stage trains on the
tiny model (2 optimiser steps) after the real firewall."""

from __future__ import annotations

import dataclasses
import json

import pytest


def _kto_rows(spec):
    data = spec.parent / "data"
    rows = []
    for line in (data / "preference.jsonl").read_text().splitlines():
        pair = json.loads(line)
        rows.append({"prompt": pair["prompt"], "completion": pair["chosen"], "label": True})
        rows.append({"prompt": pair["prompt"], "completion": pair["rejected"], "label": False})
    (data / "kto.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return spec


def _spec(write_spec, **method):
    return _kto_rows(write_spec(name="tiny-kto", data={"preference": "kto.jsonl"},
                                method={"micro_batch_size": 2, **method}))


def test_unpaired_labels_route_to_kto(write_spec):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(_spec(write_spec))
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    assert plan.method == "kto" and "METHOD-KTO-UNPAIRED" in [d.rule for d in plan.decisions]
    assert [s.kind for s in plan.stages] == ["firewall", "baseline", "kto", "merge", "eval"]
    kto = plan.stage("kto").config
    assert kto["train"]["beta"] == 0.1 and kto["train"]["learning_rate"] == 5e-6
    assert plan.hyperparameter_sources["kto_beta"] == "default"
    trl = pytest.importorskip("trl")
    names = {f.name for f in dataclasses.fields(trl.KTOConfig)}
    assert sorted(set(kto["train"]) - names) == []


def test_kto_needs_two_rows_per_batch_and_dpo_needs_pairs(write_spec):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(_spec(write_spec, micro_batch_size=1))
    assert [f.rule for f in plan.findings if f.level == "error"] == ["METHOD-KTO-BATCH"]
    plan = plan_spec_file(_spec(write_spec, method="dpo"))
    errors = [f for f in plan.findings if f.level == "error"]
    assert [f.rule for f in errors] == ["DATA-FORMAT-MISMATCH"] and "method: kto" in errors[0].hint


@pytest.mark.train
def test_kto_stage_trains_on_the_tiny_model(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(_spec(write_spec, stages={"kto": {"beta": 0.2, "learning_rate": 1e-4}}))
    assert plan.stage("kto").config["train"]["beta"] == 0.2
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage("kto").script)
    steps = [json.loads(line[8:])["step"] for line in proc.stdout.splitlines()
             if line.startswith("@@specc ") and '"loss"' in line]
    assert steps == [1, 2], proc.stdout[-2000:]
    adapter = build / plan.stage("kto").outputs["adapter"]
    assert (adapter / "adapter_model.safetensors").is_file()

"""Stage fingerprints on real compiled plans (no training): what changes them, what does not, how a
mismatch is explained, and how a checkpoint directory is claimed. The end-to-end proofs are in
tests/test_stale_e2e.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from specc.build.emitter import templates_dir
from specc.run import fingerprint as fp
from specc.runtime import common

from conftest import plan_and_compile


def _fps(build: Path) -> dict[str, fp.Fingerprint]:
    doc = fp.read_build(build)
    return {s["id"]: fp.stage_fingerprint(doc, s["id"]) for s in doc["plan"]["stages"]}


def test_fingerprints_follow_what_each_stage_reads(write_spec, tmp_path):
    spec = write_spec(method={"max_steps": 2, "learning_rate": 0.002})
    _, build = plan_and_compile(spec, tmp_path / "b1")
    first = _fps(build)
    assert list(first) == ["firewall", "baseline", "sft", "merge", "eval"]
    assert _fps(plan_and_compile(spec, tmp_path / "b2")[1]) == first  # deterministic, wherever built
    doc = fp.read_build(build)
    assert fp.upstream_stages(doc, "baseline") == []  # ordering-only `needs` are not inputs
    assert fp.upstream_stages(doc, "sft") == ["firewall"]
    assert fp.upstream_stages(doc, "eval") == ["baseline", "merge"]
    assert set(first["baseline"]["locked"]) == {"data:data/golden.jsonl", "data:data/suites/arithmetic.jsonl",
                                                "data:data/suites/capitals.jsonl", "model:model"}
    assert len(first["baseline"]["locked"]["model:model"]) == 64  # the local model is locked by content

    # new training data: everything that depends on it changes, the baseline does not
    train = spec.parent / "data/train.jsonl"
    train.write_text(train.read_text().replace("[CAKE SALT]", "[SALT CAKE]", 1))
    data_changed = _fps(plan_and_compile(spec, tmp_path / "b3")[1])
    assert data_changed["baseline"] == first["baseline"]
    assert all(data_changed[s].digest != first[s].digest for s in ("firewall", "sft", "merge", "eval"))
    assert "data/train.jsonl changed" in fp.explain(first["sft"], data_changed["sft"])
    assert "upstream stage changed: merge" in fp.explain(first["eval"], data_changed["eval"])

    # a hyper-parameter: sft and what follows, not the firewall
    spec.write_text(spec.read_text().replace("learning_rate: 0.002", "learning_rate: 0.003"))
    lr_changed = _fps(plan_and_compile(spec, tmp_path / "b4")[1])
    assert lr_changed["firewall"] == data_changed["firewall"] and lr_changed["baseline"] == first["baseline"]
    assert lr_changed["sft"].digest != data_changed["sft"].digest
    assert fp.explain(data_changed["sft"], lr_changed["sft"]) == "config changed: train.learning_rate"


def test_bookkeeping_keys_do_not_change_a_fingerprint(write_spec, tmp_path):
    """Checkpoint pacing and logging cadence may be edited mid-run without losing a resumable checkpoint;
    anything that changes what is learnt may not."""
    _, build = plan_and_compile(write_spec(), tmp_path / "b")
    doc = fp.read_build(build)
    before = fp.stage_fingerprint(doc, "sft")
    sft = fp.stage_entry(doc, "sft")
    sft["config"]["train"].update(save_steps=7, logging_steps=3, save_total_limit=9)
    sft["config"]["checkpoint_min_interval_s"] = 0
    assert fp.stage_fingerprint(doc, "sft") == before
    sft["config"]["train"]["seed"] = 1234
    assert fp.stage_fingerprint(doc, "sft").digest != before.digest


def test_a_local_model_is_locked_by_its_files(write_spec, tmp_path):
    spec = write_spec()
    _, build = plan_and_compile(spec, tmp_path / "b")
    (model,) = json.loads((build / "plan.json").read_text())["lock"]["models"]
    assert model["source"] == "local" and len(model["sha256"]) == 64
    again = json.loads((plan_and_compile(spec, tmp_path / "c")[1] / "plan.json").read_text())["lock"]["models"]
    assert again == [model]


def test_templates_and_firewalled_kinds_agree():
    """The fingerprint treats the firewall as an input of exactly the stage kinds whose template's guard
    requires a passed report; every other stage still runs the guard (suites, models, upstream)."""
    requiring, guarded = set(), set()
    for tpl in sorted((templates_dir() / "stages").glob("*.py.j2")):
        if tpl.name.startswith("_"):
            continue
        kind = tpl.name.removesuffix(".py.j2")
        text = tpl.read_text()
        if "guard.verify_inputs(CONFIG)" in text:
            requiring.add(kind)
        if re.search(r"guard\.verify_inputs\(CONFIG", text):
            guarded.add(kind)
    assert requiring == set(fp.FIREWALLED_KINDS)
    assert guarded == {p.name.removesuffix(".py.j2") for p in (templates_dir() / "stages").glob("*.py.j2")
                       if not p.name.startswith("_")}


def _made_under(digest: str, config: str = "c1") -> dict:
    return {"fingerprint": {"digest": digest, "locked": {"data:t.jsonl": digest}, "config": {}, "upstream": {}},
            "config_sha256": config}


def test_checkpoints_made_under_another_fingerprint_are_removed(tmp_path, capsys):
    ckpts = tmp_path / "checkpoints"
    (ckpts / "checkpoint-4").mkdir(parents=True)
    (ckpts / "checkpoint-4" / "trainer_state.json").write_text("{}")
    # no record (an older specc): unknown origin, removed
    common.claim_checkpoints(ckpts, _made_under("aaa"))
    assert not (ckpts / "checkpoint-4").exists() and "carry no fingerprint" in capsys.readouterr().err
    # same fingerprint and config: kept, nothing said
    (ckpts / "checkpoint-2").mkdir()
    common.claim_checkpoints(ckpts, _made_under("aaa"))
    assert (ckpts / "checkpoint-2").is_dir() and capsys.readouterr().err == ""
    # the script's CONFIG was edited: removed
    common.claim_checkpoints(ckpts, _made_under("aaa", config="c2"))
    assert not (ckpts / "checkpoint-2").exists() and "CONFIG was edited" in capsys.readouterr().err
    # other data: removed, naming the file
    (ckpts / "checkpoint-6").mkdir()
    common.claim_checkpoints(ckpts, _made_under("bbb", config="c2"))
    err = capsys.readouterr().err
    assert not (ckpts / "checkpoint-6").exists() and "t.jsonl changed" in err and "checkpoint-6" in err
    assert json.loads((ckpts / common.CHECKPOINT_FINGERPRINT).read_text())["fingerprint"]["digest"] == "bbb"


def test_every_training_kind_is_firewalled():
    """A stage kind that trains (specc.plan.stages.TRAINING_KINDS) always has the firewall as an input."""
    from specc.plan.stages import TRAINING_KINDS

    assert TRAINING_KINDS <= fp.FIREWALLED_KINDS

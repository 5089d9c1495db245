"""End to end on real compiled builds of the tiny model: firewall -> baseline -> SFT-LoRA -> (merge) -> eval.

Few pipelines (CI time): a clean run, checked stage by stage including its W&B offline runs read
back from the binary run files; a run SIGKILLed mid-training then resumed, compared with the clean
one; and one that adopts the clean run's baseline (`--reuse-from`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import make_project, plan_and_compile, wait_for_lock_release
from specc.run.progress import parse_line
from test_wandb_offline import offline_runs

pytestmark = pytest.mark.train
MAX_STEPS = 8
SPEC = """\
specc: 1
name: e2e-lora
description: runner end-to-end test
goal: {behaviours: [format], summary: learn the ticket format, consistency_required: true}
evidence:
  prompting: {score: 0.1, notes: few-shot prompts}
constraints:
  hardware: {gpus: 0, cpu_memory_gb: 16}
base_model: {path: model, licence: apache-2.0}
data:
  train: {path: data/train.jsonl}
  golden: {path: data/golden.jsonl}
  general_suites:
    - {name: arithmetic, kind: exact_match, path: data/suites/arithmetic.jsonl}
    - {name: capitals, kind: multiple_choice, path: data/suites/capitals.jsonl}
method: {max_steps: MAX_STEPS, micro_batch_size: 4, gradient_accumulation: 1, max_seq_length: 64, lora_r: 4,
         learning_rate: 0.002}
eval:
  metric: exact_match
  bar: 0.5
  max_new_tokens: 12
  forgetting: {max_abs_drop: 1.0, max_rel_drop: 1.0}
tracking: {backend: wandb, mode: offline}
"""


def _project(root: Path, tiny_data: Path, tiny_model: Path) -> Path:
    """A spec directory: data copied from the session fixture, the model linked, W&B offline."""
    make_project(root, tiny_data, tiny_model)
    text = SPEC.replace("MAX_STEPS", str(MAX_STEPS))
    (root / "spec.yaml").write_text(text, encoding="utf-8")
    return root / "spec.yaml"


def _specc_run(*args: str, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "specc", "run", *args], capture_output=True, text=True,
                          timeout=900, **kw)


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory, tiny_data, tiny_model) -> Path:
    return _project(tmp_path_factory.mktemp("e2e"), tiny_data, tiny_model)


@pytest.fixture(scope="module")
def clean(spec_file) -> tuple[Path, subprocess.CompletedProcess]:
    """`specc run SPEC -o BUILD`: compile and run everything once, cleanly."""
    build = spec_file.parent / "build" / "clean"
    proc = _specc_run(str(spec_file), "-o", str(build))
    return build, proc


def _shape(x: Any) -> Any:
    """Keys and types of a JSON document, not its numbers: what two runs of one plan must share."""
    if isinstance(x, dict):
        return {k: _shape(v) for k, v in sorted(x.items())}
    if isinstance(x, list):
        return [_shape(v) for v in x[:1]]
    return "number" if isinstance(x, (int, float)) and not isinstance(x, bool) else type(x).__name__


def _events(log: str) -> list[dict[str, Any]]:
    return [e for e in map(parse_line, log.splitlines()) if e and e.get("event") == "progress"]


def _stage_ids(build: Path) -> list[str]:
    return [s["id"] for s in json.loads((build / "plan.json").read_text())["plan"]["stages"]]


def test_full_pipeline_runs_tracks_and_skips_on_rerun(clean):
    build, proc = clean
    assert proc.returncode in (0, 3), proc.stdout[-4000:] + proc.stderr[-4000:]
    ids = _stage_ids(build)
    assert ids[:3] == ["firewall", "baseline", "sft"] and ids[-1] == "eval"
    m = json.loads((build / "run_manifest.json").read_text())
    statuses = {sid: rec["status"] for sid, rec in m["stages"].items()}
    assert all(statuses[s] == "completed" for s in ids[:-1]), statuses
    assert statuses["eval"] in ("completed", "gated")
    assert len(m["stages"]["sft"]["script_sha256"]) == 64 and m["stages"]["sft"]["outputs"]["adapter"]["exists"]
    for sid in ids:
        assert (build / "logs" / f"{sid}.log").stat().st_size > 0
    assert re.search(r"sft: step \d+/%d loss" % MAX_STEPS, proc.stdout), proc.stdout
    assert (build / "results/baseline.json").is_file() and (build / "results/eval.json").is_file()

    # W&B: one offline run per stage, named after it, in the plan's group, with the config and results
    group = json.loads((build / "plan.json").read_text())["plan"]["tracking"]["group"]
    runs = {r["name"]: r for r in offline_runs(build)}
    assert set(runs) == set(ids), sorted(runs)  # every stage is a tracked run, firewall and merge included
    for sid in runs:
        run = runs[sid]
        assert run["group"] == group and run["project"] and run["job_type"] == sid and run["exit"] == 0
        assert run["config"]["stage"] == sid and run["config"]["kind"] == sid, sorted(run["config"])
    assert len(runs["sft"]["history"]["train/loss"]) >= 1 and runs["sft"]["config"]["max_steps"] == MAX_STEPS
    results = json.loads((build / "results/eval.json").read_text())
    assert "baseline/arithmetic" in runs["baseline"]["summary"]
    assert runs["firewall"]["summary"]["firewall/passed"] == 1 and "firewall/golden_rows" in runs["firewall"]["summary"]
    if "merge" in runs:
        assert runs["merge"]["summary"]["merge/model_dir"] == "artifacts/merge/model"
    assert runs["eval"]["summary"]["gate/passed"] == int(bool(results["verdict"]["passed"]))

    # status renders the results; a rerun skips every completed stage
    status = subprocess.run([sys.executable, "-m", "specc", "status", str(build), "--format", "json"],
                            capture_output=True, text=True, check=True)
    info = json.loads(status.stdout)
    assert [s["id"] for s in info["stages"]] == ids and info["results"] is not None
    again = _specc_run(str(build))
    assert again.returncode == proc.returncode
    assert again.stdout.count("skipped (completed, inputs unchanged)") == len(ids) - (statuses["eval"] != "completed")


HOLD_AFTER_FIRST_SAVE = """
def _hold_after_first_save():
    # test hook (test_kill_mid_training_then_resume): once, after the first checkpoint is saved, wait to be killed
    import pathlib, time
    from transformers import TrainerCallback

    class Hold(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            held = pathlib.Path("sft-held-at-step")
            if not held.exists():
                pathlib.Path("sft-held.tmp").write_text(str(state.global_step))
                pathlib.Path("sft-held.tmp").rename(held)  # whole, or not there yet
                time.sleep(3600)

    return Hold()
"""


def test_kill_mid_training_then_resume(spec_file, clean):
    clean_build, clean_proc = clean
    plan, build = plan_and_compile(spec_file, spec_file.parent / "build" / "killed")
    # save a checkpoint every 2 steps (the script's CONFIG is the place to experiment, says its header)
    script = build / plan.stage("sft").script
    text = script.read_text()
    assert re.search(r"'save_steps': \d+,", text) and re.search(r"'checkpoint_min_interval_s': \d+,", text)
    text = re.sub(r"'save_steps': \d+,", "'save_steps': 2,", text)
    text = re.sub(r"'checkpoint_min_interval_s': \d+,", "'checkpoint_min_interval_s': 0,", text)
    # The first attempt holds still after its first checkpoint until it is killed: killing "soon after a
    # checkpoint appeared" raced the training, which saved more checkpoints (or finished: 8 steps take under
    # a second) before the kill landed on a loaded machine. The hold is outside CONFIG: resuming is unaffected.
    assert text.count("callbacks=common.stage_callbacks(CONFIG),") == 1
    text = text.replace("callbacks=common.stage_callbacks(CONFIG),",
                        "callbacks=common.stage_callbacks(CONFIG) + [_hold_after_first_save()],")
    script.write_text(text.replace("\ndef main(", HOLD_AFTER_FIRST_SAVE + "\n\ndef main(", 1))

    out = build.parent / "killed-run.out"
    with open(out, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "specc", "run", str(build)], stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
    held, log = build / "sft-held-at-step", build / "logs/sft.log"
    deadline = time.monotonic() + 600
    # held after its first checkpoint, and the runner has relayed a step into the log (it relays as it reads)
    while not (held.exists() and any(e.get("step", 0) >= 1 for e in _events(log.read_text(errors="replace")))):
        assert proc.poll() is None, out.read_text()[-3000:]
        assert time.monotonic() < deadline, "the sft stage never held after a checkpoint in 600 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for_lock_release(build)  # the killed stage process, which holds the run lock too, exits a moment later
    from specc.runtime.common import checkpoint_problem

    killed_at = int(held.read_text())
    ckpts = build / "artifacts/sft/checkpoints"
    assert [int(p.name.split("-")[1]) for p in ckpts.glob("checkpoint-*") if checkpoint_problem(p) is None] == [killed_at]
    assert killed_at < MAX_STEPS, "training finished before the kill; raise MAX_STEPS"
    m = json.loads((build / "run_manifest.json").read_text())
    assert m["stages"]["sft"]["status"] == "running"  # what a SIGKILL leaves behind

    resumed = _specc_run(str(build))
    assert resumed.returncode == clean_proc.returncode, resumed.stdout[-4000:] + resumed.stderr[-3000:]
    assert "stage sft was interrupted" in resumed.stdout
    assert resumed.stdout.count("skipped (completed, inputs unchanged)") == 2  # firewall, baseline
    m = json.loads((build / "run_manifest.json").read_text())
    assert m["stages"]["sft"]["attempts"] == 2 and m["stages"]["sft"]["status"] == "completed"
    log = (build / "logs/sft.log").read_text()
    first, second = log.split("### specc run: sft attempt 2")
    assert "### specc run: sft attempt 1" in first
    assert "resuming from" in second and f"checkpoint-{killed_at}" in second
    steps = [e["step"] for e in _events(second) if "loss" in e]
    assert steps and min(steps) > killed_at and max(steps) == MAX_STEPS  # global step continues
    state = json.loads((build / f"artifacts/sft/checkpoints/checkpoint-{MAX_STEPS}/trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS
    for rel in ("results/baseline.json", "results/eval.json"):
        assert _shape(json.loads((build / rel).read_text())) == _shape(json.loads((clean_build / rel).read_text()))
    # W&B: the resumed attempt is a complete run whose logged global steps continue after the checkpoint.
    # The killed attempt's run directory stays (a SIGKILL also kills wandb-core before it flushes, so its
    # file may hold only the header): nothing of the earlier run is overwritten.
    runs = offline_runs(build)
    (sft_run,) = [r for r in runs if r["name"] == "sft" and r["exit"] == 0]
    assert min(sft_run["history"]["train/global_step"]) > killed_at
    names = [r["name"] for r in runs]
    assert len(runs) == 6  # one run per stage, + 2 sft attempts (the killed one may hold only its header)
    assert all(names.count(sid) == 1 for sid in ("firewall", "baseline", "merge", "eval")), names


def test_a_warm_run_scores_exactly_what_a_cold_run_scores(spec_file, clean):
    """``specc run --warm`` forks each stage from one process that imported torch, transformers and peft
    (:mod:`specc.run.warm`): its baseline and eval results and its training losses must be the cold run's,
    byte for byte, and each stage still records its own W&B run. One torch thread, as in the demo: torch
    starts its OpenMP pool when imported unless OMP_NUM_THREADS=1, and the launcher refuses to fork then
    (the clean run's thread count does not change this tiny model's numbers; the README's demo table too)."""
    clean_build, clean_proc = clean
    build = spec_file.parent / "build" / "warm"
    proc = _specc_run(str(spec_file), "-o", str(build), "--warm", env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == clean_proc.returncode, proc.stdout[-4000:] + proc.stderr[-3000:]
    assert "warm launcher ready" in proc.stdout, proc.stdout[-3000:]
    m = json.loads((build / "run_manifest.json").read_text())
    assert {rec["launch"] for rec in m["stages"].values()} == {"warm"}
    for rel in ("results/baseline.json", "results/eval.json"):
        assert (build / rel).read_bytes() == (clean_build / rel).read_bytes(), rel
    losses = [[e["loss"] for e in _events((b / "logs/sft.log").read_text()) if "loss" in e]
              for b in (clean_build, build)]
    assert losses[0] and losses[0] == losses[1]
    assert sorted(r["name"] for r in offline_runs(build) if r["exit"] == 0) == sorted(_stage_ids(build))


def test_reuse_adopts_the_clean_builds_baseline_as_checked_with_its_done_marker(spec_file, clean):
    """`specc run --reuse-from`: a second build of the same spec adopts the clean build's baseline instead of
    scoring it again; its outputs and done marker are the clean build's bytes, the manifest records the digest
    they were checked against (hashed once, on the copy) and where they came from, and the later stages (whose
    guards check the adopted done marker) run to the same end as the clean build."""
    from specc.run import fingerprint as fpmod

    build, proc = clean
    assert proc.returncode in (0, 3), proc.stdout[-4000:] + proc.stderr[-4000:]
    other = spec_file.parent / "build" / "reused"
    res = _specc_run(str(spec_file), "-o", str(other), "--reuse-from", str(build))  # (--only would force it)
    assert res.returncode == proc.returncode, res.stdout[-4000:] + res.stderr[-4000:]
    assert f"baseline: skipped (reused from {build.resolve()}" in res.stdout, res.stdout
    theirs = json.loads((build / "run_manifest.json").read_text())["stages"]["baseline"]
    ours = json.loads((other / "run_manifest.json").read_text())["stages"]["baseline"]
    assert ours["status"] == "completed" and ours["reused_from"] == str(build.resolve())
    assert {k: o["sha256"] for k, o in ours["outputs"].items()} == {k: o["sha256"] for k, o in theirs["outputs"].items()}
    for o in ours["outputs"].values():
        assert (other / o["path"]).read_bytes() == (build / o["path"]).read_bytes()
    doc = json.loads((other / "plan.json").read_text())
    marker = fpmod.done_marker_path(fpmod.stage_entry(doc, "baseline") or {})
    assert marker and (other / marker).read_bytes() == (build / marker).read_bytes()

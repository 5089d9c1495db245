"""Nothing stale: outputs made under other inputs are never resumed, reused or accepted (issue 17,
findings 2, 3 first bullet, 4).

One clean `specc run` of the tiny model (firewall → baseline → sft-LoRA → merge → eval) is copied for
each case, the case changes something and runs again through the real runner, `run.sh` or a stage
script:

* new training data or a new hyper-parameter, recompiled: sft trains from the start instead of
  "resuming" from the old run's last checkpoint, and the runner says which stage re-runs and why;
* `specc run BUILD --from sft` / `./run.sh sft` after the training data changed: the old firewall
  report is refused (exit 3) with the command that re-runs the firewall, and nothing trains;
* a general-suite file, the golden set or a local model file replaced after compile: the stage that
  reads it refuses (exit 3) naming the file, through the runner (a completed stage is not skipped) and
  through `run.sh`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from specc.run.progress import parse_line

pytestmark = pytest.mark.train
MAX_STEPS = 4
SPEC = """\
specc: 1
name: stale
description: stale-result regression tests
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
  max_new_tokens: 8
  forgetting: {max_abs_drop: 1.0, max_rel_drop: 1.0}
tracking: {backend: none}
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SPECC_WANDB_MODE": "disabled", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHON": sys.executable})
    env.pop("WANDB_API_KEY", None)
    return env


def _specc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True, timeout=900,
                          env=_env())


def _run_sh(build: Path, *stages: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(build / "run.sh"), *stages], capture_output=True, text=True, timeout=900,
                          env=_env())


def _manifest(build: Path) -> dict[str, Any]:
    return json.loads((build / "run_manifest.json").read_text())


def _tree_bytes(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory, tiny_data, tiny_model) -> Path:
    """A project (data copied, the tiny model COPIED so a case may edit it) with one clean, complete run."""
    root = tmp_path_factory.mktemp("stale") / "proj"
    shutil.copytree(tiny_data, root / "data")
    shutil.copytree(tiny_model, root / "model")
    (root / "spec.yaml").write_text(SPEC.replace("MAX_STEPS", str(MAX_STEPS)), encoding="utf-8")
    proc = _specc("run", str(root / "spec.yaml"), "-o", str(root / "build"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    statuses = {sid: rec["status"] for sid, rec in _manifest(root / "build")["stages"].items()}
    assert set(statuses.values()) == {"completed"}, statuses
    return root


@pytest.fixture
def project(clean, tmp_path) -> Path:
    """A private copy of the clean project and its build (run state included)."""
    dst = tmp_path / "proj"
    shutil.copytree(clean, dst, symlinks=True)
    return dst


def _rewrite_answers(train: Path) -> None:
    rows = [json.loads(line) for line in train.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        for msg in row["messages"]:
            if msg["role"] == "assistant":
                msg["content"] = "REWRITTEN " + msg["content"][::-1]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _attempt(log: str, n: int) -> str:
    """The part of a stage log written by attempt ``n`` of the runner."""
    return log.split(f"### specc run: sft attempt {n}")[1].split("### specc run: sft attempt")[0]


def _steps(text: str) -> list[int]:
    return [e["step"] for e in map(parse_line, text.splitlines())
            if e and e.get("event") == "progress" and "loss" in e]


def test_new_training_data_recompiled_retrains_instead_of_resuming(project):
    """Finding 2: rewrite every answer, recompile, `specc run` — sft must train again from step 1 on the
    new data (not "resume from checkpoint-N" of the old run, not "step N+1/N"), and merge and eval
    follow; the run says which stage re-runs and why."""
    build = project / "build"
    old_adapter = _tree_bytes(build / "artifacts/sft/adapter")
    _rewrite_answers(project / "data/train.jsonl")
    assert _specc("compile", str(project / "spec.yaml"), "-o", str(build)).returncode == 0
    proc = _specc("run", str(build))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    m = _manifest(build)["stages"]
    assert m["sft"]["attempts"] == 2 and m["merge"]["attempts"] == 2 and m["eval"]["attempts"] == 2
    assert "sft: re-running although it completed before" in proc.stdout
    assert "data/train.jsonl changed" in proc.stdout
    second = _attempt((build / "logs/sft.log").read_text(), 2)
    assert "resuming from" not in second, second[-2000:]
    assert "not resuming" in second and "data/train.jsonl changed" in second
    steps = _steps(second)
    assert steps and min(steps) == 1 and max(steps) == MAX_STEPS, steps
    assert _tree_bytes(build / "artifacts/sft/adapter") != old_adapter
    # every output now carries the new fingerprint: a rerun skips everything
    again = _specc("run", str(build))
    assert again.returncode == 0 and again.stdout.count("skipped (completed, inputs unchanged)") == 5, again.stdout


def test_new_hyperparameter_recompiled_retrains_instead_of_resuming(project):
    """Finding 2, the same path for a hyper-parameter: a new learning rate, recompiled, then
    `specc run --only sft` (a forced rerun) trains from step 1 and says which key changed."""
    build = project / "build"
    spec = project / "spec.yaml"
    spec.write_text(spec.read_text().replace("learning_rate: 0.002", "learning_rate: 0.004"), encoding="utf-8")
    assert _specc("compile", str(spec), "-o", str(build)).returncode == 0
    proc = _specc("run", str(build), "--only", "sft")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    second = _attempt((build / "logs/sft.log").read_text(), 2)
    assert "resuming from" not in second, second[-2000:]
    assert "not resuming" in second and "train.learning_rate" in second
    steps = _steps(second)
    assert steps and min(steps) == 1 and max(steps) == MAX_STEPS, steps
    # merge is now behind sft: running it alone through run.sh is refused, naming the command
    later = _run_sh(build, "eval")
    assert later.returncode == 3 and "REFUSED" in later.stderr and "--from merge" in later.stderr, later.stderr[-2000:]


def test_old_firewall_report_is_refused_for_new_training_data(project):
    """Finding 3, first bullet: training data now contains every golden row, the build is recompiled,
    and `specc run BUILD --from sft` / `./run.sh sft` must refuse the old passed report (exit 3, with the
    command to run) and train nothing; the full run then re-runs the firewall, which catches the overlap."""
    build = project / "build"
    adapter = _tree_bytes(build / "artifacts/sft/adapter")
    train = project / "data/train.jsonl"
    train.write_text(train.read_text() + (project / "data/golden.jsonl").read_text(), encoding="utf-8")
    assert _specc("compile", str(project / "spec.yaml"), "-o", str(build)).returncode == 0

    proc = _specc("run", str(build), "--from", "sft")
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _manifest(build)["stages"]["sft"]["status"] == "gated"
    assert "reports/firewall.json was made for other inputs" in proc.stdout
    assert "data/train.jsonl changed" in proc.stdout and "--from firewall" in proc.stdout
    sh = _run_sh(build, "sft")
    assert sh.returncode == 3 and "reports/firewall.json was made for other inputs" in sh.stderr, sh.stderr[-2000:]
    assert "./run.sh firewall sft" in sh.stderr
    assert _tree_bytes(build / "artifacts/sft/adapter") == adapter  # nothing trained

    full = _specc("run", str(build))
    assert full.returncode == 3 and _manifest(build)["stages"]["firewall"]["status"] == "gated", full.stdout[-3000:]
    assert json.loads((build / "reports/firewall.json").read_text())["passed"] is False


def _edit_suite(project: Path) -> str:
    path = project / "data/suites/arithmetic.jsonl"
    path.write_text("\n".join(path.read_text().splitlines()[:3]) + "\n", encoding="utf-8")
    return "general-suite file data/suites/arithmetic.jsonl changed"


def _edit_golden(project: Path) -> str:
    path = project / "data/golden.jsonl"
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n", encoding="utf-8")
    return "data file data/golden.jsonl changed"


def _edit_model(project: Path) -> str:
    cfg = project / "model/generation_config.json"
    data = json.loads(cfg.read_text()) if cfg.is_file() else {}
    data["max_new_tokens"] = 3
    cfg.write_text(json.dumps(data), encoding="utf-8")
    return "local model model changed since compile"


@pytest.mark.parametrize("edit,refuser", [(_edit_suite, "firewall"), (_edit_golden, "firewall"),
                                          (_edit_model, "baseline")], ids=["suite", "golden", "model"])
def test_locked_file_replaced_after_compile_is_refused(project, edit, refuser):
    """Finding 4 (and the golden set and model files with it): a file the baseline and eval read is
    replaced after compile. `specc run` must not skip the completed stages as "unchanged" nor score the
    new file: the first stage that reads it (the firewall for the golden set and the general suites, whose rows
    it matches against the training data; the baseline for model files) refuses
    (exit 3) naming the file; `./run.sh eval` refuses the same way. (The golden case is a control: the
    firewall's declared inputs already made the runner notice it before fingerprints.)"""
    build = project / "build"
    baseline = (build / "results/baseline.json").read_bytes()
    message = edit(project)
    proc = _specc("run", str(build))
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    stages = _manifest(build)["stages"]
    assert stages[refuser]["status"] == "gated", {k: v["status"] for k, v in stages.items()}
    assert message in proc.stdout, proc.stdout[-3000:]
    assert (build / "results/baseline.json").read_bytes() == baseline
    sh = _run_sh(build, "eval")
    assert sh.returncode == 3 and message in sh.stderr, sh.stderr[-2000:]

"""Bad data files: each must be a clear error naming file:line *before any training starts*.

Two layers can catch bad data before a trainer is built:

* ``specc plan`` / ``specc compile`` (the planner reads facts: existence, size, hash, row count and the
  **first** row's format) → an error finding, exit 1;
* the build's **firewall stage** (the first stage of every training build; it reads every row of every
  training input and the golden set) → a non-zero exit with the file:line in its output, and no
  ``specc_done.json`` marker, so no training stage is ever reached by ``run.sh``/``specc run``.

Each case below asserts which layer catches it, the message (file and line) and the exit code. Cases
that neither layer catches are bugs (see the report in docs/GUARANTEES.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli.main import main as cli
from specc.build.emitter import compile_plan
from specc.plan.planner import plan_spec_file

from strategies import write_fuzz_project

SPEC = """\
specc: 1
name: bad-data
goal: {behaviours: [format], consistency_required: true}
evidence: {prompting: {score: 0.1}}
constraints: {hardware: {gpus: 0, cpu_memory_gb: 16}}
base_model: {path: model, licence: apache-2.0}
data:
  train: {path: data/train.jsonl, format: %(fmt)s}
  golden: {path: data/golden.jsonl}
eval: {bar: 0.5}
tracking: {mode: disabled}
"""

GOOD = [{"prompt": f"ticket: item {i} number {i * 7}", "completion": f"#{i}/ITEM"} for i in range(40)]
GOLDEN = [{"prompt": f"ticket: golden thing {i} of {i * 3}", "completion": f"#{i}/GOLDEN"} for i in range(8)]


def _lines(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def _project(tmp_path: Path, train: bytes, *, golden: bytes | None = None, fmt: str = "auto") -> Path:
    proj = write_fuzz_project(tmp_path / "proj")
    (proj / "data" / "train.jsonl").write_bytes(train)
    (proj / "data" / "golden.jsonl").write_bytes(golden if golden is not None else _lines(GOLDEN))
    spec = proj / "spec.yaml"
    spec.write_text(SPEC % {"fmt": fmt}, encoding="utf-8")
    return spec


def _plan_cli(spec: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["plan", str(spec)])
    return result.exit_code, result.output


def _firewall_stage(spec: Path) -> subprocess.CompletedProcess:
    plan = plan_spec_file(spec)
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    build = spec.parent / "build"
    compile_plan(plan, spec.parent, build)
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    env = {**os.environ, "SPECC_WANDB_MODE": "disabled"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120,
                          cwd=spec.parent)
    proc.build = build  # type: ignore[attr-defined]
    return proc


# ------------------------------------------------------------------------ caught by `specc plan`

PLAN_CASES = {
    "empty file": (b"", "data/train.jsonl: empty file"),
    "only blank lines": (b"\n  \n\n", "data/train.jsonl: empty file"),
    "malformed first line": (b'{"prompt": "a", "completion": \n' + _lines(GOOD), "data/train.jsonl:1:"),
    "non-UTF-8 first line": (b'{"prompt": "caf\xe9", "completion": "x"}\n' + _lines(GOOD), "data/train.jsonl:1:"),
    "array row": (b'[1, 2]\n' + _lines(GOOD), "data/train.jsonl:1:"),
    "misspelled column (promt)": (_lines([{"promt": "a", "completion": "b"}] + GOOD), "data/train.jsonl:1"),
    "50 MB single line": (b'{"text": "' + b"x" * (50 * 1024 * 1024) + b'"}\n', "data/train.jsonl:1:"),
}


@pytest.mark.parametrize("case", sorted(PLAN_CASES))
def test_plan_names_the_file_and_line(case, tmp_path):
    content, expected = PLAN_CASES[case]
    code, output = _plan_cli(_project(tmp_path, content))
    assert code == 1, output
    assert expected in output, output
    assert "Traceback" not in output


def test_declared_format_that_the_rows_do_not_have(tmp_path):
    code, output = _plan_cli(_project(tmp_path, _lines(GOOD), fmt="messages"))
    assert code == 1 and "data/train.jsonl:1: declared format 'messages'" in output, output


def test_missing_data_file(tmp_path):
    spec = _project(tmp_path, _lines(GOOD))
    (spec.parent / "data" / "train.jsonl").unlink()
    code, output = _plan_cli(spec)
    assert code == 1 and "'data/train.jsonl' does not exist" in output, output


# ------------------------------------------------------------------------ caught by the firewall stage

FIREWALL_CASES = {
    "malformed line 5": (_lines(GOOD[:4]) + b'{"prompt": "x", "completion": "y"\n' + _lines(GOOD[4:]),
                         "data/train.jsonl:5:"),
    "non-UTF-8 on line 30": (_lines(GOOD[:29]) + b'{"prompt": "\xff\xfe", "completion": "y"}\n' + _lines(GOOD[29:]),
                             "data/train.jsonl:30:"),
    "a number row on line 12": (_lines(GOOD[:11]) + b"42\n" + _lines(GOOD[11:]), "data/train.jsonl:12:"),
}


@pytest.mark.parametrize("case", sorted(FIREWALL_CASES))
def test_firewall_stage_stops_on_bad_rows_past_the_first(case, tmp_path):
    """The planner reads only the first row; the firewall stage reads every row and stops the build."""
    content, expected = FIREWALL_CASES[case]
    spec = _project(tmp_path, content)
    code, output = _plan_cli(spec)
    assert code == 0, output  # the planner does not read past the first row (documented in datafacts.py)
    proc = _firewall_stage(spec)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr[-2000:]
    assert not list(proc.build.rglob("specc_done.json"))
    # A clear message, not a Python traceback ending in the DataError (the stage should catch DataError,
    # log it and exit non-zero).
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]


def test_golden_equal_to_training_is_refused_with_exit_3(tmp_path):
    spec = _project(tmp_path, _lines(GOOD), golden=_lines(GOOD))
    assert _plan_cli(spec)[0] == 0
    proc = _firewall_stage(spec)
    assert proc.returncode == 3, proc.stderr[-2000:]
    report = json.loads((proc.build / "reports" / "firewall.json").read_text())
    assert report["passed"] is False
    assert "data/train.jsonl" in proc.stderr and "overlap" in proc.stderr
    assert not list(proc.build.rglob("specc_done.json"))


def test_bad_golden_set_is_caught_by_plan(tmp_path):
    code, output = _plan_cli(_project(tmp_path, _lines(GOOD), golden=b"{not json}\n"))
    assert code == 1 and "data/golden.jsonl:1:" in output, output


# ------------------------------------------------------------------------ not caught before training (bugs)

SCHEMA_CASES = {
    "misspelled column on line 9 (promt)": (
        _lines(GOOD[:8] + [{"promt": "a", "completion": "b"}] + GOOD[8:]), "data/train.jsonl:9"),
    "mixed formats: a messages row on line 3": (
        _lines(GOOD[:2] + [{"messages": [{"role": "user", "content": "hi"}]}] + GOOD[2:]), "data/train.jsonl:3"),
    "wrong type: completion is a number on line 6": (
        _lines(GOOD[:5] + [{"prompt": "a", "completion": 5}] + GOOD[5:]), "data/train.jsonl:6"),
}


@pytest.mark.parametrize("case", sorted(SCHEMA_CASES))
def test_row_schema_errors_past_the_first_row_stop_the_build_before_training(case, tmp_path):
    """Rows 2..N are never checked against the file's format before the trainer loads them: neither
    `specc plan` (first row only) nor the firewall stage (it only collects text) rejects them, so the
    first to notice is `datasets`/TRL inside the training stage, with a traceback and no file:line.
    Expected: one of the two pre-training layers names file:line and stops the build."""
    content, expected = SCHEMA_CASES[case]
    spec = _project(tmp_path, content)
    code, output = _plan_cli(spec)
    if code != 0:
        assert expected in output, output
        return
    proc = _firewall_stage(spec)
    assert proc.returncode != 0 and expected in proc.stderr, (
        f"bad row not caught before training (plan exit {code}, firewall exit {proc.returncode})\n"
        + proc.stderr[-1500:])

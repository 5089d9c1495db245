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

from conftest import run_firewall_stage
from click.testing import CliRunner

from specc.cli.main import main as cli

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
    proc = run_firewall_stage(spec)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr[-2000:]
    assert not list(proc.build.rglob("specc_done.json"))
    # A clear message, not a Python traceback ending in the DataError (the stage should catch DataError,
    # log it and exit non-zero).
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]


def test_golden_equal_to_training_is_refused_with_exit_3(tmp_path):
    spec = _project(tmp_path, _lines(GOOD), golden=_lines(GOOD))
    assert _plan_cli(spec)[0] == 0
    proc = run_firewall_stage(spec)
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
    proc = run_firewall_stage(spec)
    assert proc.returncode != 0 and expected in proc.stderr, (
        f"bad row not caught before training (plan exit {code}, firewall exit {proc.returncode})\n"
        + proc.stderr[-1500:])


# ------------------------------------------------ issue 17: rows that passed the checks, then crashed training

CHAT = [{"messages": [{"role": "user", "content": f"ticket: item {i} number {i * 7}"},
                      {"role": "assistant", "content": f"#{i}/ITEM"}]} for i in range(40)]
CHAT_GOLDEN = [{"messages": [{"role": "user", "content": f"ticket: golden thing {i} of {i * 3}"},
                             {"role": "assistant", "content": f"#{i}/GOLDEN"}]} for i in range(8)]

TRAINER_CRASH_CASES = {
    # JSON readers disagree on duplicate keys (Python keeps the last, others the first or refuse)
    "duplicate key": b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], '
                     b'"messages": 1}\n',
    "duplicate key inside a turn": b'{"messages": [{"role": "user", "content": "a", "content": "c"}, '
                                   b'{"role": "assistant", "content": "b"}]}\n',
    # a lone surrogate is valid JSON but no UTF-8 text: tokenizers and Arrow refuse it
    "lone surrogate": b'{"messages": [{"role": "user", "content": "a\\ud800"}, {"role": "assistant", "content": "b"}]}\n',
    "lone low surrogate in a key": b'{"messages": [{"role": "user", "content": "a"}, '
                                   b'{"role": "assistant", "content": "b"}], "x\\udc00": 1}\n',
    # nothing to learn: assistant-only loss stops the trainer
    "no assistant turn": b'{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}\n',
}


def _chat_project(tmp_path: Path, bad: bytes, line: int, *, golden: bool = False) -> Path:
    rows = _lines(CHAT_GOLDEN if golden else CHAT).splitlines(keepends=True)
    rows.insert(line - 1, bad)
    data = b"".join(rows)
    spec = _project(tmp_path, data if not golden else _lines(CHAT), golden=data if golden else None)
    return spec


@pytest.mark.parametrize("case", sorted(TRAINER_CRASH_CASES))
def test_rows_that_would_crash_training_are_caught_by_check_the_firewall_and_plan(case, tmp_path):
    bad = TRAINER_CRASH_CASES[case]
    spec = _chat_project(tmp_path / "deep", bad, 7)
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 1 and "data/train.jsonl:7" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    proc = run_firewall_stage(spec)
    assert proc.returncode == 1 and "data/train.jsonl:7" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not list(proc.build.rglob("specc_done.json"))
    # on the first row the planner sees it too
    code, output = _plan_cli(_chat_project(tmp_path / "first", bad, 1))
    assert code == 1 and "data/train.jsonl:1" in output, output


@pytest.mark.parametrize("case", ["duplicate key", "lone surrogate"])
def test_bad_golden_rows_are_caught_before_training(case, tmp_path):
    spec = _chat_project(tmp_path, TRAINER_CRASH_CASES[case], 4, golden=True)
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 1 and "data/golden.jsonl:4" in result.output, result.output
    proc = run_firewall_stage(spec)
    assert proc.returncode == 1 and "data/golden.jsonl:4" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_a_golden_conversation_must_end_with_the_reference_answer(tmp_path):
    bad = b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, ' \
          b'{"role": "user", "content": "and?"}]}\n'
    spec = _chat_project(tmp_path, bad, 3, golden=True)
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert result.exit_code == 1 and "data/golden.jsonl:3" in result.output and "reference answer" in result.output


def test_a_prompts_conversation_needs_no_assistant_turn(tmp_path):
    """The control: prompts (what a teacher or an RL policy answers) are conversations without answers."""
    from specc.data.rowformat import row_problem

    row = {"messages": [{"role": "user", "content": "q"}]}
    assert row_problem(row, "messages", "prompts") is None
    assert row_problem(row, "messages", "train") is not None


# ------------------------------------------------ issue 17: not-a-file data paths, and huge lines


@pytest.mark.parametrize("kind", ["fifo", "directory", "/dev/zero"])
def test_a_data_path_that_is_not_a_regular_file_is_named_for_what_it_is(tmp_path, kind):
    """A FIFO used to hang `specc check` (and be "does not exist" for `plan`); /dev/zero never ends."""
    spec = _project(tmp_path, _lines(GOOD))
    train = spec.parent / "data" / "train.jsonl"
    train.unlink()
    if kind == "fifo":
        os.mkfifo(train)
        what = "named pipe (FIFO)"
    elif kind == "directory":
        train.mkdir()
        what = "directory"
    else:
        os.symlink("/dev/zero", train)
        what = "character device"
    for command in (["plan", str(spec)], ["check", str(spec)], ["compile", str(spec), "-o", str(tmp_path / "b")]):
        proc = subprocess.run([sys.executable, "-m", "specc", *command], capture_output=True, text=True, timeout=60)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, (command, out)
        assert what in out and "does not exist" not in out and "Traceback" not in out, (command, out)


def test_plan_on_a_huge_file_without_newlines_stays_small(tmp_path):
    """A 1 GB 'line' (a sparse file: no disk used) is refused without reading it into memory."""
    spec = _project(tmp_path, _lines(GOOD))
    with open(spec.parent / "data" / "train.jsonl", "wb") as fh:
        fh.truncate(1 << 30)
    probe = ("import resource, subprocess, sys; p = subprocess.run([sys.executable, '-m', 'specc', 'plan', sys.argv[1]], "
             "capture_output=True, text=True); print(p.returncode); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(p.stdout)")
    proc = subprocess.run([sys.executable, "-c", probe, str(spec)], capture_output=True, text=True, timeout=300)
    code, peak, *output = proc.stdout.strip().splitlines()
    peak_kib = int(peak)
    assert code == "1" and "data/train.jsonl:1: line is longer" in "\n".join(output), proc.stdout
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"

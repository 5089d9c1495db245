"""Lone surrogates (issue 17, finding 6): ``"\\ud800"`` is valid JSON but no UTF-8 text can hold it, and
tokenizers and Arrow refuse it. A row carrying one — in a hit's text, its field name or both — is refused where
it is read, with its file and line, by the firewall scan, ``specc check`` (every format) and the firewall stage:
never a traceback while a hit is rendered or written, and never a row that passes the checks and then crashes
training (the shared reader, :mod:`specc.data.jsonl`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli.main import main as cli
from specc.contract.firewall import FirewallSettings, InputFile, scan

from conftest import run_firewall_stage
from strategies import write_fuzz_project

GOLDEN_Q = "Which river flows through the ancient city of Kyiv before reaching the Black Sea"
# Raw JSONL lines: the \\ud800 escapes are what a scraped file really contains.
TRAIN_LINES = [
    '{"prompt": "ticket: item 1", "completion": "#1"}',
    '{"prompt": "%s \\ud800", "completion": "x\\udfff"}' % GOLDEN_Q,  # in the matched text
    '{"prompt": "ok", "completion": "ok", "meta\\ud800": {"q\\udc00": "%s"}}' % GOLDEN_Q,  # in the field path
]
GOLDEN_LINES = ['{"prompt": "%s", "completion": "The Dnieper."}' % GOLDEN_Q,
                '{"prompt": "ticket: golden \\ud83d", "completion": "#G"}']


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_scan_refuses_a_lone_surrogate_with_its_file_and_line(tmp_path: Path) -> None:
    from specc.data.jsonl import DataError

    golden = InputFile(_write(tmp_path / "g.jsonl", GOLDEN_LINES), "g.jsonl", "golden")
    train = InputFile(_write(tmp_path / "t.jsonl", TRAIN_LINES), "t.jsonl")
    for near in (False, True):
        with pytest.raises(DataError) as exc:
            scan(golden, [train], FirewallSettings(near_duplicates=near, jaccard_threshold=0.5))
        assert str(exc.value).startswith("g.jsonl:2: lone surrogate"), str(exc.value)
        str(exc.value).encode("utf-8")  # the message itself is printable


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_check_names_the_lone_surrogate_in_every_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         fmt: str) -> None:
    _write(tmp_path / "golden.jsonl", GOLDEN_LINES)
    _write(tmp_path / "train.jsonl", TRAIN_LINES)
    (tmp_path / "spec.yaml").write_text(
        "specc: 1\nname: s\ngoal: {behaviours: [format]}\n"
        "base_model: {id: Qwen/Qwen2.5-0.5B-Instruct, licence: apache-2.0}\n"
        "data: {train: {path: train.jsonl}, golden: {path: golden.jsonl}}\neval: {bar: 0.5}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "spec.yaml", "--format", fmt])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    result.output.encode("utf-8")
    assert "lone surrogate" in result.output and "Traceback" not in result.output
    assert "train.jsonl" in result.output or "golden.jsonl" in result.output


SPEC = """\
specc: 1
name: surrogates
goal: {behaviours: [format], consistency_required: true}
evidence: {prompting: {score: 0.1}}
constraints: {hardware: {gpus: 0, cpu_memory_gb: 16}}
base_model: {path: model, licence: apache-2.0}
data:
  train: {path: data/train.jsonl}
  golden: {path: data/golden.jsonl}
eval: {bar: 0.5}
tracking: {mode: disabled}
"""


def test_firewall_stage_refuses_a_lone_surrogate_with_its_line_not_a_traceback(tmp_path: Path) -> None:
    proj = write_fuzz_project(tmp_path / "proj")
    _write(proj / "data" / "train.jsonl", TRAIN_LINES)
    _write(proj / "data" / "golden.jsonl", GOLDEN_LINES)
    spec = proj / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    proc = run_firewall_stage(spec, env={"PYTHONIOENCODING": "utf-8"})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "lone surrogate" in proc.stderr, proc.stderr

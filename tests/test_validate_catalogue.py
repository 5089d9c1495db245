"""A catalogue of bad specs: each must give the expected located message and exit code, never a traceback.

Each case is a spec text (written relative to a valid base spec), the expected exit code, and for every
expected error: line, column, key path and a fragment of the message or hint. Running through the real CLI
(click's runner, in process) checks the whole path a user takes.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli.main import main

BASE = """\
specc: 1
name: demo
goal:
  behaviours: [format]
base_model:
  id: Qwen/Qwen2.5-0.5B-Instruct
"""


def case(text: str, *expected: tuple[int, int, str, str]):
    return (textwrap.dedent(text), list(expected))


CATALOGUE = {
    "typo-top-level": case(BASE + "golas: {}\n", (7, 1, "golas", "did you mean `goal`?")),
    "typo-nested-lora": case(BASE + "method:\n  lora_rank: 8\n", (8, 3, "method.lora_rank", "did you mean `lora_r`?")),
    "typo-case": case(BASE + "method:\n  Epochs: 2\n", (8, 3, "method.Epochs", "did you mean `epochs`?")),
    "misplaced-gpus": case(BASE + "goal2: 1\n".replace("goal2: 1\n", "") + "tracking:\n  gpus: 2\n", (8, 3, "tracking.gpus", "belongs in `constraints.hardware`")),
    "misplaced-lora-in-hardware": case(
        BASE + "constraints:\n  hardware:\n    lora_r: 8\n", (9, 5, "constraints.hardware.lora_r", "belongs in `method`")
    ),
    "misplaced-metric-top": case(BASE + "metric: exact_match\n", (7, 1, "metric", "belongs in `eval`")),
    "wrong-type-int": case(BASE + "constraints:\n  hardware:\n    gpus: two\n", (9, 5, "constraints.hardware.gpus", "valid integer")),
    "wrong-type-bool": case(BASE + "constraints:\n  citations_required: maybe\n", (8, 3, "constraints.citations_required", "valid boolean")),
    "wrong-type-list": case(
        "specc: 1\nname: demo\ngoal:\n  behaviours: format\nbase_model:\n  id: x\n", (4, 3, "goal.behaviours", "valid list")
    ),
    "section-not-mapping": case(BASE + "eval: 3\n", (7, 1, "eval", "valid dictionary")),
    "bad-enum": case(BASE + "method:\n  method: sfft\n", (8, 3, "method.method", "did you mean `sft`?")),
    "bad-enum-behaviour": case(
        "specc: 1\nname: demo\ngoal:\n  behaviours: [stlye]\nbase_model:\n  id: x\n",
        (4, 16, "goal.behaviours[0]", "did you mean `style`?"),
    ),
    "bad-enum-knowledge": case(BASE + "constraints:\n  knowledge_change: hourly\n", (8, 3, "constraints.knowledge_change", "'never'")),
    "missing-goal": case("specc: 1\nname: demo\nbase_model:\n  id: x\n", (1, 1, "goal", "missing required key `goal`")),
    "missing-base-model": case("specc: 1\nname: demo\ngoal:\n  behaviours: [style]\n", (1, 1, "base_model", "missing")),
    "model-both-id-and-path": case(BASE + "  path: models/x\n", (5, 1, "base_model", "exactly one of")),
    "malformed-yaml-flow": case("specc: 1\nname: [demo\n", (3, 1, "", "malformed YAML")),
    "malformed-yaml-indent": case("specc: 1\nname: demo\n goal: x\n", (3, 6, "", "malformed YAML")),
    "empty-file": case("", (0, 0, "", "the spec is empty")),
    "only-comments": case("# nothing here\n", (0, 0, "", "the spec is empty")),
    "top-level-list": case("- specc: 1\n", (1, 1, "", "a mapping of sections, not a list")),
    "duplicate-key": case(BASE + "name: again\n", (7, 1, "name", "duplicate key `name`")),
    "duplicate-nested-key": case(BASE.replace("  id: Qwen/Qwen2.5-0.5B-Instruct\n", "  id: a\n  id: b\n"), (7, 3, "base_model.id", "duplicate key")),
    "tab-indent": case("specc: 1\nname: demo\ngoal:\n\tbehaviours: [style]\n", (4, 1, "", "tab character")),
    "huge-int": case(BASE + "method:\n  lora_r: 99999999999999999999999999\n", (8, 3, "method.lora_r", "less than or equal to 1024")),
    "huge-float": case(BASE + "method:\n  learning_rate: 1.0e+999\n", (8, 18, "method.learning_rate", "too large")),
    "thousands-of-digits": case(BASE + "method:\n  seed: " + "9" * 5000 + "\n", (8, 9, "method.seed", "too large")),
    "wrong-version": case(BASE.replace("specc: 1", "specc: 2"), (1, 1, "specc", "unsupported schema version 2")),
    "version-as-string": case(BASE.replace("specc: 1", "specc: '1'"), (1, 1, "specc", "unsupported schema version '1'")),
    "missing-version": case(BASE.replace("specc: 1\n", ""), (1, 1, "specc", "missing schema version")),
    "negative-gpus": case(BASE + "constraints:\n  hardware:\n    gpus: -1\n", (9, 5, "constraints.hardware.gpus", "greater than or equal to 0")),
    "bad-name": case(BASE.replace("name: demo", "name: ../escape"), (2, 1, "name", "lowercase letters")),
    "env-interpolation": case(
        BASE + "data:\n  train:\n    path: ${HOME}/train.jsonl\n", (9, 5, "data.train.path", "interpolation")
    ),
    "multi-node-without-rendezvous": case(
        BASE + "constraints:\n  hardware:\n    nodes: 2\n", (8, 3, "constraints.hardware", "rendezvous")
    ),
    "suite-missing-path": case(
        BASE + "data:\n  general_suites:\n    - name: mc\n      kind: multiple_choice\n",
        (9, 7, "data.general_suites[0]", "names a `path`"),
    ),
    "two-documents": case(BASE + "---\nspecc: 1\n", (7, 1, "", "one YAML document")),
    "python-tag": case(BASE + "description: !!python/object/apply:os.system ['echo hi']\n", (7, 14, "description", "not allowed")),
    "lora-targets-union": case(BASE + "method:\n  lora_targets: 5\n", (8, 3, "method.lora_targets", "valid list")),
}


@pytest.fixture()
def run_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    def run(text: str, *args: str):
        (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
        result = CliRunner().invoke(main, ["validate", *args, "spec.yaml"], catch_exceptions=True)
        return result

    return run


def test_catalogue_is_big_enough():
    assert len(CATALOGUE) >= 25


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_bad_spec_is_located(name: str, run_validate):
    text, expected = CATALOGUE[name]
    result = run_validate(text, "--format", "json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    errors = json.loads(result.output)[0]["errors"]
    for line, column, key_path, fragment in expected:
        matches = [
            e
            for e in errors
            if e["line"] == line and e["column"] == column and e["key_path"] == key_path
            and fragment in (e["message"] + " " + e["hint"])
        ]
        assert matches, f"expected {line}:{column} {key_path!r} ~ {fragment!r}, got {json.dumps(errors, indent=1)}"
        assert all(e["file"] == "spec.yaml" for e in errors)


def test_several_errors_reported_at_once(run_validate):
    text = BASE + "method:\n  lora_rank: 8\n  epochs: -1\nconstraints:\n  hardware:\n    gpu: 2\n"
    result = run_validate(text)
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ": error:" in ln]
    assert len(lines) == 3, result.output
    assert lines[0].startswith("spec.yaml:8:3: error: method.lora_rank: unknown key")


def test_human_format_has_file_line_col_and_hint(run_validate):
    result = run_validate(BASE + "method:\n  lora_rank: 8\n")
    assert result.output.strip() == (
        "spec.yaml:8:3: error: method.lora_rank: unknown key `lora_rank` (did you mean `lora_r`?)"
    )


def test_github_annotations(run_validate):
    result = run_validate(BASE + "method:\n  lora_rank: 8\n", "--format", "github")
    assert result.exit_code == 1
    assert result.output.startswith("::error file=spec.yaml,line=8,col=3,title=specc extra_forbidden::")
    assert "did you mean `lora_r`?" in result.output


def test_valid_spec_exit_zero(run_validate):
    result = run_validate(BASE)
    assert result.exit_code == 0
    assert result.output.strip() == "spec.yaml: ok"


def test_usage_errors_exit_two(tmp_path: Path):
    runner = CliRunner()
    assert runner.invoke(main, ["validate"]).exit_code == 2
    assert runner.invoke(main, ["validate", "--format", "xml", "x.yaml"]).exit_code == 2
    assert runner.invoke(main, ["no-such-command"]).exit_code == 2


def test_missing_file_is_invalid_not_traceback(tmp_path: Path):
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "file not found" in result.output


def test_non_utf8_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    Path("spec.yaml").write_bytes(BASE.encode() + b"description: caf\xe9\n")
    result = CliRunner().invoke(main, ["validate", "spec.yaml"])
    assert result.exit_code == 1
    assert "spec.yaml:7:17: error: not UTF-8 text (byte 0xe9)" in result.output


def test_directory_argument_expands_to_specs(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(BASE)
    (tmp_path / "b.yaml").write_text(BASE + "bogus: 1\n")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "1 valid, 1 invalid" in result.output

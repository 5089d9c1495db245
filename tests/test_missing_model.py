"""A spec's local model directory that is not there: one located line, before any stage, never a traceback.

Issue 18: `specc run specs/full-finetune-tiny.yaml` on a fresh clone passed the firewall, then the baseline
stage died inside transformers (``Repo id must be in the form ...``: the missing relative path was taken
for a hub id). Now the runner checks before its first stage, and every stage checks before it loads, so
``run.sh`` and a hand-run script fail the same located way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.cli.main import main
from specc.run import preflight
from specc.run.runner import compile_spec, load_plan, spec_dir_of
from specc.runtime import common

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates" / "stages"
TINY_EXAMPLES = sorted(p.stem for p in (REPO / "specs").glob("*.yaml")
                       if "path: models/tiny-base" in p.read_text(encoding="utf-8"))


def _fresh_clone_specs(tmp_path: Path) -> Path:
    """The example specs as a fresh clone has them: no models/ directory (it is git-ignored)."""
    shutil.copytree(REPO / "specs", tmp_path / "specs", ignore=shutil.ignore_patterns("models"))
    return tmp_path / "specs"


def _env() -> dict[str, str]:
    env = dict(os.environ, SPECC_WANDB_MODE="disabled", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def test_the_examples_that_use_the_tiny_model_are_found():
    assert {"full-finetune-tiny", "sft-lora-tiny"} <= set(TINY_EXAMPLES)


@pytest.mark.parametrize("example", TINY_EXAMPLES)
def test_run_of_an_example_whose_local_model_is_missing_stops_before_the_first_stage(tmp_path, example):
    _fresh_clone_specs(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "specc", "run", f"specs/{example}.yaml", "-o", "build/x"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "Repo id" not in out, out
    spec_file = f"{example}.yaml"
    expected = (f"specc run: local model models/tiny-base (base_model.path in {spec_file}) does not exist: "
                f"looked for specs/models/tiny-base; build specc's tiny model there with "
                f"`specc tiny-model --link specs/models/tiny-base`, then run again")
    assert proc.stderr.strip().splitlines() == [expected], proc.stderr
    # Before the first stage: not even the firewall ran.
    logs = tmp_path / "build" / "x" / "logs"
    assert not logs.exists() or not any(logs.iterdir()), sorted(p.name for p in logs.iterdir())


def test_stages_that_load_no_model_still_run_without_it(tmp_path):
    """The check is about the stages that will run: the firewall alone needs no model."""
    _fresh_clone_specs(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "specc", "run", "specs/full-finetune-tiny.yaml", "-o", "build/x",
                           "--only", "firewall"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "local model" not in proc.stderr


def _located_line(stderr: str, spec_file: str, looked_for: Path) -> None:
    lines = [ln for ln in stderr.splitlines() if "local model" in ln]
    assert lines == [f"[specc] local model models/tiny-base (base_model.path in {spec_file}) does not exist: "
                     f"looked for {looked_for.as_posix()}; build specc's tiny model there with "
                     f"`specc tiny-model --link {looked_for.as_posix()}`, then run again"], stderr
    assert "Traceback" not in stderr and "Repo id" not in stderr, stderr


@pytest.mark.parametrize("stage", ["baseline", "merge"])
def test_emitted_stage_with_missing_local_model_fails_located_not_as_a_hub_lookup(tmp_path, stage):
    """What run.sh or a person running a stage script by hand sees (no runner in between)."""
    specs = _fresh_clone_specs(tmp_path)
    build = compile_spec(specs / "sft-lora-tiny.yaml", tmp_path / "build")
    script = next((build / "stages").glob(f"*_{stage}.py"))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _located_line(proc.stderr, "sft-lora-tiny.yaml", (specs / "models" / "tiny-base").resolve())


def test_model_ref_checks_the_directory_before_anything_loads_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plan.json").write_text(json.dumps({"plan": {"spec_file": "x.yaml", "models": [
        {"role": "teacher", "ref": "models/teacher", "source": "local"}]}}), encoding="utf-8")
    teacher = {"ref": "models/teacher", "path": "../spec/models/teacher", "source": "local", "revision": None}

    with pytest.raises(SystemExit) as exc:
        common.model_ref(teacher)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "local model models/teacher (teacher.path in x.yaml) does not exist" in err
    assert "put the saved model there" in err and "tiny-model" not in err

    model_dir = tmp_path.parent / "spec" / "models" / "teacher"
    model_dir.mkdir(parents=True)
    with pytest.raises(SystemExit):
        common.model_ref(teacher)
    assert "has no config.json" in capsys.readouterr().err

    (model_dir / "config.json").write_text("{}", encoding="utf-8")
    assert common.model_ref(teacher) == "../spec/models/teacher"
    # A hub id is passed through untouched: it is the hub's to resolve.
    assert common.model_ref({"ref": "org/model", "source": "hub"}) == "org/model"


def test_a_broken_link_is_named_as_one(tmp_path):
    """The cache the link pointed at was cleared: say so rather than 'does not exist'."""
    specs = _fresh_clone_specs(tmp_path)
    build = compile_spec(specs / "full-finetune-tiny.yaml", tmp_path / "build")
    (specs / "models").mkdir()
    (specs / "models" / "tiny-base").symlink_to(tmp_path / "gone", target_is_directory=True)
    plan = load_plan(build)
    messages = preflight.missing_models(build, plan, plan.stages, spec_dir_of(build, build / plan.stages[0].script),
                                        cwd=tmp_path)
    assert len(messages) == 1 and "is a broken link (to " in messages[0], messages


def test_templates_reach_local_models_only_through_the_checked_helpers():
    """``common.model_ref`` (and ``common.load_model``, which calls it) is where the directory is checked;
    a template reading a model's rendered ``path`` itself would bypass the check."""
    bypass = re.compile(r"""(?:CONFIG\[["'](?:model|teacher)["']\]|\b(?:model|teacher))"""
                        r"""(?:\[["']path["']\]|\.get\(["']path["'])""")
    assert bypass.search('CONFIG["teacher"]["path"]') and bypass.search("model.get('path')")
    offenders = {t.name: bypass.findall(t.read_text(encoding="utf-8")) for t in sorted(TEMPLATES.glob("*.j2"))}
    assert not {k: v for k, v in offenders.items() if v}, offenders


def test_the_command_in_the_message_puts_the_tiny_model_where_the_examples_look(tmp_path, tiny_model, monkeypatch):
    """Following the message's advice makes the check pass (``--size test``: the cached CI model)."""
    monkeypatch.setenv("SPECC_CACHE", str(tiny_model.parent))
    specs = _fresh_clone_specs(tmp_path)
    monkeypatch.chdir(tmp_path)
    build = compile_spec(Path("specs/full-finetune-tiny.yaml"), Path("build"))
    plan = load_plan(build)
    spec_dir = spec_dir_of(build, build / plan.stages[0].script)
    assert preflight.missing_models(build, plan, plan.stages, spec_dir)

    result = CliRunner().invoke(main, ["tiny-model", "--size", "test", "--link", "specs/models/tiny-base"])
    assert result.exit_code == 0, result.output
    link = specs / "models" / "tiny-base"
    assert link.is_symlink() and link.resolve() == tiny_model.resolve()
    assert preflight.missing_models(build, plan, plan.stages, spec_dir) == []

    # Linking again replaces the link; a real directory there is not ours to replace.
    assert CliRunner().invoke(main, ["tiny-model", "--size", "test", "--link", "specs/models/tiny-base"]).exit_code == 0
    (specs / "models" / "mine").mkdir()
    refused = CliRunner().invoke(main, ["tiny-model", "--size", "test", "--link", "specs/models/mine"])
    assert refused.exit_code == 2 and "exists and is not a link" in refused.output

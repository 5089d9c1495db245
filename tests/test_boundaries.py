"""Boundaries: nothing a spec says, and nothing planted in a build directory, gets specc to write outside
the build directory.

* spec names become directory names: ``../x``, ``/abs``, ``.``, ``..`` and friends are invalid specs;
* a symlink planted in the build directory where a compiled file or directory goes (``run.sh``,
  ``stages/``, ``plan.json`` …) is replaced, never written through;
* a symlink planted where run state goes (``reports/``, ``logs/``) must not let a stage or the runner
  write outside the build.
(Stage outputs and script paths that escape are refused by the emitter:
tests/test_emitter.py::test_stage_outputs_must_stay_inside_the_build.)
"""

from __future__ import annotations

import os

import pytest

from specc.build.emitter import GENERATED, compile_plan
from specc.spec.errors import SpecInvalid
from specc.spec.loader import load_spec
from specc.plan.planner import plan_spec_file
from specc.run.runner import run_build

from strategies import LIGHT_SPEC, light_spec, tree_bytes


@pytest.mark.parametrize("name", ["../escape", "/abs/path", "..", ".", "a/b", "a\\b", "~root", "x" * 65,
                                  "Upper", "-dash", ".hidden", "name\n", "n\u0430me", "", "a b"])
def test_spec_names_that_could_escape_are_invalid(tmp_path, name):
    """Names become directory names. ("name\\n" passed: spec._NAME_RE ends in `$`, which matches before
    a trailing newline; it should use re.fullmatch or `\\Z`.)"""
    spec = tmp_path / "spec.yaml"
    spec.write_text(LIGHT_SPEC.format(name=repr(name).replace("'", '"') if name else '""',
                                      description='"d"', tracking="{mode: disabled}"), encoding="utf-8")
    with pytest.raises(SpecInvalid) as info:
        load_spec(spec)
    assert [e.key_path for e in info.value.errors] == ["name"], info.value.errors
    assert info.value.errors[0].line == 2


def test_default_build_directory_is_under_the_spec(tmp_path):
    from click.testing import CliRunner

    from specc.cli.main import main

    spec = light_spec(tmp_path)
    result = CliRunner().invoke(main, ["compile", str(spec)])
    assert result.exit_code == 0, result.output
    assert (spec.parent / "build" / "light" / "run.sh").is_file()


@pytest.mark.parametrize("entry", GENERATED)
def test_symlinks_planted_where_compiled_files_go_are_replaced_not_followed(tmp_path, entry):
    spec = light_spec(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("do not touch")
    (outside / "victim-dir").mkdir()
    (outside / "victim-dir" / "keep").write_text("do not touch")
    before = tree_bytes(outside)
    build = spec.parent / "build" / "light"
    compile_plan(plan_spec_file(spec), spec.parent, build)
    target = outside / ("victim" if "." in entry else "victim-dir")
    path = build / entry
    if not path.exists():
        pytest.skip(f"this build has no {entry}")
    if path.is_dir():
        for child in sorted(path.rglob("*"), reverse=True):
            child.unlink() if child.is_file() else child.rmdir()
        path.rmdir()
    else:
        path.unlink()
    os.symlink(target, path)
    compile_plan(plan_spec_file(spec), spec.parent, build)
    assert tree_bytes(outside) == before
    assert not (build / entry).is_symlink()


@pytest.mark.parametrize("entry", ["reports", "logs"])
def test_symlinked_run_state_directories_do_not_leak_writes_outside(tmp_path, entry):
    """A build whose reports/ or logs/ is a symlink to a directory outside: running the firewall stage
    must not write there (stage code confines paths with normpath, which does not see symlinks, and the
    runner writes logs/<stage>.log wherever logs/ points)."""
    spec = light_spec(tmp_path)
    build = spec.parent / "build" / "light"
    compile_plan(plan_spec_file(spec), spec.parent, build)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, build / entry)
    run_build(build, only="firewall")
    assert sorted(p.name for p in outside.iterdir()) == [], f"wrote outside the build through {entry}/"

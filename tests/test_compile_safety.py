"""`specc compile -o DIR` never deletes what it did not create, and never fails with a traceback.

Issue 17 finding 1: compiling onto an existing directory removed the user's own ``run.sh``, ``launch/*.yaml``
and files under ``stages/`` and changed the directory's mode. Finding 6: ``-o`` onto a file, through a file,
on a read-only or full disk crashed with a traceback. Finding 8: ``compile`` during a run killed the
running stage. Each test below reproduces one of them through the real emitter / CLI.
"""

from __future__ import annotations

import errno
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from specc.build import emitter
from specc.build.emitter import CompileError, compile_plan
from specc.cli.main import main
from specc.plan.planner import plan_spec_file
from specc.run.runner import RunLock

from strategies import light_spec, tree_bytes


def _cli(*args: str):
    result = CliRunner().invoke(main, list(args))
    # a SystemExit is how the CLI exits; anything else is a traceback the user would have seen
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def _change(spec: Path) -> None:
    """Edit the spec so that its plan.json changes ("a changed build" appears in it)."""
    spec.write_text(spec.read_text().replace("consistency_required: true",
                                             "consistency_required: true, summary: a changed build"))


def _foreign_dir(path: Path) -> dict:
    path.mkdir(parents=True)
    (path / "run.sh").write_text("#!/bin/sh\necho my own script\n")
    (path / "launch").mkdir()
    (path / "launch" / "cluster.yaml").write_text("mine: true\n")
    (path / "stages").mkdir()
    (path / "stages" / "01_mine.py").write_text("print('mine')\n")
    (path / "notes.txt").write_text("my notes")
    os.chmod(path, 0o700)
    return tree_bytes(path)


def test_compile_onto_a_foreign_directory_deletes_nothing_and_keeps_its_mode(tmp_path):
    spec = light_spec(tmp_path)
    out = tmp_path / "mine"
    before = _foreign_dir(out)
    result = _cli("compile", str(spec), "-o", str(out))
    assert result.exit_code == 1, result.output
    assert "specc did not compile it" in result.output and "run.sh" in result.output
    assert tree_bytes(out) == before
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_compile_into_an_empty_directory_keeps_its_mode(tmp_path):
    spec = light_spec(tmp_path)
    out = tmp_path / "empty"
    out.mkdir()
    os.chmod(out, 0o700)
    assert _cli("compile", str(spec), "-o", str(out)).exit_code == 0
    assert (out / "run.sh").is_file() and (out / ".specc-build").is_file()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_recompile_keeps_user_files_under_compiled_names_and_the_mode(tmp_path):
    spec = light_spec(tmp_path)
    out = tmp_path / "build"
    compile_plan(plan_spec_file(spec), spec.parent, out)
    (out / "stages" / "helper.py").write_text("HELPER = 1\n")
    (out / "launch").mkdir(exist_ok=True)
    (out / "launch" / "my-cluster.yaml").write_text("mine: true\n")
    (out / "artifacts").mkdir()
    (out / "artifacts" / "adapter.bin").write_bytes(b"weights")
    os.chmod(out, 0o700)
    _change(spec)
    compile_plan(plan_spec_file(spec), spec.parent, out)
    assert (out / "stages" / "helper.py").read_text() == "HELPER = 1\n"
    assert (out / "launch" / "my-cluster.yaml").read_text() == "mine: true\n"
    assert (out / "artifacts" / "adapter.bin").read_bytes() == b"weights"
    assert "a changed build" in (out / "plan.json").read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_recompile_refuses_to_overwrite_an_edited_script_or_a_user_file(tmp_path):
    spec = light_spec(tmp_path)
    out = tmp_path / "build"
    compile_plan(plan_spec_file(spec), spec.parent, out)
    [script] = sorted((out / "stages").glob("*firewall*.py"))
    script.write_text(script.read_text() + "# my edit\n")
    before = tree_bytes(out)
    _change(spec)
    with pytest.raises(CompileError, match="changed since specc compiled"):
        compile_plan(plan_spec_file(spec), spec.parent, out)
    assert tree_bytes(out) == before
    # the same edit is fine once the user moved it away
    script.unlink()
    compile_plan(plan_spec_file(spec), spec.parent, out)
    assert "# my edit" not in script.read_text()


def test_a_user_file_where_the_new_build_writes_is_refused(tmp_path):
    spec = light_spec(tmp_path)
    out = tmp_path / "build"
    plan = plan_spec_file(spec)
    compile_plan(plan, spec.parent, out)
    # a file the previous compile did not write, at a path this compile writes (the marker says so)
    (out / ".specc-build").write_text('{"format": 1, "files": {}}\n')
    before = tree_bytes(out)
    with pytest.raises(CompileError, match="not a file specc compiled"):
        compile_plan(plan, spec.parent, out)
    assert tree_bytes(out) == before


def test_a_build_compiled_before_the_marker_is_still_recompiled(tmp_path):
    """Builds from before the marker: their plan.json names what was compiled; user files still survive."""
    spec = light_spec(tmp_path)
    out = tmp_path / "build"
    compile_plan(plan_spec_file(spec), spec.parent, out)
    (out / ".specc-build").unlink()
    (out / "stages" / "helper.py").write_text("HELPER = 1\n")
    _change(spec)
    compile_plan(plan_spec_file(spec), spec.parent, out)
    assert (out / "stages" / "helper.py").read_text() == "HELPER = 1\n"
    assert "a changed build" in (out / "plan.json").read_text()


@pytest.mark.parametrize("where", ["onto a file", "through a file"])
def test_compile_onto_or_through_a_file_is_a_clear_error(tmp_path, where):
    spec = light_spec(tmp_path)
    blocker = tmp_path / "afile"
    blocker.write_text("keep me")
    out = blocker if where == "onto a file" else blocker / "sub" / "build"
    result = _cli("compile", str(spec), "-o", str(out))
    assert result.exit_code == 1, result.output
    assert "not compiled:" in result.output and "not a directory" in result.output
    assert blocker.read_text() == "keep me"


@pytest.mark.parametrize("err", [errno.EROFS, errno.EACCES, errno.ENOSPC])
def test_unwritable_target_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch, err):
    """A read-only file system, no permission, a full disk where the staging directory goes (the tests run
    as root, so chmod cannot make a directory read-only: the OS error is injected where it would occur)."""
    spec = light_spec(tmp_path)

    def mkdtemp(*a, **k):
        raise OSError(err, os.strerror(err), str(tmp_path))

    monkeypatch.setattr(emitter.tempfile, "mkdtemp", mkdtemp)
    result = _cli("compile", str(spec), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    assert "not compiled: cannot write the build directory" in result.output
    assert os.strerror(err) in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_parent_is_a_clear_error(tmp_path):  # pragma: no cover - not run as root
    spec = light_spec(tmp_path)
    parent = tmp_path / "ro"
    parent.mkdir()
    os.chmod(parent, 0o555)
    try:
        result = _cli("compile", str(spec), "-o", str(parent / "build"))
    finally:
        os.chmod(parent, 0o755)
    assert result.exit_code == 1 and "not compiled: cannot write" in result.output


def test_full_disk_through_the_cli_is_a_clear_error(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: the compile's writes fail with EFBIG."""
    spec = light_spec(tmp_path)
    spec.write_text(spec.read_text().replace("consistency_required: true", f"consistency_required: true, summary: {'x' * 300_000}"))
    out = tmp_path / "out"

    def limit():
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    proc = subprocess.run([sys.executable, "-m", "specc", "compile", str(spec), "-o", str(out)],
                          capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "not compiled: cannot write the build directory" in proc.stderr and "File too large" in proc.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_compile_while_a_run_holds_the_lock_is_refused(tmp_path):
    spec = light_spec(tmp_path)
    out = tmp_path / "build"
    compile_plan(plan_spec_file(spec), spec.parent, out)
    _change(spec)
    with RunLock(out):
        before = tree_bytes(out)
        with pytest.raises(CompileError, match="is running"):
            compile_plan(plan_spec_file(spec), spec.parent, out)
        assert tree_bytes(out) == before
    compile_plan(plan_spec_file(spec), spec.parent, out)  # after the run: fine
    assert "a changed build" in (out / "plan.json").read_text()


def test_a_failing_swap_puts_every_carried_file_back(tmp_path, monkeypatch):
    """The swap moves run state and user files into the new build; if it then fails, they go back."""
    spec = light_spec(tmp_path)
    out = tmp_path / "build"
    compile_plan(plan_spec_file(spec), spec.parent, out)
    (out / "artifacts").mkdir()
    (out / "artifacts" / "adapter.bin").write_bytes(b"weights")
    (out / "stages" / "helper.py").write_text("HELPER = 1\n")
    before = tree_bytes(out)
    real_rename = os.rename

    def rename(src, dst, *a, **k):
        if ".old-" in os.fspath(dst):
            raise OSError(errno.EIO, "I/O error (injected)")
        return real_rename(src, dst, *a, **k)

    monkeypatch.setattr(emitter.os, "rename", rename)
    _change(spec)
    with pytest.raises(CompileError, match="injected"):
        compile_plan(plan_spec_file(spec), spec.parent, out)
    monkeypatch.undo()
    assert tree_bytes(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

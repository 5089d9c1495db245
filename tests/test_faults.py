"""Faults: interrupted compiles, data edited after compile, concurrent runs, W&B outages, killed stages.

Where another engineer's suite already proves a guarantee with a real run, it is referenced in
docs/GUARANTEES.md instead of being duplicated here (W&B unreachable, the run lock, kill-and-resume).
Faults injected here: a file-size limit hit mid-compile (OSError and SIGXFSZ kill), a render failure
mid-build, data edited after compile (caught by the firewall stage and by `specc run`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specc.build.emitter import compile_plan
from specc.build.literals import LiteralError
from specc.plan.planner import plan_spec_file
from specc.run.runner import run_build

from conftest import wait_for_lock_release
from strategies import light_spec, tree_bytes

COMPILE_UNDER_LIMIT = """\
import resource, signal, sys
from pathlib import Path
from specc.build.emitter import compile_plan
from specc.plan.planner import plan_spec_file
spec, out, limit, ignore = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "ignore"
plan = plan_spec_file(spec)           # plan first: the limit applies to what the compile writes
# CPython ignores SIGXFSZ (writes past the limit fail with EFBIG); the default action kills the process
signal.signal(signal.SIGXFSZ, signal.SIG_IGN if ignore else signal.SIG_DFL)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
compile_plan(plan, spec.parent, out)
print("compiled")
"""


def _compiled(tmp_path: Path, description: str = "first build") -> tuple[Path, Path]:
    spec = light_spec(tmp_path, description=description)
    build = spec.parent / "build" / "light"
    compile_plan(plan_spec_file(spec), spec.parent, build)
    (build / "artifacts").mkdir()
    (build / "artifacts" / "adapter.bin").write_bytes(b"trained weights")
    return spec, build


@pytest.mark.parametrize("mode", ["ignore", "kill"])
def test_compile_hitting_a_file_size_limit_leaves_the_previous_build(tmp_path, mode):
    """'Disk full' mid-compile: a recompile whose plan.json exceeds RLIMIT_FSIZE either fails with EFBIG
    (mode=ignore) or is killed by SIGXFSZ (mode=kill). Either way the previous build is untouched."""
    spec, build = _compiled(tmp_path)
    before = tree_bytes(build)
    big = spec.read_text().replace("consistency_required: true", f"consistency_required: true, summary: {'x' * 400_000}")
    spec.write_text(big)
    proc = subprocess.run([sys.executable, "-c", COMPILE_UNDER_LIMIT, str(spec), str(build), "200000", mode],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "compiled" not in proc.stdout
    if mode == "ignore":
        assert "File too large" in proc.stderr or "EFBIG" in proc.stderr, proc.stderr[-1500:]
        leftovers = [p.name for p in build.parent.iterdir() if p.name.startswith(".")]
        assert not leftovers, leftovers  # the staging directory was cleaned up
    else:
        assert proc.returncode == -25  # SIGXFSZ: the process died mid-write, no cleanup ran
    assert tree_bytes(build) == before
    compile_plan(plan_spec_file(spec), spec.parent, build)  # and a compile with room succeeds, keeping run state
    assert (build / "artifacts" / "adapter.bin").read_bytes() == b"trained weights"
    assert "x" * 1000 in (build / "plan.json").read_text()


def test_render_failure_mid_build_leaves_the_previous_build(tmp_path):
    """A value that cannot be rendered (NaN deep in a stage config) fails the render after other files
    were rendered; nothing reaches the build directory."""
    spec, build = _compiled(tmp_path)
    before = tree_bytes(build)
    plan = plan_spec_file(spec)
    last = plan.stages[-1]
    broken = plan.model_copy(update={"stages": [*plan.stages[:-1], last.model_copy(
        update={"config": {**last.config, "injected": float("nan")}})]})
    with pytest.raises((LiteralError, ValueError)):
        compile_plan(broken, spec.parent, build)
    assert tree_bytes(build) == before
    assert not [p for p in build.parent.iterdir() if p.name.startswith(".")]


def _firewall_script(build: Path) -> Path:
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    return script


@pytest.mark.parametrize("edit", ["append a row", "change one byte", "delete the file"])
def test_data_edited_after_compile_is_refused_with_exit_3(tmp_path, edit):
    spec, build = _compiled(tmp_path)
    train = spec.parent / "data" / "narrow_train.jsonl"
    if edit == "append a row":
        with open(train, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"messages": [{"role": "user", "content": "new"}]}) + "\n")
    elif edit == "change one byte":
        data = bytearray(train.read_bytes())
        data[20] = ord("Z") if data[20] != ord("Z") else ord("Y")
        train.write_bytes(bytes(data))
    else:
        train.unlink()
    env = {**os.environ, "SPECC_WANDB_MODE": "disabled"}
    proc = subprocess.run([sys.executable, str(_firewall_script(build))], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "data/narrow_train.jsonl" in proc.stderr and "REFUSED" in proc.stderr
    assert not (build / "reports" / "firewall.json").exists()
    # the same through the runner: the gate's exit code is the run's
    result = run_build(build, only="firewall")
    assert result.exit_code == 3 and result.failed == "firewall"


def test_unchanged_data_passes_the_same_gate(tmp_path):
    """The control for the test above: without the edit, the firewall stage passes (exit 0)."""
    _, build = _compiled(tmp_path)
    result = run_build(build, only="firewall")
    assert result.exit_code == 0, result
    assert json.loads((build / "reports" / "firewall.json").read_text())["passed"] is True


# ------------------------------------------------------------------ issue 17: the runner never crashes


def _cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300):
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "SPECC_WANDB_MODE": "disabled", **(env or {})}, timeout=timeout)


def _no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]


def test_run_with_a_logs_file_is_a_clear_error_and_keeps_the_file(tmp_path):
    _, build = _compiled(tmp_path)
    (build / "logs").write_text("my notes")
    proc = _cli("run", str(build), "--only", "firewall")
    _no_traceback(proc)
    assert proc.returncode == 1 and "logs is a file" in proc.stderr
    assert (build / "logs").read_text() == "my notes"


@pytest.mark.parametrize("damage", ["truncated", "not an object", "bad stages"])
def test_a_damaged_manifest_is_set_aside_and_the_run_continues(tmp_path, damage):
    _, build = _compiled(tmp_path)
    assert run_build(build, only="firewall").exit_code == 0
    manifest = build / "run_manifest.json"
    text = {"truncated": manifest.read_text()[:57], "not an object": "[1, 2]",
            "bad stages": '{"stages": {"firewall": 7}}'}[damage]
    manifest.write_text(text)
    proc = _cli("run", str(build), "--only", "firewall")
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert "run_manifest.json is damaged" in proc.stderr + proc.stdout
    assert (build / "run_manifest.json.damaged").read_text() == text  # kept, not deleted
    assert json.loads(manifest.read_text())["stages"]["firewall"]["status"] == "completed"
    status = _cli("status", str(build))
    assert status.returncode == 0 and "firewall" in status.stdout


@pytest.mark.parametrize("damage", ["truncated", "a list", "wrong types"])
def test_a_damaged_plan_json_is_reported_by_run_and_status(tmp_path, damage):
    _, build = _compiled(tmp_path)
    plan_json = build / "plan.json"
    good = plan_json.read_text()
    plan_json.write_text({"truncated": good[: len(good) // 2], "a list": "[]",
                          "wrong types": json.dumps({"plan": {"name": 5, "stages": "x"}})}[damage])
    run = _cli("run", str(build))
    _no_traceback(run)
    assert run.returncode == 1 and "plan.json" in run.stderr and "recompile" in run.stderr
    status = _cli("status", str(build))
    _no_traceback(status)
    assert "nothing to run" not in status.stdout
    assert status.returncode == 1 and "damaged" in status.stdout + status.stderr


def test_run_of_a_spec_onto_a_file_is_a_clear_error(tmp_path):
    spec = light_spec(tmp_path)
    target = tmp_path / "afile"
    target.write_text("keep")
    proc = _cli("run", str(spec), "-o", str(target))
    _no_traceback(proc)
    assert proc.returncode == 1 and "not compiled" in proc.stderr and target.read_text() == "keep"


# ------------------------------------------------- real full and read-only disks (tmpfs in a namespace)


def _can_mount() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs unshare -rm and tmpfs mounts")

FILL = "dd if=/dev/zero of=\"$MNT/filler\" bs=4k 2>/dev/null || true; sync"


def _in_namespace(tmp_path: Path, script: str, *, size: str = "8m") -> subprocess.CompletedProcess:
    """Run ``script`` (bash) with a fresh tmpfs of ``size`` mounted at $MNT = tmp_path/mnt; what the
    script copies to $KEEP (tmp_path/keep) survives the namespace."""
    (tmp_path / "mnt").mkdir(exist_ok=True)
    (tmp_path / "keep").mkdir(exist_ok=True)
    wrapped = f"set -u; mount -t tmpfs -o size={size} tmpfs \"$MNT\"\n{script}"
    env = {**os.environ, "MNT": str(tmp_path / "mnt"), "KEEP": str(tmp_path / "keep"), "PY": sys.executable,
           "SPECC_WANDB_MODE": "disabled"}
    return subprocess.run(["unshare", "-rm", "bash", "-c", wrapped], capture_output=True, text=True, env=env,
                          timeout=600)


@needs_mount
def test_a_full_disk_never_breaks_the_run_for_good(tmp_path):
    """The runner on a disk that fills up: a clear error, a manifest that stays valid JSON, and a rerun
    with room completes. Then the same for compile: the previous build stays."""
    spec = light_spec(tmp_path)
    script = f"""
    "$PY" -m specc compile {spec} -o "$MNT/build" >/dev/null || exit 90
    "$PY" -m specc run "$MNT/build" --only firewall >/dev/null 2>&1 || exit 91
    {FILL}
    "$PY" -m specc run "$MNT/build" --only firewall >"$KEEP/run1.out" 2>"$KEEP/run1.err"; echo $? >"$KEEP/run1.rc"
    sed -i 's/a light build/a light build, edited/' {spec}
    "$PY" -m specc compile {spec} -o "$MNT/build" >"$KEEP/c.out" 2>"$KEEP/c.err"; echo $? >"$KEEP/c.rc"
    cp "$MNT/build/run_manifest.json" "$KEEP/manifest.json" 2>/dev/null
    rm "$MNT/filler"
    "$PY" -m specc run "$MNT/build" --only firewall >"$KEEP/run2.out" 2>"$KEEP/run2.err"; echo $? >"$KEEP/run2.rc"
    """
    ns = _in_namespace(tmp_path, script, size="4m")
    assert ns.returncode == 0, ns.stderr[-2000:]
    keep = tmp_path / "keep"
    run1 = (keep / "run1.err").read_text() + (keep / "run1.out").read_text()
    assert (keep / "run1.rc").read_text().strip() == "1", run1
    assert "Traceback" not in run1 and "No space left on device" in run1, run1
    json.loads((keep / "manifest.json").read_text())  # never torn
    compile_err = (keep / "c.err").read_text()
    assert (keep / "c.rc").read_text().strip() == "1" and "Traceback" not in compile_err
    assert "No space left on device" in compile_err, compile_err
    assert (keep / "run2.rc").read_text().strip() == "0", (keep / "run2.err").read_text()


@needs_mount
def test_a_read_only_build_is_a_clear_error(tmp_path):
    spec = light_spec(tmp_path)
    script = f"""
    "$PY" -m specc compile {spec} -o "$MNT/build" >/dev/null || exit 90
    mount -o remount,ro "$MNT"
    "$PY" -m specc run "$MNT/build" >"$KEEP/run.out" 2>"$KEEP/run.err"; echo $? >"$KEEP/run.rc"
    "$PY" -m specc compile {spec} -o "$MNT/build" >"$KEEP/c.out" 2>"$KEEP/c.err"; echo $? >"$KEEP/c.rc"
    "$PY" -m specc compile {spec} -o "$MNT/other" >"$KEEP/c2.out" 2>"$KEEP/c2.err"; echo $? >"$KEEP/c2.rc"
    """
    ns = _in_namespace(tmp_path, script)
    assert ns.returncode == 0, ns.stderr[-2000:]
    keep = tmp_path / "keep"
    for name in ("run", "c", "c2"):
        err = (keep / f"{name}.err").read_text()
        assert (keep / f"{name}.rc").read_text().strip() == "1", (name, err)
        assert "Traceback" not in err and "Read-only file system" in err, (name, err)


# ----------------------------------------------------------- one run at a time: run.sh honours the lock


def test_run_sh_honours_the_run_lock_and_compile_waits_for_it(tmp_path):
    from specc.build.emitter import CompileError
    from specc.run.runner import RunLock

    spec, build = _compiled(tmp_path)
    env = {**os.environ, "SPECC_WANDB_MODE": "disabled"}
    with RunLock(build):
        proc = subprocess.run(["bash", str(build / "run.sh"), "firewall"], capture_output=True, text=True,
                              env=env, timeout=60)
    assert proc.returncode == 3 and "another run" in proc.stderr, proc.stderr
    assert not (build / "reports" / "firewall.json").exists()
    # run.sh running a (slow) stage holds the lock: specc run and specc compile are refused meanwhile
    slow = tmp_path / "slow-python"
    slow.write_text("#!/bin/sh\nsleep 60\n")
    slow.chmod(0o755)
    holder = subprocess.Popen(["bash", str(build / "run.sh"), "firewall"], env={**env, "PYTHON": str(slow)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        # run.sh writes its pid once it holds the lock; wait for that (a loaded machine may take long to start
        # bash), never go on without it: the refusals below would then race the lock instead of meeting it
        deadline = time.monotonic() + 120
        while not (build / ".specc-run.lock").read_text().strip():
            assert holder.poll() is None, holder.stderr.read()
            assert time.monotonic() < deadline, "run.sh never took the run lock in 120 s"
            time.sleep(0.05)
        result = _cli("run", str(build), "--only", "firewall")
        assert result.returncode == 3 and "another run" in result.stderr, result.stderr
        with pytest.raises(CompileError, match="is running"):
            compile_plan(plan_spec_file(spec), spec.parent, build)
    finally:
        os.killpg(holder.pid, 9)
        holder.wait()
    wait_for_lock_release(build)  # the lock goes with its holders (bash's killed children exit a moment later)
    assert run_build(build, only="firewall").exit_code == 0


# ------------------------------------------- resume survives a kill during a checkpoint save or a full disk


@pytest.mark.train
def test_incomplete_checkpoints_are_skipped_and_resume_uses_the_last_complete_one(write_spec, compile_spec,
                                                                                  stage_runner):
    """Issue 17 finding 5: an empty ``checkpoint-N`` (SIGKILL during the save) or one whose
    ``trainer_state.json`` is empty (the disk filled up while writing it) used to fail every resume."""
    import shutil

    plan, build = compile_spec(write_spec())
    stage_runner(build, plan.stage("firewall").script)
    sft = plan.stage("sft").script
    stage_runner(build, sft, "--max-steps", "2")
    checkpoints = build / "artifacts/sft/checkpoints"
    assert (checkpoints / "checkpoint-2" / "trainer_state.json").is_file()
    (checkpoints / "checkpoint-3").mkdir()  # killed right after the directory was made
    shutil.copytree(checkpoints / "checkpoint-2", checkpoints / "checkpoint-5")
    (checkpoints / "checkpoint-5" / "trainer_state.json").write_text("")  # full disk while writing it
    proc = stage_runner(build, sft, "--max-steps", "4")
    assert "skipping checkpoint-5: incomplete" in proc.stderr and "skipping checkpoint-3: incomplete" in proc.stderr
    assert "resuming from" in proc.stderr and "checkpoint-2" in proc.stderr
    events = [json.loads(line[8:]) for line in proc.stdout.splitlines() if line.startswith("@@specc ")]
    steps = [e["step"] for e in events if "loss" in e]
    assert steps == [3, 4]
    assert (checkpoints / "incomplete-checkpoint-5").is_dir() and (checkpoints / "incomplete-checkpoint-3").is_dir()
    assert (checkpoints / "checkpoint-4" / "trainer_state.json").is_file()

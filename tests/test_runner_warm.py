"""The warm launcher (``specc run --warm``): a stage forked from one process that imported the training stack
must behave as the same stage started as its own Python — what the script sees, its output and log, its
exit code, Ctrl-C/SIGTERM, a runner killed under it — or the runner must launch cold and say why.

These use hand-written builds (test_runner_helpers) and a zygote that preloads nothing
(``warm_preload=()``), so they are fast; test_runner_e2e.py checks on a real training pipeline that a warm
run's scores are the cold run's, with the default preload (torch, transformers, peft).
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import wait_for_lock_release
from specc.exit_codes import ExitCode
from specc.run.progress import Display
from specc.run.runner import LockHeld, run_build
from specc.run.warm import _ended
from test_runner_helpers import make_build, manifest, writer

SPECC = [sys.executable, "-m", "specc"]

IDENTITY = """
import json, os, sys
MARK = 1
print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "name": __name__, "file": __file__,
                  "path0": sys.path[0], "stdin": sys.stdin.read(), "group": os.environ.get("SPECC_WANDB_GROUP"),
                  "main": sys.modules["__main__"].__dict__.get("MARK")}), flush=True)
sys.stderr.write("to stderr\\n")
"""


def _run(build: Path, warm: bool, **kw):
    out = io.StringIO()
    res = run_build(build, display=Display(out, tty=False, interval=0), warm=warm,
                    warm_preload=() if warm else None, **kw)
    return res, out.getvalue()


def _one(root: Path, body: str, outputs: dict[str, str] | None = None) -> Path:
    return make_build(root, [{"id": "train", "body": body, "outputs": outputs or {}}])


def _output(build: Path) -> list[str]:
    """The stage's own lines in its log (the runner's ### header lines left out)."""
    return [line for line in (build / "logs" / "train.log").read_text().splitlines() if not line.startswith("###")]


def test_a_forked_stage_sees_what_a_cold_one_sees(tmp_path):
    seen = {}
    for how in ("cold", "warm"):
        build = _one(tmp_path / how, IDENTITY + writer("artifacts/out.txt"), {"out": "artifacts/out.txt"})
        res, out = _run(build, how == "warm", extra_args={"train": ["--flag", "x"]})
        assert res.exit_code == ExitCode.OK, out
        lines = _output(build)
        seen[how] = (json.loads(lines[0].replace(str(build), "<build>")), lines[1:])
        rec = manifest(build)["stages"]["train"]
        assert rec["launch"] == how and rec["status"] == "completed"
        assert ("forked from the warm launcher" in (build / "logs/train.log").read_text()) is (how == "warm")
    assert seen["warm"] == seen["cold"]
    assert seen["cold"][0] == {"argv": ["stages/00_train.py", "--flag", "x"], "cwd": "<build>", "name": "__main__",
                               "file": "<build>/stages/00_train.py", "path0": "<build>/stages", "stdin": "",
                               "group": "toy-abc123", "main": 1}
    assert "to stderr" in seen["warm"][1]


ENDINGS = [
    # (stage body, the runner's status, the manifest note's start, a line the log must hold)
    ("import sys; print('refusing'); sys.exit(3)", "gated", "a gate refused", "refusing"),
    ("raise ValueError('boom')", "failed", "exit code 1", "ValueError: boom"),
    ("import sys; sys.exit('a message for people')", "failed", "exit code 1", "a message for people"),
    ("import os, signal; print('bye', flush=True); os.kill(os.getpid(), signal.SIGKILL)", "failed",
     "killed by signal 9", "bye"),
    # what the interpreter does at exit: flush buffered output, run atexit, join non-daemon threads
    ("import atexit, sys; atexit.register(lambda: print('atexit ran')); sys.stdout.write('unflushed')\n"
     + "import threading, time, pathlib\n"
       "def late():\n"
       "    time.sleep(0.3)\n"
       "    pathlib.Path('artifacts').mkdir(exist_ok=True)\n"
       "    pathlib.Path('artifacts/out.txt').write_text('x')\n"
       "threading.Thread(target=late).start()\n", "completed", "", "unflushedatexit ran"),
]


@pytest.mark.parametrize("body,status,note,line", ENDINGS, ids=["gate", "exception", "exit-message", "sigkill",
                                                                "exit-path"])
def test_a_forked_stage_ends_as_a_cold_one_ends(tmp_path, body, status, note, line):
    ended = {}
    for how in ("cold", "warm"):
        build = _one(tmp_path / how, body, {"out": "artifacts/out.txt"})
        res, _ = _run(build, how == "warm")
        rec = manifest(build)["stages"]["train"]
        assert rec["status"] == status and rec["note"].startswith(note), rec
        assert line in _output(build), _output(build)
        ended[how] = (res.exit_code, rec["exit_code"], _output(build)[-1])
    assert ended["warm"] == ended["cold"]


SLOW = writer("artifacts/train/model.txt", "weights", extra=(
    "if not pathlib.Path('artifacts/train/started').exists():\n"
    "    pathlib.Path('artifacts/train').mkdir(parents=True, exist_ok=True)\n"
    "    pathlib.Path('artifacts/train/started').write_text(str(os.getpid()))\n"
    "    print('@@specc {\"event\": \"progress\", \"step\": 1, \"max_steps\": 9}', flush=True)\n"
    "    import time; time.sleep(120)\n"
    "else:\n"
    "    print('resumed', flush=True)\n"))


def _slow_build(root: Path) -> Path:
    return make_build(root, [{"id": "train", "body": SLOW, "outputs": {"model": "artifacts/train/model.txt"}}])


def _start_warm_run(build: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "SPECC_WARM_PRELOAD": ""}
    proc = subprocess.Popen([*SPECC, "run", str(build), "--warm"], stdout=subprocess.PIPE, text=True, env=env, **kw)
    for line in proc.stdout:
        if "train: step 1/9" in line:
            return proc
    raise AssertionError(f"the stage never started (exit {proc.wait()})")


def _wait_gone(pid: int, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not _ended(pid):  # the launcher's own test of "gone or a zombie" (one read of /proc)
        assert time.monotonic() < deadline, f"pid {pid} still runs"
        time.sleep(0.05)


def test_sigterm_stops_a_forked_stage_and_a_rerun_resumes(tmp_path):
    build = _slow_build(tmp_path)
    proc = _start_warm_run(build)
    stage_pid = int((build / "artifacts/train/started").read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == ExitCode.INTERRUPTED
    rec = manifest(build)["stages"]["train"]
    assert rec["status"] == "interrupted" and rec["pid"] == stage_pid and rec["launch"] == "warm"
    _wait_gone(stage_pid)
    res, _ = _run(build, warm=True)
    assert res.exit_code == 0 and "resumed" in _output(build)


def test_a_run_killed_under_a_forked_stage_is_not_resumed_while_the_stage_runs(tmp_path):
    """SIGKILL of the runner alone leaves its stage running (as with a cold stage): the next run must see
    that the recorded pid is still this stage (its command line names the script) and refuse."""
    build = _slow_build(tmp_path)
    proc = _start_warm_run(build)
    stage_pid = int((build / "artifacts/train/started").read_text())
    proc.kill()
    proc.wait()
    try:
        assert b"stages/00_train.py" in Path(f"/proc/{stage_pid}/cmdline").read_bytes()
        with pytest.raises(LockHeld, match=f"pid {stage_pid}"):
            _run(build, warm=True)
    finally:
        os.kill(stage_pid, signal.SIGKILL)
    _wait_gone(stage_pid)
    wait_for_lock_release(build)
    res, out = _run(build, warm=True)
    assert res.exit_code == 0 and "stage train was interrupted" in out and "resumed" in _output(build)


def _importable_module_that_starts_a_thread(tmp_path, monkeypatch) -> None:
    """``import spins_a_thread`` (on PYTHONPATH, for stages too) leaves a second thread running: a preload that
    a fork must refuse."""
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "spins_a_thread.py").write_text("import threading, time\n"
                                            "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mods), os.environ.get("PYTHONPATH", "")]))


def test_a_launcher_that_started_threads_is_refused_and_stages_start_cold(tmp_path, monkeypatch):
    _importable_module_that_starts_a_thread(tmp_path, monkeypatch)
    build = _one(tmp_path / "b", writer("artifacts/out.txt"), {"out": "artifacts/out.txt"})
    out = io.StringIO()
    res = run_build(build, display=Display(out, tty=False, interval=0), warm=True, warm_preload=("spins_a_thread",))
    assert res.exit_code == 0
    assert re.search(r"warm launcher unavailable \(the warm launcher runs \d+ threads after its imports",
                     out.getvalue()), out.getvalue()
    assert manifest(build)["stages"]["train"]["launch"] == "cold"


def test_the_default_preload_starts_no_thread_and_no_cuda(tmp_path):
    """What the demo relies on: after importing torch, transformers (and peft without a GPU) the zygote
    still runs one thread and has not loaded the CUDA driver, so it serves."""
    pytest.importorskip("transformers")
    from specc.run.warm import WarmLauncher, default_preload

    launcher = WarmLauncher(tmp_path, {**os.environ, "OMP_NUM_THREADS": "1"}, [], default_preload())
    try:
        info = launcher.wait_ready()
        assert info["ready"] and info["modules"] > 500  # torch and transformers are in it
    finally:
        launcher.close()


def _server_env(cli: bool = True) -> dict[str, str]:
    """What the stage environment of a run (a ``specc run`` command, or ``run_build`` in this process) holds
    besides its W&B settings (specc.build.stage_env; the command sets PYDANTIC_DISABLE_PLUGINS for itself)."""
    from specc.build.stage_env import stage_environment

    cli_sets = {"PYDANTIC_DISABLE_PLUGINS": "__all__"} if cli else {}
    return {**cli_sets, **os.environ, **stage_environment(None)[0]}


def test_a_shared_launcher_serves_concurrent_runs_each_with_its_own_output_and_environment(tmp_path):
    """The demo's set-up: one launcher, several ``specc run --warm-server`` at once; each stage's output goes
    to its own run's log, with its own build's W&B group, and its exit code back to its own runner."""
    from specc.run.warm import WarmServer

    body = IDENTITY + "import time; time.sleep(0.5)\n" + writer("artifacts/out.txt")
    builds = [_one(tmp_path / f"b{i}", body + ("import sys; sys.exit(3)\n" if i == 1 else ""),
                   {"out": "artifacts/out.txt"}) for i in range(3)]
    groups = {}
    for i, b in enumerate(builds):  # distinct W&B groups: the one thing the stage environments differ in
        doc = json.loads((b / "plan.json").read_text())
        doc["plan"]["tracking"]["group"] = groups[b] = f"group-{i}"
        (b / "plan.json").write_text(json.dumps(doc))
    with WarmServer(_server_env(), ["stages/00_train.py"], preload=(), cwd=tmp_path) as server:
        # env given, as the demo gives it: a library may have set C-level variables (COLUMNS) os.environ lacks
        procs = [subprocess.Popen([*SPECC, "run", str(b), "--warm-server", str(server.address)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
                 for b in builds]
        outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, ExitCode.REFUSED, 0], outs
    for b in builds:
        rec = manifest(b)["stages"]["train"]
        assert rec["launch"] == "warm", "\n".join(o[-600:] for o in outs)
        seen = json.loads(_output(b)[0])
        assert seen["cwd"] == str(b) and seen["group"] == groups[b]
    assert not server.folder.exists()  # its private socket folder goes with it


def test_a_shared_launcher_refuses_a_stage_whose_environment_differs_beyond_wandb(tmp_path, monkeypatch):
    from specc.run.warm import WarmServer

    build = _one(tmp_path / "b", IDENTITY + writer("artifacts/out.txt"), {"out": "artifacts/out.txt"})
    with WarmServer(_server_env(cli=False), ["stages/00_train.py"], preload=(), cwd=tmp_path) as server:
        monkeypatch.setenv("HF_HOME", str(tmp_path / "elsewhere"))  # could have been read by an import
        out = io.StringIO()
        res = run_build(build, display=Display(out, tty=False, interval=0), warm_server=server.address)
    assert res.exit_code == 0
    assert "differs from the warm launcher's in HF_HOME (only W&B variables may)" in out.getvalue(), out.getvalue()
    assert manifest(build)["stages"]["train"]["launch"] == "cold"


def test_what_the_preload_sets_in_the_environment_the_stage_sees_as_a_cold_stage_would(tmp_path, monkeypatch):
    """torch sets TORCHINDUCTOR_CACHE_DIR when imported: a cold stage has it from its own import, so a
    forked one keeps it, and it is not mistaken for a difference between the run's and the launcher's."""
    from specc.run.warm import WarmServer

    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "sets_a_variable.py").write_text("import os\nos.environ['SET_BY_IMPORT'] = 'yes'\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mods), os.environ.get("PYTHONPATH", "")]))
    body = "import os\nprint('seen', os.environ.get('SET_BY_IMPORT'))\n" + writer("artifacts/out.txt")
    build = _one(tmp_path / "b", body, {"out": "artifacts/out.txt"})
    with WarmServer(_server_env(cli=False), ["stages/00_train.py"], preload=("sets_a_variable",),
                    cwd=tmp_path) as server:
        out = io.StringIO()
        res = run_build(build, display=Display(out, tty=False, interval=0), warm_server=server.address)
    assert res.exit_code == 0 and manifest(build)["stages"]["train"]["launch"] == "warm", out.getvalue()
    assert "seen yes" in _output(build)


def test_multi_process_stages_keep_their_own_launch(tmp_path):
    """torchrun and accelerate start their own worker processes: those stages are never forked (and no
    launcher is started for them)."""
    from specc.plan.model import Stage
    from specc.run.runner import _Launchers, load_plan

    build = _one(tmp_path, writer("artifacts/out.txt"), {"out": "artifacts/out.txt"})
    plan = load_plan(build)
    launchers = _Launchers(True, ())
    for launcher in ("torchrun", "accelerate"):
        stage = Stage(id="train", kind="sft", title="t", script="stages/00_train.py", launcher=launcher)
        assert launchers._get(build, plan, stage, dict(os.environ), Display(io.StringIO(), tty=False)) is None
    assert launchers.launcher is None


def test_a_shared_launcher_that_will_not_serve_tells_each_run_why(tmp_path, monkeypatch):
    from specc.run.warm import WarmServer

    _importable_module_that_starts_a_thread(tmp_path, monkeypatch)
    build = _one(tmp_path / "b", writer("artifacts/out.txt"), {"out": "artifacts/out.txt"})
    with WarmServer(_server_env(cli=False), ["stages/00_train.py"], preload=("spins_a_thread",),
                    cwd=tmp_path, log_path=tmp_path / "warm-launcher.log") as server:
        out = io.StringIO()
        res = run_build(build, display=Display(out, tty=False, interval=0), warm_server=server.address)
    assert res.exit_code == 0 and manifest(build)["stages"]["train"]["launch"] == "cold"
    assert re.search(r"warm launcher unavailable \(the warm launcher runs \d+ threads", out.getvalue()), out.getvalue()
    assert "not serving: the warm launcher runs" in (tmp_path / "warm-launcher.log").read_text()


def test_a_stage_orphaned_by_a_dead_launcher_is_waited_for_only_as_long_as_asked():
    """When the warm launcher died, a stage's ``wait(timeout)`` must still time out (the runner then escalates
    from SIGTERM to SIGKILL for a stage that ignores SIGTERM); it reports the stage gone once it is."""
    from specc.run.warm import _gone

    stage = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        start = time.monotonic()
        assert _gone(stage.pid, 0.3) is None
        assert time.monotonic() - start < 60  # it gave up at its timeout, long before the stage ends
    finally:
        stage.kill()
        stage.wait()
    assert _gone(stage.pid, 0.3) == -signal.SIGKILL


def test_a_stage_orphaned_by_a_dead_launcher_counts_as_gone_once_it_is_a_zombie():
    """An orphaned stage is reaped by whatever adopts it (PID 1 or a subreaper); one that never reaps (a
    container's PID 1 that is not an init) leaves it a zombie for good. A zombie has ended: the runner's
    ``wait()`` must not wait for it forever. Forced here by a child this test does not reap while asked."""
    from specc.run.warm import _gone

    stage = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, stage.pid, os.WEXITED | os.WNOWAIT)  # ended, still unreaped: a zombie
        assert _gone(stage.pid, 5.0) == -signal.SIGKILL
    finally:
        stage.wait()


def test_a_rerun_counts_only_the_stages_it_started(tmp_path):
    """A completed stage that a later run skips keeps the earlier run's record; the demo's launch summary
    must not count it as launched by this run, and a stage started again carries nothing of its last attempt."""
    from specc.demo.story import launch_summary

    flaky = writer("artifacts/b.txt", extra="if not pathlib.Path('../go').exists(): sys.exit(1)")
    build = make_build(tmp_path, [{"id": "a", "body": writer("artifacts/a.txt"), "outputs": {"a": "artifacts/a.txt"}},
                                  {"id": "b", "body": flaky, "needs": ["a"], "outputs": {"b": "artifacts/b.txt"}}])
    res, _ = _run(build, warm=True)
    assert res.exit_code == ExitCode.INVALID
    first = manifest(build)
    assert [first["stages"][s]["launch"] for s in "ab"] == ["warm", "warm"]
    assert launch_summary([build]) == "2 of 2 stage processes forked from the warm launcher"

    (tmp_path / "go").write_text("")
    res, _ = _run(build, warm=False)
    assert res.exit_code == ExitCode.OK and res.skipped == ["a"]
    second = manifest(build)
    assert second["runner"]["run"] == 2 and second["stages"]["a"] == first["stages"]["a"]  # untouched: run 1's
    b = second["stages"]["b"]
    assert (b["run"], b["launch"], b["attempts"], b["status"]) == (2, "cold", 2, "completed")
    assert launch_summary([build]) == ("0 of 1 stage processes forked from the warm launcher; "
                                       "1 started cold (each run's log says why)")

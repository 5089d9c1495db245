"""The runner's own logic on hand-written builds: order, skip/rerun, --from/--only, exit codes, lock,
stale-run recovery, env and log redaction. Each stage is a real process."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from specc.run.progress import Display, parse_line
from specc.exit_codes import ExitCode
from specc.run.runner import LockHeld, RunLock, UsageError, load_plan, run_build
from conftest import wait_for_lock_release
from test_runner_helpers import GROUP, make_build, manifest, writer

SPECC = [sys.executable, "-m", "specc"]


def _three(tmp_path: Path, middle: str | None = None) -> Path:
    return make_build(tmp_path, [
        {"id": "firewall", "kind": "firewall", "body": writer("reports/firewall.json", "{}"),
         "outputs": {"report": "reports/firewall.json"}},
        {"id": "train", "needs": ["firewall"], "inputs": {"report": "reports/firewall.json"},
         "body": middle or writer("artifacts/train/model.txt", "weights"),
         "outputs": {"model": "artifacts/train/model.txt"}},
        {"id": "eval", "kind": "eval", "needs": ["train"], "inputs": {"model": "artifacts/train/model.txt"},
         "body": writer("results/eval.json", "{}"), "outputs": {"results": "results/eval.json"}},
    ])


def _run(build: Path, **kw):
    out = io.StringIO()
    return run_build(build, display=Display(out, tty=False, interval=0), **kw), out.getvalue()


def test_runs_in_order_records_manifest_and_logs(tmp_path):
    build = _three(tmp_path)
    res, out = _run(build)
    assert res.exit_code == ExitCode.OK and res.ran == ["firewall", "train", "eval"]
    m = manifest(build)
    assert list(m["stages"]) == ["firewall", "train", "eval"]
    for rec in m["stages"].values():
        assert rec["status"] == "completed" and rec["exit_code"] == 0
        assert rec["started_at"] <= rec["ended_at"] and rec["duration_s"] >= 0
        assert len(rec["script_sha256"]) == 64
    assert m["stages"]["eval"]["inputs"]["model"]["sha256"] == m["stages"]["train"]["outputs"]["model"]["sha256"]
    assert (build / "logs" / "train.log").read_text().startswith("### specc run: train attempt 1")
    assert "train: step 1/1 loss 0.5" in out


def test_rerun_skips_unchanged_and_reruns_downstream_of_a_change(tmp_path):
    build = _three(tmp_path)
    _run(build)
    res, out = _run(build)
    assert res.ran == [] and res.skipped == ["firewall", "train", "eval"]
    # the training script changes -> it reruns, its output changes -> eval reruns; firewall stays skipped
    script = build / "stages/01_train.py"
    script.write_text(writer("artifacts/train/model.txt", "new weights"))
    res, _ = _run(build)
    assert res.skipped == ["firewall"] and res.ran == ["train", "eval"]
    assert manifest(build)["stages"]["train"]["attempts"] == 2
    # a deleted output forces its stage to rerun
    (build / "results/eval.json").unlink()
    res, _ = _run(build)
    assert res.ran == ["eval"]


def test_failure_stops_and_gate_exits_3(tmp_path):
    build = _three(tmp_path, middle="import sys; print('boom'); sys.exit(7)\n")
    res, out = _run(build)
    assert res.exit_code == ExitCode.INVALID and res.failed == "train" and res.ran == ["firewall", "train"]
    st = manifest(build)["stages"]
    assert st["train"]["status"] == "failed" and st["train"]["exit_code"] == 7
    assert st["eval"]["status"] == "pending"
    assert "| boom" in out
    (build / "stages/01_train.py").write_text("import sys; sys.exit(3)\n")
    res, _ = _run(build)
    assert res.exit_code == ExitCode.REFUSED and manifest(build)["stages"]["train"]["status"] == "gated"


def test_exit_zero_without_declared_outputs_is_a_failure(tmp_path):
    build = _three(tmp_path, middle="print('forgot to save')\n")
    res, _ = _run(build)
    assert res.exit_code == ExitCode.INVALID
    assert "outputs are missing: model" in manifest(build)["stages"]["train"]["note"]


def test_from_and_only(tmp_path):
    build = _three(tmp_path)
    with pytest.raises(UsageError, match="needs firewall"):
        _run(build, only="train")
    _run(build)
    res, _ = _run(build, only="train")
    assert res.ran == ["train"]
    res, _ = _run(build, from_stage="train")
    assert res.ran == ["train", "eval"] and res.skipped == []
    with pytest.raises(UsageError, match="no such stage; stages are: firewall, train, eval"):
        _run(build, only="nope")


def test_env_tracking_cwd_and_secret_redaction(tmp_path, monkeypatch):
    body = """
import json, os, pathlib
keys = ["SPECC_WANDB_GROUP", "WANDB_PROJECT", "SPECC_WANDB_MODE", "WANDB_DIR", "MY_API_KEY"]
pathlib.Path("artifacts").mkdir(exist_ok=True)
pathlib.Path("artifacts/env.json").write_text(json.dumps({k: os.environ.get(k) for k in keys} | {"cwd": os.getcwd()}))
print("the key is", os.environ["MY_API_KEY"])
"""
    build = make_build(tmp_path, [{"id": "s", "body": body, "outputs": {"env": "artifacts/env.json"}}])
    monkeypatch.setenv("MY_API_KEY", "sk-very-secret-123")
    monkeypatch.delenv("SPECC_WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    res, _ = _run(build)
    assert res.exit_code == 0
    env = json.loads((build / "artifacts/env.json").read_text())
    assert env == {"SPECC_WANDB_GROUP": GROUP, "WANDB_PROJECT": "toy-project", "SPECC_WANDB_MODE": "offline",
                   "WANDB_DIR": str(build.resolve()), "MY_API_KEY": "sk-very-secret-123", "cwd": str(build.resolve())}
    log = (build / "logs/s.log").read_text()
    assert "the key is ***" in log
    for path in build.rglob("*"):
        if path.is_file() and path.name != "env.json":
            assert b"sk-very-secret-123" not in path.read_bytes(), path


def test_lock_refuses_second_run_naming_the_pid(tmp_path):
    build = _three(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from specc.run.runner import RunLock\n"
        f"l = RunLock(Path({str(build)!r})).acquire(); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as exc:
            _run(build)
        assert exc.value.pid == holder.pid and f"pid {holder.pid}" in str(exc.value)
        cli = subprocess.run([*SPECC, "run", str(build)], capture_output=True, text=True)
        assert cli.returncode == ExitCode.REFUSED and f"pid {holder.pid}" in cli.stderr
    finally:
        holder.kill()
        holder.wait()
    res, _ = _run(build)  # the kernel released the dead holder's flock: no manual cleanup needed
    assert res.exit_code == 0 and res.recovered_from_pid == holder.pid


def test_sigkilled_run_is_recovered_and_interrupted_stage_reruns(tmp_path):
    slow = writer("artifacts/train/model.txt", "weights", extra=(
        "if not pathlib.Path('artifacts/train/started').exists():\n"
        "    pathlib.Path('artifacts/train').mkdir(parents=True, exist_ok=True)\n"
        "    pathlib.Path('artifacts/train/started').write_text('1')\n"
        "    print('@@specc {\"event\": \"progress\", \"step\": 1, \"max_steps\": 9}', flush=True)\n"
        "    import time; time.sleep(120)\n"
        "else:\n"
        "    print('resumed', flush=True)\n"))
    build = _three(tmp_path, middle=slow)
    proc = subprocess.Popen([*SPECC, "run", str(build)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    for line in proc.stdout:
        if "train: step 1/9" in line:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for_lock_release(build)  # the killed stage process, which holds the lock too, exits a moment later
    m = manifest(build)
    assert m["stages"]["train"]["status"] == "running" and m["stages"]["firewall"]["status"] == "completed"
    assert (build / ".specc-run.lock").read_text().strip() == str(proc.pid)
    res, out = _run(build)
    assert res.exit_code == 0 and res.recovered_from_pid == proc.pid
    assert res.skipped == ["firewall"] and res.ran == ["train", "eval"]
    assert "stage train was interrupted" in out
    log = (build / "logs/train.log").read_text()
    assert log.count("### specc run: train attempt") == 2 and "resumed" in log
    assert (build / ".specc-run.lock").read_text() == ""


def test_recover_refuses_while_the_orphaned_stage_still_runs(tmp_path):
    build = _three(tmp_path)
    _run(build)
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "stages/01_train.py"])
    try:
        m = manifest(build)
        m["stages"]["train"].update(status="running", pid=orphan.pid)
        (build / "run_manifest.json").write_text(json.dumps(m))
        with pytest.raises(LockHeld, match=f"pid {orphan.pid}"):
            _run(build)
    finally:
        orphan.kill()
        orphan.wait()


def test_cli_usage_errors_exit_2(tmp_path):
    build = _three(tmp_path)
    r = subprocess.run([*SPECC, "run", str(build), "--only", "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and "no such stage" in r.stderr
    r = subprocess.run([*SPECC, "run", str(tmp_path / "missing")], capture_output=True, text=True)
    assert r.returncode == 2


def test_progress_parsing_is_tolerant():
    assert parse_line('@@specc {"event": "progress", "step": 2, "max_steps": 4, "loss": 1.5}')["step"] == 2
    assert parse_line("@@specc {not json") is None
    assert parse_line("@@specc [1, 2]") is None
    assert parse_line("loss 0.3") is None
    assert parse_line("[specc] step 3/10 loss=1.25") is None  # a format no script prints any more


def test_lock_is_exclusive_within_one_process(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    with RunLock(tmp_path) as again:
        assert again.stale_pid is None


def test_a_stage_that_needs_the_user_exits_4(tmp_path):
    """The push stage without a token exits 4 (needs the user); `specc run` passes that code on, not 1."""
    build = _three(tmp_path, middle="import sys; print('no Hugging Face token'); sys.exit(4)\n")
    res, out = _run(build)
    assert res.exit_code == ExitCode.NEEDS_USER == 4 and res.failed == "train"
    assert "needs you (exit 4)" in manifest(build)["stages"]["train"]["note"]


def test_a_model_card_written_after_a_stage_does_not_rerun_it(tmp_path):
    """The eval stage writes README.md (the model card, with its verdict) into the trained adapter and the merged
    model, which earlier stages produced and read. A card is documentation: the next run must not take it for
    new weights and re-run merge and eval for ever. Any other change to those folders still re-runs them."""
    card = "import pathlib; [pathlib.Path(d, 'README.md').write_text('verdict') for d in ('artifacts/train/model', 'artifacts/merge/model')]\n"
    build = make_build(tmp_path, [
        {"id": "train", "body": writer("artifacts/train/model/w.bin", "weights"),
         "outputs": {"model": "artifacts/train/model"}},
        {"id": "merge", "kind": "merge", "needs": ["train"], "inputs": {"adapter": "artifacts/train/model"},
         "body": writer("artifacts/merge/model/w.bin", "merged"), "outputs": {"model": "artifacts/merge/model"}},
        {"id": "eval", "kind": "eval", "needs": ["merge"], "inputs": {"model": "artifacts/merge/model"},
         "body": writer("results/eval.json", "{}", extra=card), "outputs": {"results": "results/eval.json"}},
    ])
    res, _ = _run(build)
    assert res.ran == ["train", "merge", "eval"]
    res, _ = _run(build)
    assert res.ran == [] and res.skipped == ["train", "merge", "eval"]
    (build / "artifacts/train/model/w.bin").write_text("other weights")  # new weights: merge re-runs
    res, _ = _run(build)
    assert res.ran == ["merge"]  # (this toy merge writes the same bytes again, so eval stays current)


def _scored(root: Path, firewall_text: str = "{}") -> Path:
    """firewall → baseline (counts its runs in root/../baseline_runs) → train → eval, hand-written."""
    count = f"open({str(root.parent / 'baseline_runs')!r}, 'a').write('x')"
    return make_build(root, [
        {"id": "firewall", "kind": "firewall", "body": writer("reports/firewall.json", firewall_text),
         "outputs": {"report": "reports/firewall.json"}},
        {"id": "baseline", "kind": "baseline", "needs": ["firewall"], "inputs": {"report": "reports/firewall.json"},
         "body": writer("results/baseline.json", '{"suites": {"a": {"score": 0.5}}}', extra=count),
         "outputs": {"results": "results/baseline.json"}},
        {"id": "train", "needs": ["baseline"], "body": writer("artifacts/train/model.txt", "weights", extra=count),
         "outputs": {"model": "artifacts/train/model.txt"}},
    ])


def test_reuse_from_adopts_a_checked_baseline_and_records_where_it_came_from(tmp_path):
    """`specc run --reuse-from OTHER`: a baseline OTHER completed under the same fingerprint and inputs is
    copied, not re-run, and the manifest and log say where it came from; training stages always run; a
    tampered output or different inputs mean the stage runs here."""
    runs = tmp_path / "baseline_runs"
    a = _scored(tmp_path / "a")
    assert _run(a)[0].exit_code == ExitCode.OK and len(runs.read_text()) == 2
    b = _scored(tmp_path / "b")
    res, out = _run(b, reuse_from=[a])
    assert res.exit_code == ExitCode.OK and res.ran == ["firewall", "train"] and res.skipped == ["baseline"]
    assert len(runs.read_text()) == 3  # only b's training ran
    assert f"baseline: skipped (reused from {a.resolve()}: same fingerprint" in out
    rec = manifest(b)["stages"]["baseline"]
    assert rec["status"] == "completed" and rec["reused_from"] == str(a.resolve())
    assert rec["outputs"]["results"]["sha256"] == manifest(a)["stages"]["baseline"]["outputs"]["results"]["sha256"]
    assert "reused from" in (b / "logs" / "baseline.log").read_text()
    assert (b / "results" / "baseline.json").read_text() == (a / "results" / "baseline.json").read_text()
    # a rerun of b is up to date (nothing runs again); the adopted record is an ordinary completed stage
    assert _run(b, reuse_from=[a])[0].ran == []
    # different inputs (another firewall report): scored here
    c = _scored(tmp_path / "c", firewall_text='{"other": 1}')
    assert _run(c, reuse_from=[a])[0].ran == ["firewall", "baseline", "train"]
    # the same plan with another specc's baseline script (the fingerprint covers plan.json only): scored here
    e = _scored(tmp_path / "e")
    script = e / next(s for s in load_plan(e).stages if s.id == "baseline").script
    script.write_text(script.read_text() + "\n# emitted by another specc version\n")
    assert _run(e, reuse_from=[a])[0].ran == ["firewall", "baseline", "train"]
    # a tampered output in the other build: scored here
    (a / "results" / "baseline.json").write_text('{"suites": {"a": {"score": 0.9}}}')
    d = _scored(tmp_path / "d")
    assert _run(d, reuse_from=[a])[0].ran == ["firewall", "baseline", "train"]


def test_reuse_refuses_an_output_changed_between_its_check_and_its_copy(tmp_path, monkeypatch):
    """The output adopted is the one checked: another process rewrites the other build's baseline output just as
    it is copied (after a check of the source would have passed), so the copy's hash is not the recorded one
    and the stage is scored here; a later candidate whose output is intact is still adopted."""
    import shutil

    from specc.run import reuse

    a, good = _scored(tmp_path / "a"), _scored(tmp_path / "good")
    assert _run(a)[0].exit_code == ExitCode.OK and _run(good)[0].exit_code == ExitCode.OK
    source = (a / "results" / "baseline.json").resolve()
    copy2 = shutil.copy2

    def rewritten_while_copied(src, dst, *args, **kwargs):
        if Path(src).resolve() == source:
            source.write_text('{"suites": {"a": {"score": 0.9}}}')
        return copy2(src, dst, *args, **kwargs)

    monkeypatch.setattr(reuse.shutil, "copy2", rewritten_while_copied)
    d = _scored(tmp_path / "d")
    res, out = _run(d, reuse_from=[a])
    assert res.exit_code == ExitCode.OK and res.ran == ["firewall", "baseline", "train"]
    assert f"baseline: not reused from {a.resolve()}: its 'results' output changed while it was copied" in out
    rec = manifest(d)["stages"]["baseline"]
    assert "reused_from" not in rec and "0.9" not in (d / "results" / "baseline.json").read_text()
    e = _scored(tmp_path / "e")
    (a / "results" / "baseline.json").write_text("changed")  # a fails its check; good is next in line
    res, _ = _run(e, reuse_from=[a, good])
    assert res.ran == ["firewall", "train"] and manifest(e)["stages"]["baseline"]["reused_from"] == str(good.resolve())

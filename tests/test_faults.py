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
from pathlib import Path

import pytest

from specc.build.emitter import compile_plan
from specc.build.literals import LiteralError
from specc.plan.planner import plan_spec_file
from specc.run.runner import run_build

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

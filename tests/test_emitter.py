"""Compile: every emitted file parses, --help works without the training stack, builds are
deterministic and atomic, spec data stays inert, outputs stay inside the build."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from specc import emitter
from specc.emitter import CompileError, compile_plan
from specc.plan import Finding, Stage

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "trl", "peft", "bitsandbytes", "datasets", "wandb")

VARIANTS = {
    "sft-lora": dict(),
    "sft-full-prompt-completion": dict(method={"parameter_budget": "full"}, allow_full=True,
                                       data={"train": "train_pc.jsonl"}),
    "sft-qlora": dict(method={"parameter_budget": "qlora"}),
    "dpo": dict(name="tiny-dpo", method={"method": "dpo"}, data={"preference": "preference.jsonl"}),
}


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _help_without_stack(script: Path) -> subprocess.CompletedProcess:
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{str(script)!r}, '--help']\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def _check_build(build: Path) -> None:
    scripts = sorted((build / "stages").glob("*.py"))
    assert scripts
    for script in scripts:
        ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
        proc = _help_without_stack(script)
        assert proc.returncode == 0, (script.name, proc.stderr)
        assert "--max-steps" in proc.stdout and "--no-resume" in proc.stdout and "--output-dir" in proc.stdout
    subprocess.run(["bash", "-n", str(build / "run.sh")], check=True)
    doc = json.loads((build / "plan.json").read_text())
    assert set(doc) == {"format", "lock", "plan"}
    assert doc["lock"]["packages"]["trl"].startswith(">=")
    for launch in (build / "launch").glob("*.yaml") if (build / "launch").is_dir() else []:
        yaml.safe_load(launch.read_text())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_compile_to_valid_scripts(variant, write_spec, compile_spec):
    plan, build = compile_spec(write_spec(**VARIANTS[variant]))
    _check_build(build)
    names = [p.name for p in sorted((build / "stages").glob("*.py"))]
    assert names[0] == "01_firewall.py" and names[1] == "02_baseline.py" and names[-1].endswith("_eval.py")
    assert [s.script for s in plan.stages] == [f"stages/{n}" for n in names]


def _example_specs() -> list[Path]:
    return sorted((REPO / "specs").glob("*.yaml")) if (REPO / "specs").is_dir() else []


@pytest.mark.parametrize("spec", _example_specs(), ids=lambda p: p.name)
def test_example_specs_compile(spec, tmp_path):
    from specc.planner import plan_spec_file

    plan = plan_spec_file(spec)
    if not plan.ok:
        with pytest.raises(CompileError):
            compile_plan(plan, spec.parent, tmp_path / "build")
        return
    missing = [s.kind for s in plan.stages if not (emitter.templates_dir() / f"stages/{s.kind}.py.j2").is_file()]
    if missing:
        pytest.skip(f"templates not written yet for {missing}")
    compile_plan(plan, spec.parent, tmp_path / "build")
    if plan.stages:
        _check_build(tmp_path / "build")


PAYLOAD = "x'\"\n{{ 7*7 }}{% if 1 %}\"\"\"__import__('os').system('touch pwned')$(touch pwned)`touch pwned`;|&"
NAME_PAYLOAD = PAYLOAD.replace("\n", " ")  # tracking names may not hold control characters (spec rule)


def _shape(tree: ast.AST) -> str:
    """The AST with every constant blanked: what the code *does*, independent of the values."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            node.value = None
    return ast.dump(tree)


def test_hostile_spec_strings_stay_inert(write_spec, compile_spec, tmp_path, monkeypatch):
    tracking = "tracking: {backend: wandb, mode: offline, project: %s, entity: %s}\n" % (
        json.dumps("proj" + NAME_PAYLOAD), json.dumps("team" + NAME_PAYLOAD))
    hostile = write_spec(description=PAYLOAD, summary=PAYLOAD, extra=tracking)
    proj = hostile.parent
    weird = "we'ird $(touch pwned) \"x\".jsonl"
    (proj / "data" / weird).write_bytes((proj / "data" / "train.jsonl").read_bytes())
    text = hostile.read_text().replace("path: data/train.jsonl", f"path: {json.dumps('data/' + weird)}")
    hostile.write_text(text)
    plan, build = compile_spec(hostile)
    assert PAYLOAD in plan.summary

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_spec = clean_dir / "spec.yaml"
    shutil.copytree(proj / "data", clean_dir / "data")
    os.symlink(os.readlink(proj / "model"), clean_dir / "model")
    clean_spec.write_text(text.replace(json.dumps("data/" + weird), "data/train.jsonl")
                          .replace(json.dumps("proj" + NAME_PAYLOAD), "proj").replace(json.dumps("team" + NAME_PAYLOAD), "team")
                          .replace(json.dumps(PAYLOAD), "plain"))
    _, clean_build = compile_spec(clean_spec)

    for script in sorted((build / "stages").glob("*.py")):
        source = script.read_text()
        tree = ast.parse(source)
        assert _shape(tree) == _shape(ast.parse((clean_build / "stages" / script.name).read_text())), script.name
        calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert not any("__import__" in c or "system" in c for c in calls)
    run_sh = (build / "run.sh").read_text()
    assert "7*7" in run_sh  # present, but only inside quotes
    env = {**os.environ, "PATH": "/nonexistent"}  # no python: nothing may run but the exports
    proc = subprocess.run(["/bin/bash", str(build / "run.sh"), "no-such-stage"], capture_output=True, text=True,
                          env={k: v for k, v in env.items() if k != "SPECC_WANDB_MODE" and k != "WANDB_PROJECT"},
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not list(tmp_path.rglob("pwned")) and not list(proj.rglob("pwned"))
    printed = subprocess.run(["/bin/bash", "-c", f"source {build / 'run.sh'} no-such-stage; printf %s \"$WANDB_PROJECT\""],
                             capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert printed.stdout.endswith("proj" + NAME_PAYLOAD)


def test_compiling_twice_is_byte_identical(write_spec, compile_spec, tmp_path):
    spec = write_spec()
    plan, build = compile_spec(spec)
    first = _tree(build)
    compile_spec(spec)
    assert _tree(build) == first
    # and so is a build of a copy of the project elsewhere (no absolute paths anywhere)
    copy = tmp_path / "elsewhere" / "proj"
    shutil.copytree(spec.parent, copy, symlinks=True, ignore=shutil.ignore_patterns("build"))
    _, other = compile_spec(copy / "spec.yaml")
    assert _tree(other) == first
    assert str(tmp_path) not in "".join(t.decode() for t, _ in first.values())


def test_failed_compile_leaves_previous_build(write_spec, compile_spec, monkeypatch):
    spec = write_spec()
    plan, build = compile_spec(spec)
    (build / "artifacts").mkdir()
    (build / "artifacts" / "keep.txt").write_text("trained")
    before = _tree(build)
    calls = {"n": 0}
    real_chmod = os.chmod

    def failing_chmod(path, mode, *a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full (injected)")
        return real_chmod(path, mode, *a, **k)

    monkeypatch.setattr(emitter.os, "chmod", failing_chmod)
    changed = plan.model_copy(update={"summary": "changed"})
    with pytest.raises(OSError, match="injected"):
        compile_plan(changed, spec.parent, build)
    monkeypatch.undo()
    assert _tree(build) == before
    assert not [p for p in build.parent.iterdir() if p.name.startswith(".")]
    compile_plan(changed, spec.parent, build)  # a good compile keeps run state
    assert (build / "artifacts" / "keep.txt").read_text() == "trained"
    assert "changed" in (build / "plan.json").read_text()


def test_plans_with_error_findings_are_refused(write_spec, compile_spec, tmp_path):
    plan, _ = compile_spec(write_spec())
    bad = plan.model_copy(update={"findings": [Finding(level="error", rule="X-TEST", message="broken")]})
    with pytest.raises(CompileError, match="X-TEST"):
        compile_plan(bad, tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("output", ["../escape", "/abs/path", "plan.json", "stages/x.py", "a/../../b", ""])
def test_stage_outputs_must_stay_inside_the_build(output, write_spec, compile_spec, tmp_path):
    plan, _ = compile_spec(write_spec())
    evil = Stage(id="evil", kind="merge", title="t", script="stages/99_evil.py", outputs={"model": output})
    with pytest.raises(CompileError):
        compile_plan(plan.model_copy(update={"stages": [*plan.stages, evil]}), tmp_path, tmp_path / "out")


def test_runtime_refuses_paths_outside_the_build(tmp_path, monkeypatch):
    from specc.runtime.common import ConfinementError, build_path

    monkeypatch.chdir(tmp_path)
    assert build_path("artifacts/x") == tmp_path / "artifacts" / "x"
    for bad in ("../x", "/etc/passwd", "a/../../x"):
        with pytest.raises(ConfinementError):
            build_path(bad)


def test_light_modules_do_not_import_the_stack(write_spec, tmp_path):
    spec = write_spec()
    code = (
        "import sys\n"
        "from specc import emitter, stages, lockfile, literals, launch, cli_build\n"
        "from specc.planner import plan_spec_file\n"
        f"emitter.compile_plan(plan_spec_file({str(spec)!r}), {str(spec.parent)!r}, {str(tmp_path / 'b')!r})\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("hardware, strategy, dtype", [
    ("{gpus: 2, gpu_memory_gb: 24}", "ddp", "MULTI_GPU"),
    ("{gpus: 4, gpu_memory_gb: 24, strategy: fsdp}", "fsdp", "FSDP"),
    ("{gpus: 2, gpu_memory_gb: 24, strategy: zero3}", "zero3", "DEEPSPEED"),
    ("{gpus: 8, nodes: 2, rendezvous: {host: 10.0.0.1, port: 29501}}", "ddp", "MULTI_GPU"),
])
def test_launch_configs(hardware, strategy, dtype, write_spec, compile_spec):
    plan, build = compile_spec(write_spec(hardware=hardware))
    cfg = yaml.safe_load((build / "launch" / f"{strategy}.yaml").read_text())
    assert cfg["distributed_type"] == dtype
    assert cfg["num_processes"] == plan.launch.num_processes and cfg["num_machines"] == plan.launch.num_machines
    train = next(s for s in plan.stages if s.kind == "sft")
    assert train.launcher == "accelerate" and plan.stage("eval").launcher == "python"
    run_sh = (build / "run.sh").read_text()
    assert f"accelerate launch --config_file launch/{strategy}.yaml {train.script}" in run_sh.replace(
        ' --machine_rank "${SPECC_MACHINE_RANK:-0}"', "")
    if plan.launch.num_machines > 1:
        assert cfg["main_process_ip"] == "10.0.0.1" and cfg["main_process_port"] == 29501
        assert '--machine_rank "${SPECC_MACHINE_RANK:-0}"' in run_sh
    if strategy == "zero3":
        assert cfg["deepspeed_config"]["zero_stage"] == 3


def test_cli_compile(write_spec, tmp_path):
    spec = write_spec()
    out = tmp_path / "cli-build"
    proc = subprocess.run([sys.executable, "-m", "specc", "compile", str(spec), "-o", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (out / "run.sh").is_file() and (out / "PLAN.md").is_file()

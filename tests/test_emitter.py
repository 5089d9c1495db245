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

from specc.build import emitter
from specc.build.emitter import CompileError, compile_plan
from specc.plan.model import Finding, Stage

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
        from specc.plan.stages import TRAINING_KINDS

        trains = any(f"_{kind}.py" in script.name for kind in (*TRAINING_KINDS, "generate"))
        # flags only where they apply: a step cap and a fresh start for stages that train or generate
        assert ("--max-steps" in proc.stdout) == trains and ("--no-resume" in proc.stdout) == trains, script.name
        assert ("--output-dir" in proc.stdout) == (not script.name.endswith("_firewall.py")), script.name
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
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(spec)
    if not plan.ok:
        with pytest.raises(CompileError):
            compile_plan(plan, spec.parent, tmp_path / "build")
        return
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
    with pytest.raises(CompileError, match="injected"):
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
        "from specc.build import emitter, lock, literals, launch\n"
        "from specc.plan import stages\n"
        "from specc.cli import build\n"
        "from specc.plan.planner import plan_spec_file\n"
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
    assert f'"${{ACCELERATE:-accelerate}}" launch --config_file launch/{strategy}.yaml {train.script}' in run_sh.replace(
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


# ------------------------------------------------------------------ stage configs are complete and resolved

TEACHER = "teacher: {path: model, licence: apache-2.0}\ntracking: {backend: wandb, mode: disabled}\n"
GRAPHS = {
    "sft": dict(),
    "sft-dpo": dict(name="tiny-sft-dpo", method={"method": "dpo"},
                    data={"train": "train.jsonl", "preference": "preference.jsonl"}),
    "rlhf": dict(name="tiny-rlhf", method={"method": "rlhf"},
                 data={"train": "train.jsonl", "preference": "preference.jsonl", "prompts": "prompts.jsonl"}),
    "distill-sequence": dict(name="tiny-seq", method={"method": "distill", "distillation": "sequence"},
                             data={"prompts": "prompts.jsonl"}, extra=TEACHER),
    "distill-logit": dict(name="tiny-logit", method={"method": "distill", "distillation": "logit"},
                          data={"prompts": "prompts.jsonl"}, extra=TEACHER),
}


def _config_literal(source: str) -> dict:
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "CONFIG")
    return ast.literal_eval(node.value)


def _config_reads(source: str) -> set[tuple[str, ...]]:
    """Every ``CONFIG["a"]["b"]…`` a script reads (``.get`` lookups are optional by design)."""
    reads = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Subscript) or not isinstance(node.ctx, ast.Load):
            continue
        keys, cur = [], node
        while isinstance(cur, ast.Subscript) and isinstance(cur.slice, ast.Constant):
            keys.append(cur.slice.value)
            cur = cur.value
        if isinstance(cur, ast.Name) and cur.id == "CONFIG" and keys:
            reads.add(tuple(reversed(keys)))
    return reads


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_every_config_key_a_script_reads_is_in_its_config(graph, write_spec, compile_spec):
    plan, build = compile_spec(write_spec(**GRAPHS[graph]))
    for stage in plan.stages:
        source = (build / stage.script).read_text()
        config = _config_literal(source)
        for path in _config_reads(source):
            value = config
            for depth, key in enumerate(path):
                if value is None:  # an optional section; the script checks it before reading inside
                    break
                assert key in value, f"{stage.script} reads CONFIG{''.join(f'[{k!r}]' for k in path[:depth + 1])}"
                value = value[key]


def test_generate_stage_uses_the_contract_answer_length_and_the_seed(write_spec, compile_spec):
    plan, _ = compile_spec(write_spec(**{**GRAPHS["distill-sequence"],
                                         "method": {"method": "distill", "distillation": "sequence", "seed": 7}}))
    generate = plan.stage("generate").config
    assert generate["max_new_tokens"] == plan.contract.max_new_tokens == 12  # conftest's eval.max_new_tokens
    assert generate["seed"] == 7 == plan.hyperparameters["seed"]
    student = plan.stage("sft").config["train"]
    assert student["packing"] is False and student["assistant_only_loss"] is False


def test_generation_length_fits_the_training_sequence(write_spec):
    from specc.plan.planner import plan_spec_file

    spec = write_spec(**GRAPHS["distill-sequence"])
    spec.write_text(spec.read_text().replace("max_new_tokens: 12", "max_new_tokens: 500"))
    plan = plan_spec_file(spec)
    assert plan.stage("generate").config["max_new_tokens"] == 32  # half of max_seq_length 64


def test_adapter_chains_reach_the_merge_stage(write_spec, compile_spec):
    plan, _ = compile_spec(write_spec(**GRAPHS["sft-dpo"]))
    assert [s.id for s in plan.stages] == ["firewall", "baseline", "sft", "dpo", "merge", "eval"]
    assert plan.stage("dpo").config["init"] == {"adapter": "artifacts/sft/adapter"}
    merge = plan.stage("merge")
    assert merge.config["init"] == {"adapter": "artifacts/dpo/adapter", "base_adapters": ["artifacts/sft/adapter"]}
    assert merge.inputs == {"adapter": "artifacts/dpo/adapter", "base_adapter_1": "artifacts/sft/adapter"}
    # online RL continues the SFT adapter: its adapter alone already holds the SFT training
    rlhf, _ = compile_spec(write_spec(**GRAPHS["rlhf"]))
    assert rlhf.stage("rl").config["init"] == {"adapter": "artifacts/sft/adapter"}
    assert rlhf.stage("merge").config["init"] == {"adapter": "artifacts/rl/adapter"}


def test_save_steps_follow_the_plan(write_spec, compile_spec):
    from specc.plan.stages import build_stages

    plan, _ = compile_spec(write_spec())  # max_steps 2
    assert plan.stage("sft").config["train"]["save_steps"] == 1
    spec = write_spec(method={"max_steps": None, "epochs": 5})
    spec.write_text(spec.read_text().replace("  max_steps: null\n", ""))
    plan, _ = compile_spec(spec)
    rows = next(d.rows for d in plan.data if d.role == "train")
    steps = -(-rows * 5 // 4)  # micro batch 4, accumulation 1, one device
    train = plan.stage("sft").config["train"]
    assert train["max_steps"] == -1 and train["save_steps"] == max(1, steps // 10) and train["save_total_limit"] == 2
    pinned = plan.model_copy(update={"hyperparameters": {**plan.hyperparameters, "save_steps": 7}})
    stages = build_stages(pinned)
    assert next(s for s in stages if s.id == "sft").config["train"]["save_steps"] == 7


def test_defaults_have_one_source(write_spec, monkeypatch):
    from specc.plan import defaults, hyperparameters, stages
    from specc.plan.planner import plan_spec_file

    assert hyperparameters.DEFAULT_HYPERPARAMETERS is defaults.DEFAULT_HYPERPARAMETERS
    assert not hasattr(stages, "DEFAULTS") and not hasattr(stages, "DEFAULT_HYPERPARAMETERS")
    monkeypatch.setitem(defaults.DEFAULT_HYPERPARAMETERS, "save_total_limit", 5)
    monkeypatch.setitem(defaults.DEFAULT_HYPERPARAMETERS, "logging_steps", 3)
    plan = plan_spec_file(write_spec())
    assert plan.hyperparameters["save_total_limit"] == 5
    train = plan.stage("sft").config["train"]
    assert (train["save_total_limit"], train["logging_steps"]) == (5, 3)


def test_jinja_environment_is_built_once():
    assert emitter._environment() is emitter._environment()


def test_config_literal_is_laid_out_for_review(write_spec, compile_spec):
    plan, build = compile_spec(write_spec())
    source = (build / plan.stage("sft").script).read_text()
    start = source.index("CONFIG = {\n")
    block = source[start:source.index("\n}\n", start) + 2]
    top = [line.split("'")[1] for line in block.splitlines()[1:-1] if line.startswith("    '")]
    assert top == sorted(plan.stage("sft").config.keys() | {"stage", "kind", "title", "inputs", "outputs", "tracking"})
    assert all(len(line) <= 100 for line in block.splitlines())
    assert _config_literal(source)["train"] == plan.stage("sft").config["train"]


def test_run_sh_programs_come_from_the_environment(write_spec, compile_spec, tmp_path):
    plan, build = compile_spec(write_spec())
    run_sh = (build / "run.sh").read_text()
    assert "PYTHON (default python3)" in run_sh and '"${PYTHON:-python3}" stages/01_firewall.py' in run_sh
    fake = tmp_path / "fake python"
    fake.write_text('#!/bin/sh\necho "ran $*" >> "$(dirname "$0")/calls.txt"\n')
    fake.chmod(0o755)
    proc = subprocess.run(["/bin/bash", str(build / "run.sh"), "firewall", "eval"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "calls.txt").read_text().splitlines() == ["ran stages/01_firewall.py", "ran stages/05_eval.py"]


def test_a_killed_compile_leaves_nothing_behind_for_long(write_spec, compile_spec, tmp_path):
    spec = write_spec()
    plan, build = compile_spec(spec)
    (build / "artifacts").mkdir()
    (build / "artifacts" / "keep.txt").write_text("trained")
    # a compile killed (SIGKILL) in the middle of its swap: run state already carried into its staging dir
    code = (
        "import os, signal, sys\n"
        "from specc.build import emitter\n"
        "from specc.plan.planner import plan_spec_file\n"
        "real = os.rename\n"
        "def rename(a, b):\n"
        "    real(a, b)\n"
        "    if str(b).endswith('artifacts'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "emitter.os.rename = rename\n"
        f"emitter.compile_plan(plan_spec_file({str(spec)!r}), {str(spec.parent)!r}, {str(build)!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    leftovers = [p for p in build.parent.iterdir() if p.name.startswith(f".{build.name}.compiling-")]
    assert len(leftovers) == 1 and (leftovers[0] / "artifacts" / "keep.txt").is_file()
    assert not (build / "artifacts").exists()
    # a live compile's staging dir (this process) and another build's are left alone
    alive = build.parent / f".{build.name}.compiling-{os.getpid()}-live"
    other = build.parent / f".other.compiling-999999999-x"
    alive.mkdir()
    other.mkdir()
    compile_spec(spec)
    assert not leftovers[0].exists()
    assert (build / "artifacts" / "keep.txt").read_text() == "trained"
    assert alive.is_dir() and other.is_dir()
    # one past the age limit goes whatever its pid says
    old = 10 * emitter.STALE_AFTER_S
    os.utime(alive, (os.path.getmtime(alive) - old, os.path.getmtime(alive) - old))
    compile_spec(spec)
    assert not alive.exists() and other.is_dir()


def test_intermediate_checkpoints_are_paced_by_wall_time(write_spec, compile_spec):
    """save_steps alone would checkpoint ten times on a short run; the plan also carries a minimum
    interval between intermediate checkpoints (the final step always saves), and a plan may change it."""
    from specc.plan.defaults import CHECKPOINT_MIN_INTERVAL_S
    from specc.plan.stages import build_stages

    spec = write_spec()
    plan, build = compile_spec(spec)
    assert plan.stage("sft").config["checkpoint_min_interval_s"] == CHECKPOINT_MIN_INTERVAL_S
    assert "checkpoint_min_interval_s" not in plan.stage("sft").config["train"]  # not a trainer argument
    text = (build / plan.stage("sft").script).read_text()
    assert "common.stage_callbacks(CONFIG)" in text
    pinned = plan.model_copy(update={"hyperparameters": {**plan.hyperparameters, "checkpoint_min_interval_s": 0}})
    stages = build_stages(pinned)
    assert next(s for s in stages if s.id == "sft").config["checkpoint_min_interval_s"] == 0


@pytest.mark.parametrize("variant", ["sft-lora", "dpo"])
def test_a_build_recompiles_from_its_plan_json_with_the_spec_deleted(variant, write_spec, tmp_path):
    """The Plan is the single source of truth: plan.json alone reproduces every compiled file, byte for byte."""
    from click.testing import CliRunner

    from specc.cli import main

    spec = write_spec(**VARIANTS[variant])
    first = spec.parent / "build" / "first"
    result = CliRunner().invoke(main, ["compile", str(spec), "-o", str(first)])
    assert result.exit_code == 0, result.output
    before = _tree(first)
    spec.unlink()
    # recompile in place (the default for a build's plan.json), then into a sibling build
    for args, out in (([str(first / "plan.json")], first),
                      ([str(first / "plan.json"), "-o", str(spec.parent / "build" / "again")],
                       spec.parent / "build" / "again")):
        result = CliRunner().invoke(main, ["compile", *args])
        assert result.exit_code == 0, result.output
        assert _tree(out) == before, out


def test_a_bare_plan_from_specc_plan_compiles_like_its_spec(write_spec):
    from click.testing import CliRunner

    from specc.cli import main

    spec = write_spec()
    runner = CliRunner()
    plan_json = spec.parent / "reviewed-plan.json"
    result = runner.invoke(main, ["plan", str(spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    plan_json.write_text(result.output, encoding="utf-8")
    assert runner.invoke(main, ["compile", str(spec), "-o", str(spec.parent / "from-spec")]).exit_code == 0
    spec.unlink()
    result = runner.invoke(main, ["compile", str(plan_json), "-o", str(spec.parent / "from-plan")])
    assert result.exit_code == 0, result.output
    assert _tree(spec.parent / "from-plan") == _tree(spec.parent / "from-spec")


def test_a_truncated_plan_json_is_refused_with_a_reason(write_spec):
    from click.testing import CliRunner

    from specc.cli import main

    spec = write_spec()
    build = spec.parent / "build" / "b"
    assert CliRunner().invoke(main, ["compile", str(spec), "-o", str(build)]).exit_code == 0
    text = (build / "plan.json").read_text()
    (build / "plan.json").write_text(text[: len(text) // 2])
    result = CliRunner().invoke(main, ["compile", str(build / "plan.json")])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output and "Traceback" not in result.output


def test_no_module_reads_a_spec_after_planning():
    """Stage building, compiling, running and the runtime import nothing of the spec language."""
    code = (
        "import sys\n"
        "import specc.plan.stages, specc.build.emitter, specc.build.reader, specc.build.launch, specc.build.lock\n"
        "import specc.run.runner, specc.run.status, specc.runtime.guard\n"
        "assert 'specc.spec.language' not in sys.modules, sorted(m for m in sys.modules if m.startswith('specc'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_default_build_dir_is_the_same_for_compile_and_run(write_spec):
    from specc.build.compile import compile_spec_file, default_build_dir
    from specc.run.runner import compile_spec

    spec = write_spec()
    assert compile_spec(spec, None) == compile_spec_file(spec).out == default_build_dir(spec.parent, "tiny-sft")


def test_launch_config_follows_the_planned_strategy(write_spec, compile_spec):
    """A multi-device plan launches with the strategy the planner traced (never a launcher-side guess)."""
    plan, build = compile_spec(write_spec(hardware="{gpus: 0, cpu_memory_gb: 16, nodes: 2, rendezvous: {host: 10.0.0.1}}"))
    assert plan.launch.strategy == "ddp" and plan.launch.launcher == "accelerate"
    assert [d.rule for d in plan.decisions if d.topic == "launch"] == ["LAUNCH-DDP-REPLICATED"]
    assert (build / "launch" / "ddp.yaml").is_file()


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_train_sections_use_the_trainer_configs_own_argument_names(graph, write_spec, compile_spec):
    """CONFIG["train"] goes to the TRL config of its stage as it stands: every key is an argument of that
    config, so nothing hides under an invented name (and a renamed TRL argument fails here, not on a GPU)."""
    import dataclasses

    trl = pytest.importorskip("trl")
    configs = {"sft": [trl.SFTConfig], "dpo": [trl.DPOConfig], "reward": [trl.RewardConfig],
               "rl": [trl.RLOOConfig, trl.GRPOConfig], "distill_logit": [trl.DistillationConfig]}
    plan, _ = compile_spec(write_spec(**GRAPHS[graph]))
    checked = 0
    for stage in plan.stages:
        for config in configs.get(stage.kind, []):
            names = {f.name for f in dataclasses.fields(config)}
            unknown = sorted(set(stage.config["train"]) - names)
            assert unknown == [], (stage.id, config.__name__, unknown)
            checked += 1
        if stage.config.get("quantization"):
            from transformers import BitsAndBytesConfig
            import inspect

            params = inspect.signature(BitsAndBytesConfig.__init__).parameters
            assert set(stage.config["quantization"]) <= set(params), stage.config["quantization"]
    assert checked >= 1

"""`pip install specc` without the `train` extra gives working light commands, templates included.

Builds a real wheel and installs it (not editable) into a fresh virtual environment, so this catches
templates missing from the package and accidental imports of the training stack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_without_train_extra_validates_plans_and_compiles(tmp_path: Path):
    # A clean environment: a PYTHONPATH pointing at a source tree would make pip think specc is installed.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO),
                    "-w", str(wheels)], check=True, cwd=tmp_path, env=env)
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    wheel = next(wheels.glob("specc-*.whl"))
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, cwd=tmp_path, env=env)
    specc = [str(env_dir / "bin" / "specc")]
    # The training stack is not there at all.
    probe = subprocess.run([str(py), "-c", "import importlib.util as u; print([m for m in "
                            "('torch','transformers','trl','peft','datasets','wandb') if u.find_spec(m)])"],
                           capture_output=True, text=True, env=env, check=True)
    assert probe.stdout.strip() == "[]"
    # The demo's tiny base model ships inside the wheel (package data), in the installed package.
    shipped = subprocess.run([str(py), "-c", "import specc.demo.tinymodel as t; print(t.SHIPPED_DIR, "
                              "[n for n in t.SHIPPED_FILES if not (t.SHIPPED_DIR / n).is_file()])"],
                             capture_output=True, text=True, env=env, check=True, cwd=tmp_path)
    where, missing = shipped.stdout.strip().split(" ", 1)
    assert str(env_dir) in where and missing == "[]", shipped.stdout
    specs = tmp_path / "specs"
    shutil.copytree(REPO / "specs", specs, ignore=shutil.ignore_patterns("models"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(specc + list(args), capture_output=True, text=True, env=env, cwd=tmp_path)

    assert run("--version").returncode == 0
    assert run("validate", str(specs)).returncode == 0
    assert '"$schema"' in run("schema").stdout
    assert run("init", str(tmp_path / "new.yaml")).returncode == 0
    assert run("validate", str(tmp_path / "new.yaml")).returncode == 0
    plan = run("plan", str(specs / "qlora-8b.yaml"))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    built = run("compile", str(specs / "qlora-8b.yaml"), "-o", str(tmp_path / "build"))
    assert built.returncode == 0, built.stdout + built.stderr
    assert (tmp_path / "build" / "run.sh").is_file()
    assert any((tmp_path / "build" / "stages").glob("*_sft.py"))
    assert run("check", str(specs / "sft-lora-tiny.yaml")).returncode == 0

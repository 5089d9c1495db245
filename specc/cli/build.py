"""``specc compile``: spec (or a reviewed plan.json) → build directory of runnable scripts.

Why a separate module with ``register``: the top-level CLI stays a thin switchboard, and this command imports the
planner and the emitter only when it runs (``specc --help`` stays fast). Compiling never imports the training stack.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from specc.exit_codes import ExitCode

__all__ = ["register"]


@click.command("compile")
@click.argument("target", metavar="SPEC_OR_PLAN", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), default=None,
              help="Build directory. Default: build/<name> next to the spec (for a build's plan.json: that build).")
@click.option("--strict", is_flag=True, help="Refuse plans with warning findings too.")
@click.option("--spec-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="For a bare plan JSON: the directory its data paths are relative to (default: the JSON's).")
def compile_command(target: Path, out: Path | None, strict: bool, spec_dir: Path | None) -> None:
    """Compile SPEC_OR_PLAN into a build directory (PLAN.md, plan.json, scripts, launch configs, run.sh).

    SPEC_OR_PLAN is a spec (YAML), or a plan JSON: a build's plan.json or `specc plan --format json` output,
    compiled exactly as reviewed, without the spec. Refuses plans with error findings (exit 1). The build is
    written atomically: a failed compile leaves the previous build as it was, and files of earlier runs
    (artifacts/, results/ ...) are kept.
    """
    from specc.build.compile import CompileRefused, compile_plan_file, compile_spec_file, is_plan_file

    try:
        if is_plan_file(target):
            done = compile_plan_file(target, out, spec_dir=spec_dir)
        else:
            done = compile_spec_file(target, out, strict=strict,
                                     warn=lambda level, text: click.echo(f"{level}: {text}", err=True))
    except CompileRefused as exc:
        click.echo(exc.message, err=True)
        sys.exit(exc.exit_code)
    click.echo(f"compiled {done.plan.name} → {done.out} ({len(done.files)} files, {len(done.plan.stages)} stages)")
    if done.plan.stages:
        click.echo(f"run it: {done.out / 'run.sh'}  (or: specc run {done.out})")
    sys.exit(ExitCode.OK)


def register(group: click.Group) -> None:
    group.add_command(compile_command)

"""``specc compile``: spec → plan → build directory of runnable scripts.

Why a separate module with ``register``: the top-level CLI stays a thin switchboard, and this command
imports the planner and the emitter only when it runs (``specc --help`` stays fast). Compiling never
imports the training stack.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["register"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


@click.command("compile")
@click.argument("spec_path", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", type=click.Path(path_type=Path), default=None,
              help="Build directory. Default: build/<name> next to the spec.")
@click.option("--strict", is_flag=True, help="Refuse plans with warning findings too.")
def compile_command(spec_path: Path, out: Path | None, strict: bool) -> None:
    """Compile SPEC_PATH into a build directory (PLAN.md, plan.json, scripts, launch configs, run.sh).

    Refuses plans with error findings (exit 1). The build is written atomically: a failed compile leaves
    the previous build as it was, and files of earlier runs (artifacts/, results/ ...) are kept.
    """
    from specc.build.emitter import CompileError, compile_plan
    from specc.spec.errors import SpecInvalid
    from specc.spec.loader import load_spec
    from specc.plan.planner import make_plan

    try:
        loaded = load_spec(spec_path)
    except SpecInvalid as exc:
        click.echo(str(exc), err=True)
        unreadable = any(e.code == "io" for e in exc.errors)  # non-UTF-8 is invalid (1), as in validate
        sys.exit(EXIT_USAGE if unreadable else EXIT_INVALID)
    plan = make_plan(loaded.spec, loaded.base_dir, loaded.path.name, loaded.sha256)
    for finding in plan.findings:
        if finding.level in ("error", "warning"):
            click.echo(f"{finding.level}: {finding.rule}: {finding.message}", err=True)
    if strict and any(f.level == "warning" for f in plan.findings):
        click.echo("not compiled: --strict and the plan has warnings", err=True)
        sys.exit(EXIT_INVALID)
    target = out if out is not None else loaded.base_dir / "build" / plan.name
    try:
        files = compile_plan(plan, loaded.base_dir, target)
    except CompileError as exc:
        click.echo(f"not compiled: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"compiled {plan.name} → {target} ({len(files)} files, {len(plan.stages)} stages)")
    if plan.stages:
        click.echo(f"run it: {target / 'run.sh'}  (or: specc run {target})")
    sys.exit(EXIT_OK)


def register(group: click.Group) -> None:
    group.add_command(compile_command)

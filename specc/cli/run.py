"""``specc run`` and ``specc status``: the commands that execute a build and report on it.

Registered into the main click group by :func:`register` (see specc.cli.main). The runner is imported inside
the command functions so ``specc --help`` stays as light as the other commands.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from specc.exit_codes import ExitCode


@click.command("run")
@click.argument("target", type=click.Path(exists=True, path_type=Path))
@click.option("--from", "from_stage", metavar="STAGE", help="Rerun from this stage on (earlier ones must be done).")
@click.option("--only", metavar="STAGE", help="Run just this stage (its needs must be done).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Build directory when TARGET is a spec (default build/<name>).")
@click.option("--reuse-from", "reuse_from", multiple=True, metavar="BUILD",
              type=click.Path(file_okay=False, path_type=Path),
              help="Adopt the baseline another build completed with the same fingerprint and inputs instead of "
                   "re-scoring (checked, and recorded in the manifest). Repeatable.")
@click.option("--warm", is_flag=True,
              help="Fork each single-process (python) stage from one process that imported torch and "
                   "transformers once, instead of a fresh Python per stage: saves ~3-5 s of CPU per stage, which "
                   "matters when stages are short (small models, the demo). Falls back to fresh processes, "
                   "saying so, where a fork would not be safe.")
@click.option("--warm-server", "warm_server", metavar="SOCKET", default=None,
              help="Like --warm, forking from a launcher another process started and shares between runs "
                   "(the demo starts one for its nine runs).")
def run_cmd(target: Path, from_stage: str | None, only: str | None, output: Path | None,
            reuse_from: tuple[Path, ...], warm: bool, warm_server: str | None) -> None:
    """Run a build (or compile SPEC first): firewall, baseline, training, eval - resumable.

    Completed stages whose script and inputs are unchanged are skipped; an interrupted stage is rerun
    and resumes from its checkpoint. Exit 0 passed, 1 a stage failed, 2 usage, 3 a gate refused.
    """
    from specc.run.runner import RunError, UsageError, compile_spec, run_build

    try:
        if target.is_dir():
            if output is not None:
                raise UsageError("-o/--output is for compiling a spec; TARGET is already a build directory")
            build = target
        else:
            build = compile_spec(target, output)
            click.echo(f"compiled {target} -> {build}")
        result = run_build(build, from_stage=from_stage, only=only, reuse_from=reuse_from, warm=warm,
                           warm_server=warm_server)
    except RunError as exc:
        click.echo(f"specc run: {exc}", err=True)
        sys.exit(exc.exit_code)
    if result.exit_code == ExitCode.OK:
        done = f"{len(result.ran)} ran, {len(result.skipped)} skipped"
        click.echo(f"specc run: all stages passed ({done}); `specc status {build}` for results")
    else:
        what = {ExitCode.REFUSED: "refused by a gate", ExitCode.NEEDS_USER: "needs you (e.g. a token)"}.get(
            result.exit_code, "failed")
        click.echo(f"specc run: stage {result.failed} {what}; see {build}/logs/{result.failed}.log", err=True)
    sys.exit(result.exit_code)


@click.command("status")
@click.argument("build_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
def status_cmd(build_dir: Path, fmt: str) -> None:
    """Where a build stands: each stage's status and timing, and the results against the contract."""
    from specc.run.status import collect, render

    if not (build_dir / "plan.json").is_file():
        raise click.UsageError(f"{build_dir}: not a specc build directory (no plan.json)")
    info = collect(build_dir)
    click.echo(render(build_dir, fmt, info), nl=False)
    if info["state"] == "damaged":  # the stages cannot be known: not a success
        click.echo(f"specc status: {build_dir}/plan.json is damaged; recompile the build", err=True)
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(run_cmd)
    group.add_command(status_cmd)

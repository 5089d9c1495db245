"""`specc report BUILD [BUILD ...]`: charts and verdicts of finished builds, as one HTML page.

matplotlib is imported only inside the command (it is in the ``train`` extra), so every other command
stays light.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command("report")
@click.argument("builds", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory (default: BUILD/reports/report for one build, else report/ beside the builds).")
def report_cmd(builds: tuple[Path, ...], out_dir: Path | None) -> None:
    """Write a self-contained HTML report (and a PNG per chart) of one or more builds.

    Builds compiled from the same spec name (e.g. several seeds) are averaged into one arm; several arms
    are laid side by side.
    """
    missing = [str(b) for b in builds if not (b / "plan.json").is_file()]
    if missing:
        click.echo(f"error: not a build directory (no plan.json): {', '.join(missing)}", err=True)
        sys.exit(1)
    try:
        from specc.run.htmlreport import write_report
    except ImportError as exc:  # matplotlib lives in the train extra
        click.echo(f"error: specc report needs matplotlib ({exc.name} is missing): pip install 'specc[train]'",
                   err=True)
        sys.exit(1)
    if out_dir is None:
        if len(builds) == 1:
            out_dir = builds[0] / "reports" / "report"
        else:
            out_dir = Path(os.path.commonpath([str(b.resolve()) for b in builds])) / "report"
    path = write_report(list(builds), out_dir)
    click.echo(f"report: {path}")
    click.echo(f"charts: {', '.join(sorted(p.name for p in path.parent.glob('*.png')))}")


def register(group: click.Group) -> None:
    group.add_command(report_cmd)

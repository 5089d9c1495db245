"""``specc check SPEC``: the golden-set firewall, standalone (for CI on every pull request).

A light command: it imports the standard library, click, pydantic, PyYAML and specc's own light modules
(loader, data validation, firewall), never the training stack.

Exit codes follow :mod:`specc.cli.main`:

* 0 — the firewall passed (or the spec has no golden set: nothing to firewall; the output says so);
* 1 — the spec is invalid (located errors), or a data file is bad (missing, empty, not UTF-8, malformed
  JSON, a row missing a column of its format, a general-suite row its kind cannot score): the message names
  ``file:line``;
* 2 — usage error (unknown option, missing argument, threshold out of range, spec file unreadable);
* 3 — the firewall found golden rows in the training data above the threshold, or training rows hold personal
  data and `data.personal_data.action` is error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from specc.exit_codes import ExitCode

__all__ = ["check_command", "register"]



@click.command("check")
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people; json for tools; github for pull-request annotations on the data files.",
)
@click.option(
    "--near-duplicates/--no-near-duplicates",
    "near_duplicates",
    default=None,
    help="Also look for near-duplicates (MinHash + Jaccard). Default: eval.firewall.near_duplicates.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=None,
    metavar="F",
    help="Largest allowed fraction of contaminated golden rows, at least 0 and below 1 (1 would pass even "
    "training data equal to the golden set). Default: eval.firewall.threshold.",
)
def check_command(spec_path: Path, fmt: str, near_duplicates: bool | None, threshold: float | None) -> None:
    """Check that no training input (train, preference, prompts) contains the golden set.

    Validates every row of every data file of SPEC against its format (general suites against their kind),
    then runs the golden-set firewall with the spec's eval.firewall settings (the flags override them) — the
    same check the compiled firewall stage runs before training. General-suite rows found in the training
    data are a warning. Exit 0 clean (or no golden set), 1 invalid spec or bad data, 3 overlap above the
    threshold.
    """
    from specc.contract.check import display_path, render, render_data_error, run_check
    from specc.spec.errors import SpecInvalid, error_dict
    from specc.data.jsonl import DataError
    from specc.spec.loader import load_spec

    try:
        loaded = load_spec(spec_path)
    except SpecInvalid as exc:
        if fmt == "json":
            import json

            payload = {"errors": [error_dict(e) for e in exc.errors], "passed": False,
                       "spec": display_path(spec_path, relative_spec=not spec_path.is_absolute())}
            click.echo(json.dumps(payload, sort_keys=True, indent=2, ensure_ascii=False))
        elif fmt == "github":
            for error in exc.errors:
                click.echo(error.github())
        else:
            click.echo(str(exc), err=True)
        unreadable = any(e.code in ("io", "encoding") and e.line == 0 for e in exc.errors)
        sys.exit(ExitCode.USAGE if unreadable else ExitCode.INVALID)

    try:
        result = run_check(loaded, spec_path, threshold=threshold, near_duplicates=near_duplicates)
    except DataError as exc:
        spec = display_path(spec_path, relative_spec=not spec_path.is_absolute())
        text = render_data_error(exc, fmt, spec)
        click.echo(text, err=fmt == "text", nl=False)
        sys.exit(ExitCode.INVALID)

    click.echo(render(result, fmt), nl=False)
    sys.exit(ExitCode.OK if result.passed else ExitCode.REFUSED)


def register(main: click.Group) -> None:
    main.add_command(check_command)

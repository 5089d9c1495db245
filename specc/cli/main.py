"""specc's command line.

Exit codes (the same for every command):

* 0 — success (spec valid, plan without errors, run passed).
* 1 — the input is invalid or the plan has error findings (with ``--strict``: warnings too), or a stage failed.
* 2 — usage error (unknown option, missing file argument, unknown rule id).
* 3 — a gate refused: firewall overlap, a data file changed since compile, or the forgetting gate failed.

Light commands (validate, plan, diff, schema, compile, check, init, rules, explain) import only the
standard library, click, pydantic, PyYAML and jinja2; every command imports its implementation inside its
function so ``specc --help`` and ``specc validate`` stay fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# pydantic looks for plugins by scanning every installed package's entry points the first time a model is
# built; with the training stack installed that scan costs more than validating a spec. specc uses no
# pydantic plugins, so the command line skips the scan (set the variable yourself to override).
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import click  # noqa: E402

from specc import __version__  # noqa: E402
from specc.exit_codes import ExitCode  # noqa: E402



@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="specc")
def main() -> None:
    """specc: declarative experiment specs for adapting language models.

    Validate a spec, see the plan (and why), compile it to training scripts, run them.
    Adapt last, not first: specc tells you when prompting or retrieval is the better lever.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["human", "json", "github"]),
    default="human",
    show_default=True,
    help="human text; json for tools; github for pull-request annotations (::error file=…).",
)
def validate(paths: tuple[Path, ...], fmt: str) -> None:
    """Check spec files strictly. Exit 0 when all are valid, 1 when any is not."""
    from specc.spec.errors import SpecInvalid, error_dict, errors_to_json
    from specc.spec.loader import load_spec

    results = []
    any_invalid = False
    for path in _expand(paths):
        try:
            load_spec(path)
            results.append({"file": str(path), "valid": True, "errors": []})
        except SpecInvalid as exc:
            any_invalid = True
            results.append({"file": str(path), "valid": False, "errors": [error_dict(e) for e in exc.errors]})
            if fmt == "human":
                for e in exc.errors:
                    click.echo(e.render(), err=False)
            elif fmt == "github":
                for e in exc.errors:
                    click.echo(e.github())
            continue
        if fmt == "human":
            click.echo(f"{path}: ok")
    if fmt == "json":
        click.echo(errors_to_json(results), nl=False)
    elif fmt == "human" and len(results) > 1:
        bad = sum(1 for r in results if not r["valid"])
        click.echo(f"{len(results) - bad} valid, {bad} invalid")
    sys.exit(ExitCode.INVALID if any_invalid else ExitCode.OK)


def _expand(paths: tuple[Path, ...]) -> list[Path]:
    """Directories stand for the *.yaml / *.yml specs inside them (handy in CI: `specc validate specs/`)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not found:
                raise click.UsageError(f"{p}: no *.yaml spec files in this directory")
            out.extend(found)
        else:
            out.append(p)
    return out


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the spec language (for editor autocompletion)."""
    from specc.spec.schema import json_schema_text

    text = json_schema_text()
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


@main.command()
@click.argument("path", type=click.Path(path_type=Path), default="specc.yaml")
@click.option("--name", default=None, help="Experiment name (default: from the file name).")
@click.option("--force", is_flag=True, help="Overwrite an existing spec (and the schema file next to it).")
def init(path: Path, name: str | None, force: bool) -> None:
    """Write a commented starter spec to PATH (default specc.yaml), and the JSON Schema its first line
    names next to it (specc-1.schema.json, for editor completion) unless one is there."""
    from specc.spec.schema import SCHEMA_FILE, json_schema_text
    from specc.spec.starter import starter_spec

    if path.exists() and not force:
        raise click.UsageError(f"{path} exists; use --force to overwrite")
    if path.is_dir():
        raise click.UsageError(f"{path} is a directory; give the spec file's name, e.g. {path / 'specc.yaml'}")
    parent = path.parent
    blocked = next((p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise click.UsageError(f"{blocked} is not a directory; choose another path for the spec")
    text = starter_spec(name or _slug(path.stem))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    click.echo(f"wrote {path} — edit it, then run `specc validate {path}` and `specc plan {path}`")
    schema_path = path.parent / SCHEMA_FILE
    schema_text = json_schema_text()
    if schema_path.is_file() and schema_path.read_text(encoding="utf-8", errors="replace") == schema_text:
        return
    if schema_path.is_dir() or (schema_path.exists() and not force):
        click.echo(f"kept {schema_path}: it is not this specc's schema; `specc schema -o {schema_path}` "
                   f"replaces it (editors read it for completion)")
        return
    schema_path.write_text(schema_text, encoding="utf-8")
    click.echo(f"wrote {schema_path} (the spec's first line points editors at it)")


def _slug(stem: str) -> str:
    import re

    slug = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._") or "experiment"
    return slug[:64]


def _register_optional() -> None:
    """Commands from the other areas of the tool, each in its own module (plan, compile, run...)."""
    import importlib

    for module in ("specc.cli.plan", "specc.cli.build", "specc.cli.run", "specc.cli.demo", "specc.cli.check",
                   "specc.cli.report"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(main)


_register_optional()

if __name__ == "__main__":  # pragma: no cover
    main()

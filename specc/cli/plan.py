"""The planning commands: ``specc plan``, ``specc diff``, ``specc explain``, ``specc rules``.

Why a separate module with ``register``: the top-level CLI stays a thin switchboard, and these commands
import the planner (and through it pydantic models) only when they run, so ``specc --help`` is instant.

Exit codes follow :mod:`specc.cli.main`: 0 ok; 1 invalid spec or error findings (``--strict``: warnings too);
2 usage error, unreadable spec file, or an unknown rule id.
"""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import click

from specc.exit_codes import ExitCode
from specc.plan.rules import Topic  # stdlib-only module: the topic list stays in one place

__all__ = ["register"]



def _load(path: Path) -> Any:
    """Load a spec or exit: unreadable files exit 2, invalid specs exit 1, errors on stderr."""
    from specc.spec.errors import SpecInvalid
    from specc.spec.loader import load_spec

    try:
        return load_spec(path)
    except SpecInvalid as exc:
        click.echo(str(exc), err=True)
        unreadable = any(e.code == "io" for e in exc.errors)  # non-UTF-8 is invalid (1), as in validate
        sys.exit(ExitCode.USAGE if unreadable else ExitCode.INVALID)


def _plan_of(loaded: Any) -> Any:
    from specc.plan.planner import make_plan

    return make_plan(loaded.spec, loaded.base_dir, loaded.path.name, loaded.sha256)


def _exit_code(plan: Any, strict: bool) -> int:
    if not plan.ok:
        return ExitCode.INVALID
    if strict and any(f.level == "warning" for f in plan.findings):
        return ExitCode.INVALID
    return ExitCode.OK


def plan_command(spec_path: Path, fmt: str, strict: bool) -> None:
    """Plan one spec and print it (what, and why). Exit 1 on error findings; with --strict, on warnings too."""
    from specc.plan.render import render

    plan = _plan_of(_load(spec_path))
    click.echo(render(plan, fmt), nl=False)
    sys.exit(_exit_code(plan, strict))


def _git_show(spec_path: Path, rev: str) -> str:
    """The spec's text at ``rev`` (``git show REV:path``, path relative to the repository root)."""
    folder = spec_path.resolve().parent
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True,
                             check=True).stdout.strip()
        rel = spec_path.resolve().relative_to(Path(top).resolve()).as_posix()
        return subprocess.run(["git", "show", f"{rev}:{rel}"], cwd=top, capture_output=True, text=True,
                              check=True).stdout
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"cannot read {spec_path} at {rev}: {exc}") from None
    except subprocess.CalledProcessError as exc:
        raise click.UsageError(f"cannot read {spec_path} at {rev}: {exc.stderr.strip()}") from None


def diff_command(old: Path, new: Path | None, base: str | None, fmt: str) -> None:
    """Compare the plans of two specs (or one spec against a git revision)."""
    from specc.plan.diff import diff_plans, render_diff
    from specc.spec.errors import SpecInvalid
    from specc.spec.loader import load_spec_text

    notes: list[str] = []
    if base is not None:
        if new is not None:
            raise click.UsageError("give either OLD NEW or SPEC --base REV, not both")
        loaded_new = _load(old)
        text = _git_show(old, base)
        try:
            loaded_old = load_spec_text(text, loaded_new.path, display=f"{base}:{old.name}")
        except SpecInvalid as exc:
            click.echo(str(exc), err=True)
            sys.exit(ExitCode.INVALID)
        notes.append(f"old plan: {old.name} at {base}; its data facts (hashes, rows) are read from the working "
                     "tree, so data changes between the revisions do not show")
    else:
        if new is None:
            raise click.UsageError("give OLD NEW, or SPEC --base REV")
        loaded_old, loaded_new = _load(old), _load(new)
    d = diff_plans(_plan_of(loaded_old), _plan_of(loaded_new))
    d.notes.extend(notes)
    click.echo(render_diff(d, fmt), nl=False)


def explain_command(rule_id: str) -> None:
    """Print one rule: condition, verdict, rationale and source."""
    from specc.plan.rules import get_rule, suggest_rule_ids

    rule = get_rule(rule_id)
    if rule is None:
        close = suggest_rule_ids(rule_id)
        hint = f" Did you mean {', '.join(close)}?" if close else " `specc rules` lists them."
        click.echo(f"error: unknown rule {rule_id!r}.{hint}", err=True)
        sys.exit(ExitCode.USAGE)
    click.echo(
        f"{rule.id}  ({rule.topic}; produces {rule.output})\n"
        f"  when:   {rule.condition}\n"
        f"  then:   {rule.verdict}\n"
        f"  why:    {rule.rationale}\n"
        f"  source: {rule.section}\n"
        f"  seed:   {rule.seed}"
    )


def rules_command(topic: str | None) -> None:
    """List every rule id with its topic, output kind and verdict."""
    from specc.plan.rules import RULES

    shown = [r for r in RULES if topic is None or r.topic == topic]
    width = max(len(r.id) for r in shown) if shown else 0
    for r in shown:
        click.echo(f"{r.id:<{width}}  {r.topic:<8} {r.output:<8} {r.verdict}")


def register(group: click.Group) -> None:
    """Add ``plan``, ``diff``, ``explain`` and ``rules`` to the top-level command group."""

    @group.command("plan")
    @click.argument("spec", type=click.Path(path_type=Path))
    @click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
                  show_default=True, help="text for terminals, markdown for a PR comment, json for tools.")
    @click.option("--strict", is_flag=True, help="Exit 1 on warnings too (for CI).")
    def plan(spec: Path, fmt: str, strict: bool) -> None:
        """Decide levers, method, budget and stages for SPEC, and explain each decision."""
        plan_command(spec, fmt, strict)

    @group.command("diff")
    @click.argument("old", type=click.Path(path_type=Path))
    @click.argument("new", type=click.Path(path_type=Path), required=False)
    @click.option("--base", metavar="REV", help="Compare SPEC with the same file at git revision REV.")
    @click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
    def diff(old: Path, new: Path | None, base: str | None, fmt: str) -> None:
        """Show what changes in the plan between OLD and NEW (or SPEC at --base REV), and why."""
        diff_command(old, new, base, fmt)

    @group.command("explain")
    @click.argument("rule_id")
    def explain(rule_id: str) -> None:
        """Explain one rule of the decision guide (see `specc rules`)."""
        explain_command(rule_id)

    @group.command("rules")
    @click.option("--topic", type=click.Choice(list(typing.get_args(Topic))), help="Only rules of this topic.")
    def rules(topic: str | None) -> None:
        """List the rules of the decision guide the planner applies."""
        rules_command(topic)

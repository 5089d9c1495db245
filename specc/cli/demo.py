"""`specc demo` (the README's main job) and `specc tiny-model` (build the built-in base model)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command("demo")
@click.option("--specs", "specs_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default="specs", show_default=True, help="The example specs to plan and run (copied, never modified).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default="out/demo", show_default=True,
              help="Where the copies, builds, logs and W&B offline runs go.")
@click.option("--size", type=click.Choice(["demo", "test"]), default="demo", show_default=True,
              help="Tiny base model size: demo has real abilities (≈2 min to build); test is for CI.")
@click.option("--max-steps", type=int, default=None, help="Cap training steps (the reduced demo CI runs).")
def demo_cmd(specs_dir: Path, workdir: Path, size: str, max_steps: int | None) -> None:
    """Plan the examples, then run a real fine-tune through the eval contract, on this CPU."""
    from specc.demo.story import run_demo

    sys.exit(run_demo(specs_dir, workdir, size=size, quick_steps=max_steps, echo=lambda m: click.echo(m)))


@click.command("tiny-model")
@click.option("--size", type=click.Choice(["demo", "test"]), default="demo", show_default=True)
@click.option("--link", "link", type=click.Path(path_type=Path), default=None, metavar="PATH",
              help="Also make PATH a link to the model, e.g. specs/models/tiny-base where the example specs "
                   "look for it.")
def tiny_model_cmd(size: str, link: Path | None) -> None:
    """Build (or find in the cache) specc's tiny local base model and print its directory."""
    from specc.demo.tinymodel import ensure_tiny_base

    if link is not None:
        _check_link_target(link)
    model_dir = ensure_tiny_base(size=size, progress=lambda m: click.echo(m, err=True))
    if link is not None:
        _link(link, model_dir)
        click.echo(f"linked {link} -> {model_dir}", err=True)
    click.echo(model_dir)


def _check_link_target(link: Path) -> None:
    """Refuse before a minutes-long build when PATH holds something that is not ours to replace."""
    if link.exists() and not link.is_symlink():
        raise click.UsageError(f"{link} exists and is not a link; remove it or give another --link PATH")


def _link(link: Path, model_dir: Path) -> None:
    """Point ``link`` at ``model_dir``, replacing an older link atomically (a new link, then a rename), so
    the examples always see a whole model: the demo does the same in its copy of the specs."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.linking")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(model_dir.resolve(), target_is_directory=True)
    os.replace(tmp, link)


def register(group: click.Group) -> None:
    group.add_command(demo_cmd)
    group.add_command(tiny_model_cmd)

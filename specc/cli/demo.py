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
              help="Tiny base model size: demo is shipped with specc (real abilities); test is built in seconds, for CI.")
@click.option("--max-steps", type=int, default=None, help="Cap training steps (the reduced demo CI runs).")
@click.option("--seeds", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Seeds per arm (each arm: LoRA, full fine-tuning, the planner's remedy).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Runs at a time, each with one torch thread (default: 2, or 1 on a one-core machine).")
@click.option("--tracking", type=click.Choice(["disabled", "offline"]), default="disabled", show_default=True,
              help="W&B for the runs: offline records every stage under each build's wandb/ (slower: one W&B "
                   "run per stage). SPECC_WANDB_MODE in the environment wins.")
@click.option("--warm/--no-warm", default=True, show_default=True,
              help="Fork every run's stages from one process that imported torch and transformers once "
                   "(`specc run --warm-server`); --no-warm starts every stage as its own Python, as plain "
                   "`specc run` does.")
def demo_cmd(specs_dir: Path, workdir: Path, size: str, max_steps: int | None, seeds: int, jobs: int | None,
             tracking: str, warm: bool) -> None:
    """Plan the examples, then tune one narrow task three ways over several seeds, through the eval contract."""
    from specc.demo.story import run_demo

    jobs = jobs or max(1, min(2, os.cpu_count() or 1))
    sys.exit(run_demo(specs_dir, workdir, size=size, quick_steps=max_steps, seeds=tuple(range(seeds)), jobs=jobs,
                      tracking=tracking, warm=warm,
                      echo=lambda m: click.echo(m)))


@click.command("tiny-model")
@click.option("--size", type=click.Choice(["demo", "test"]), default="demo", show_default=True)
@click.option("--link", "link", type=click.Path(path_type=Path), default=None, metavar="PATH",
              help="Also make PATH a link to the model, e.g. specs/models/tiny-base where the example specs "
                   "look for it.")
@click.option("--rebuild", is_flag=True,
              help="Pretrain from scratch (minutes) instead of using the shipped weights, then compare the "
                   "rebuilt model's suite scores with the shipped ones.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where --rebuild writes the model (default: the cache, ~/.cache/specc or $SPECC_CACHE).")
def tiny_model_cmd(size: str, link: Path | None, rebuild: bool, out_dir: Path | None) -> None:
    """Print the directory of specc's tiny local base model (shipped with specc for --size demo).

    With --link PATH, also make PATH a link to it. With --rebuild, pretrain it again from its recipe and report
    whether the rebuilt scores agree with the shipped ones within the stated tolerance (exit 1 when they do not).
    """
    from specc.demo import tinymodel

    say = lambda m: click.echo(m, err=True)  # noqa: E731
    if link is not None:
        _check_link_target(link)
    problems: list[str] = []
    if rebuild:
        model_dir, problems = tinymodel.rebuild(out_dir, size=size, progress=say)
    else:
        model_dir = tinymodel.tiny_base(size=size, progress=say)
    if link is not None:
        _link(link, Path(model_dir))
        say(f"linked {link} -> {model_dir}")
    click.echo(model_dir)
    if not rebuild:
        return
    if tinymodel.shipped_tiny_base(size) is None:
        say(f"no shipped {size} model to compare with")
        return
    if problems:
        say("rebuilt scores differ from the shipped ones beyond tolerance:\n  " + "\n  ".join(problems))
        sys.exit(1)
    say(f"rebuilt scores agree with the shipped model's within tolerance {tinymodel.REBUILD_TOLERANCE}")


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

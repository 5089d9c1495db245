"""Is a spec's local model directory really there? One check and one message for the runner and the stages.

Why: ``from_pretrained("models/tiny-base")`` on a directory that does not exist does not say "missing
directory"; transformers takes the string for a hub repo id and fails with ``Repo id must be in the form
'repo_name' or 'namespace/repo_name'`` and a traceback (or, worse, downloads a hub model whose id happens
to look like the path). The plan cannot refuse a missing model (reviewers compile specs on machines without
the weights), so ``specc run`` checks before its first stage (:mod:`specc.run.runner`) and every stage
checks again before it loads (:func:`specc.runtime.common.model_ref`), so ``run.sh`` and a hand-run script
get the same located, one-line error.

Standard library only: the runner imports this and must stay light.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TINY_MODEL_DIR", "problem", "spec_key", "hint", "missing_message", "shown_path"]

TINY_MODEL_DIR = "tiny-base"
"""The directory name specc's examples give the built-in tiny model (``path: models/tiny-base``)."""

SPEC_KEYS = {"base": "base_model.path", "teacher": "teacher.path"}


def problem(directory: Path) -> str | None:
    """What is wrong with ``directory`` as a model to load, or None when it looks loadable."""
    if directory.is_symlink() and not directory.exists():
        return f"is a broken link (to {os.readlink(directory)})"
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "is not a directory"
    if not (directory / "config.json").is_file():
        return "has no config.json (not a saved model)"
    return None


def spec_key(role: str | None) -> str:
    """The spec key that names a model of this plan role."""
    return SPEC_KEYS.get(role or "", "base_model.path")


def hint(ref: str, shown: str) -> str:
    """What to do about it. For the place specc's own tiny model belongs, the command that puts it there."""
    if Path(ref).name == TINY_MODEL_DIR:
        return f"build specc's tiny model there with `specc tiny-model --link {shown}`, then run again"
    return "put the saved model there (config.json and weights) or correct the path in the spec"


def missing_message(*, ref: str, role: str | None, spec_file: str | None, directory: Path, shown: str,
                    why: str) -> str:
    """One line: which spec key, which file, where it looked, what is wrong, what to do."""
    where = f"{spec_key(role)} in {spec_file}" if spec_file else spec_key(role)
    return f"local model {ref} ({where}) {why}: looked for {shown}; {hint(ref, shown)}"


def shown_path(directory: Path, cwd: Path | None = None) -> str:
    """``directory`` as a person types it from ``cwd``: relative when it lies below, else absolute."""
    absolute = Path(os.path.abspath(directory))
    rel = os.path.relpath(absolute, os.path.abspath(cwd or Path.cwd()))
    return absolute.as_posix() if rel == ".." or rel.startswith("../") else Path(rel).as_posix()

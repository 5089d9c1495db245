"""What the reviewed plan says, read by a stage at run time: the eval contract and the package floors.

Why read them from ``plan.json`` (and not from a copy in the script's CONFIG): the gate's terms are the ones a
reviewer approved, whatever was edited in a script; and a build compiled against specc's declared package minimums
must not run on an older stack that silently lacks an argument the scripts pass. Stdlib plus ``packaging`` (a
dependency of transformers, so present wherever a stage can run).
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from specc.build.reader import BuildReadError, read_build
from specc.exit_codes import ExitCode

__all__ = ["contract", "package_problems", "check_packages"]


def contract(build_dir: str | Path = ".") -> dict[str, Any]:
    """The plan's eval contract (metric, bar, suites, forgetting budget, firewall settings)."""
    try:
        plan = read_build(build_dir).plan
    except BuildReadError as exc:
        raise SystemExit(f"[specc] REFUSED: cannot read the reviewed contract: {exc}") from None
    return plan.contract.model_dump(mode="json") if plan.contract is not None else {}


def package_problems(floors: dict[str, str]) -> list[str]:
    """One line per installed package whose version does not satisfy the build's specifier.

    A package that is not installed is not reported here: a stage that needs it fails at its import with the
    package's name, and many stages never need it (bitsandbytes without QLoRA, wandb without tracking).
    """
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    problems = []
    for name, spec in sorted(floors.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        try:
            ok = Version(installed) in SpecifierSet(spec, prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            continue
        if not ok:
            problems.append(f"{name} {installed} is installed; this build was compiled for {name}{spec} "
                            f"(pip install '{name}{spec}')")
    return problems


def check_packages(build_dir: str | Path = ".") -> None:
    """Stop the stage (exit 1) with one line per package that is older than the build's lock allows."""
    try:
        floors = read_build(build_dir).lock.get("packages") or {}
    except BuildReadError:
        return  # the data guard reports an unreadable plan.json with its own message
    problems = package_problems(floors)
    if problems:
        for line in problems:
            print(f"[specc] REFUSED: {line}", file=sys.stderr, flush=True)
        raise SystemExit(int(ExitCode.INVALID))

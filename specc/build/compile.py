"""The one way from a spec, or from a reviewed plan.json, to a build directory.

Why one function: ``specc compile`` and ``specc run SPEC`` used to compile through two paths with two default
output directories. Both now call :func:`compile_spec_file`; ``specc compile PLAN.json`` calls
:func:`compile_plan_file`, which needs no spec at all — the Plan is the single source of truth, and the build
renders it alone. Light: no training stack.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from specc.build.emitter import CompileError, compile_plan
from specc.build.reader import BuildReadError, read_plan_file
from specc.exit_codes import ExitCode
from specc.plan.model import Plan

__all__ = ["CompileRefused", "Compiled", "compile_plan_file", "compile_spec_file", "default_build_dir",
           "is_plan_file"]


class CompileRefused(Exception):
    """Nothing was compiled; ``message`` says why and ``exit_code`` is what the command exits with."""

    def __init__(self, message: str, exit_code: int = ExitCode.INVALID) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, int(exit_code)


@dataclass(frozen=True)
class Compiled:
    plan: Plan
    out: Path
    files: list[Path]


def default_build_dir(spec_dir: str | os.PathLike[str], name: str) -> Path:
    """``build/<plan name>`` next to the spec, whichever command compiles."""
    return Path(spec_dir) / "build" / name


def is_plan_file(path: str | os.PathLike[str]) -> bool:
    """A ``.json`` target is a plan (a build's plan.json or ``specc plan --format json``); anything else a spec."""
    return Path(path).suffix.lower() == ".json"


def _compile(plan: Plan, spec_dir: Path, out: Path) -> Compiled:
    try:
        files = compile_plan(plan, spec_dir, out)
    except CompileError as exc:
        raise CompileRefused(f"not compiled: {exc}") from None
    return Compiled(plan, out, files)


def compile_spec_file(spec_path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                      strict: bool = False, warn=None) -> Compiled:
    """Load, plan and compile a spec. ``warn(level, text)`` receives the plan's error and warning findings.

    Raises :class:`CompileRefused` for an invalid spec (exit 1; 2 when the file cannot be read), a plan with
    error findings, warnings under ``strict``, or a build that cannot be written.
    """
    from specc.plan.planner import make_plan
    from specc.spec.errors import SpecInvalid
    from specc.spec.loader import load_spec

    try:
        loaded = load_spec(spec_path)
    except SpecInvalid as exc:
        unreadable = any(e.code == "io" for e in exc.errors)  # non-UTF-8 is invalid (1), as in validate
        raise CompileRefused(str(exc), ExitCode.USAGE if unreadable else ExitCode.INVALID) from None
    plan = make_plan(loaded.spec, loaded.base_dir, loaded.path.name, loaded.sha256)
    if warn is not None:
        for finding in plan.findings:
            if finding.level in ("error", "warning"):
                warn(finding.level, f"{finding.rule}: {finding.message}" + (f" ({finding.hint})" if finding.hint
                                                                             else ""))
    if not plan.ok:
        raise CompileRefused(f"{spec_path}: the plan has errors; not compiled")
    if strict and any(f.level == "warning" for f in plan.findings):
        raise CompileRefused("not compiled: --strict and the plan has warnings")
    target = Path(out) if out is not None else default_build_dir(loaded.base_dir, plan.name)
    return _compile(plan, loaded.base_dir, target)


def compile_plan_file(plan_path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                      spec_dir: str | os.PathLike[str] | None = None) -> Compiled:
    """Compile a reviewed plan.json without its spec. Data paths in the plan are relative to the spec's
    directory: the lock records it for a build's plan.json; a bare plan needs ``spec_dir`` (default: the plan
    file's own directory). The default output is the build the plan.json came from (a recompile)."""
    try:
        doc = read_plan_file(plan_path)
    except BuildReadError as exc:
        raise CompileRefused(str(exc), ExitCode.USAGE) from None
    where = Path(spec_dir) if spec_dir is not None else (doc.spec_dir or doc.path.parent)
    if not doc.plan.ok:
        raise CompileRefused(f"{plan_path}: the plan has errors; not compiled")
    if out is None:
        out = doc.path.parent if doc.lock else default_build_dir(where, doc.plan.name)
    return _compile(doc.plan, where, Path(out))

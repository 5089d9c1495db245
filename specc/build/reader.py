"""The one reader of a build's ``plan.json``: the runner, ``specc status``, ``specc compile PLAN.json`` and the
stage guard all read a build through here.

Why one reader: four copies used to parse the same file, each with its own idea of what a missing, truncated or
older file means. ``plan.json`` is ``{"format", "lock", "plan"}`` (:func:`specc.build.lock.build_document`);
a bare Plan (``specc plan --format json``) is read too, without a lock. Light: stdlib plus the Plan model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from specc.plan.model import Plan

__all__ = ["BuildReadError", "PlanDocument", "read_document", "read_plan_file", "read_build", "PLAN_FILE"]

PLAN_FILE = "plan.json"


class BuildReadError(ValueError):
    """A plan.json that is missing, unreadable, truncated or not a specc plan; the message says which."""


@dataclass(frozen=True)
class PlanDocument:
    """A parsed plan.json: the Plan, the lock (empty for a bare plan) and where the spec's directory is."""

    path: Path
    plan: Plan
    lock: dict[str, Any] = field(default_factory=dict)

    @property
    def spec_dir(self) -> Path | None:
        """The spec's directory (data paths are relative to it): the lock's ``spec_dir``, which is relative to
        the build directory. None for a bare plan, whose caller must say where the data lives."""
        rel = self.lock.get("spec_dir")
        return Path(os.path.normpath(self.path.parent / rel)) if isinstance(rel, str) else None


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw JSON object of a plan file; :class:`BuildReadError` when it cannot be one."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BuildReadError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildReadError(f"{p}: cannot be read ({exc})") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BuildReadError(f"{p}: not valid JSON ({exc}); was it truncated? recompile the build") from None
    if not isinstance(doc, dict):
        raise BuildReadError(f"{p}: not a specc plan (a JSON object is expected)")
    return doc


def read_plan_file(path: str | os.PathLike[str]) -> PlanDocument:
    """A plan.json of a build (with its lock) or a bare plan written by ``specc plan --format json``."""
    p = Path(path)
    doc = read_document(p)
    body, lock = (doc["plan"], doc.get("lock") or {}) if isinstance(doc.get("plan"), dict) else (doc, {})
    try:
        plan = Plan.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "(top level)"
        raise BuildReadError(f"{p}: not a plan this specc can read ({len(exc.errors())} problem(s); first at "
                             f"{where}: {first.get('msg')}); recompile it from its spec") from None
    if not isinstance(lock, dict):
        raise BuildReadError(f"{p}: its lock section is not an object; recompile the build")
    return PlanDocument(p, plan, lock)


def read_build(build_dir: str | os.PathLike[str]) -> PlanDocument:
    """The plan.json of a build directory; a directory without one is not a build."""
    d = Path(build_dir)
    if not (d / PLAN_FILE).exists():
        raise BuildReadError(f"{d}: not a specc build directory (no {PLAN_FILE}); give a spec file, or compile "
                             f"first with `specc compile SPEC -o DIR`")
    return read_plan_file(d / PLAN_FILE)

"""The build's lock: exactly which spec, data, models and packages a build was compiled against.

Why: a reviewed plan is only meaningful if the run uses what was reviewed. The lock is written into
``plan.json`` next to the plan (``{"format", "lock", "plan"}``) and checked by every stage at run time
(:mod:`specc.runtime.guard`). Package versions are the *minimum* versions specc declares for its
``train`` extra (one place: ``pyproject.toml``, read through the installed package metadata), never the
versions installed on the compiling machine, so two machines compile byte-identical builds.
"""

from __future__ import annotations

import json
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Any

from specc.plan.model import Plan

__all__ = ["BUILD_FORMAT", "expected_packages", "make_lock", "build_document"]

BUILD_FORMAT = 1

_REQ = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(\[[^\]]*\])?\s*([^;]*?)\s*;\s*extra\s*==\s*[\"']train[\"']")


def expected_packages() -> dict[str, str]:
    """{package: version specifier} of specc's ``train`` extra, e.g. ``{"trl": ">=1.0"}``."""
    try:
        requires = metadata.requires("specc") or []
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return {}
    out: dict[str, str] = {}
    for req in requires:
        m = _REQ.match(req)
        if m:
            out[m.group(1).lower()] = m.group(3).replace(" ", "")
    return dict(sorted(out.items()))


def model_entry(model: Any, spec_root: str | os.PathLike[str] | None) -> dict[str, Any]:
    """A model's lock entry. A local model directory is locked by the hash of its files
    (:func:`specc.run.manifest.content_sha256`) when the spec's directory is known, so a stage can
    refuse weights or a tokenizer that changed after compile; a hub model is locked by its revision."""
    entry: dict[str, Any] = {"role": model.role, "ref": model.ref, "source": model.source,
                             "revision": model.revision}
    if model.source == "local" and spec_root is not None:
        from specc.run.manifest import content_sha256

        directory = Path(spec_root) / model.ref
        # only a model directory (its config.json is what the planner read): a path that is not one is the
        # planner's finding to report, and hashing an arbitrary tree (``path: ..``) could take forever
        try:
            if (directory / "config.json").is_file():
                entry["sha256"] = content_sha256(directory)
        except OSError:  # an over-long or unreadable path: no content lock; the planner/loader report it
            pass
    return entry


def make_lock(plan: Plan, spec_dir: str = "", spec_root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The lock section: spec hash, data hashes/rows, model refs/revisions (and local models' content
    hashes, given ``spec_root``, the spec's directory), expected packages, resolved hyper-parameters, and
    ``spec_dir`` (the spec's directory relative to the build directory)."""
    return {
        "spec_dir": spec_dir,
        "hyperparameters": plan.hyperparameters,
        "generator": plan.generator,
        "plan_hash": plan.lock_hash(),
        "spec_file": plan.spec_file,
        "spec_sha256": plan.spec_sha256,
        "data": [{"role": d.role, "name": d.name, "path": d.path, "sha256": d.sha256, "rows": d.rows,
                  **({"source": d.source} if d.source is not None else {})}  # a Hub source: its resolved commit
                 for d in plan.data],
        "models": [model_entry(m, spec_root) for m in plan.models],
        "packages": expected_packages(),
    }


def build_document(plan: Plan, spec_dir: str = "", spec_root: str | os.PathLike[str] | None = None) -> str:
    """The text of ``plan.json``: canonical JSON (sorted keys, trailing newline)."""
    doc = {"format": BUILD_FORMAT, "lock": make_lock(plan, spec_dir, spec_root),
           "plan": plan.model_dump(mode="json")}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

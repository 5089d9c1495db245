"""The build's lock: exactly which spec, data, models and packages a build was compiled against.

Why: a reviewed plan is only meaningful if the run uses what was reviewed. The lock is written into
``plan.json`` next to the plan (``{"format", "lock", "plan"}``) and checked by every stage at run time
(:mod:`specc.runtime.guard`). Package versions are the *minimum* versions specc declares for its
``train`` extra (one place: ``pyproject.toml``, read through the installed package metadata), never the
versions installed on the compiling machine, so two machines compile byte-identical builds.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
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


def make_lock(plan: Plan, spec_dir: str = "") -> dict[str, Any]:
    """The lock section: spec hash, data hashes/rows, model refs/revisions, expected packages, resolved
    hyper-parameters, and ``spec_dir`` (the spec's directory relative to the build directory)."""
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
        "models": [{"role": m.role, "ref": m.ref, "source": m.source, "revision": m.revision} for m in plan.models],
        "packages": expected_packages(),
    }


def build_document(plan: Plan, spec_dir: str = "") -> str:
    """The text of ``plan.json``: canonical JSON (sorted keys, trailing newline)."""
    doc = {"format": BUILD_FORMAT, "lock": make_lock(plan, spec_dir), "plan": plan.model_dump(mode="json")}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

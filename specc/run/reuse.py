"""Reuse a stage another build already completed for exactly the same inputs (``specc run --reuse-from``).

Why: a seed sweep or an A/B of methods scores the *same* base model on the *same* golden set and suites in
every build; the demo's nine runs computed one baseline nine times. A stage's fingerprint (plan.json) hashes
every config key and locked file that determines its output, so two builds whose baseline fingerprints and
input hashes agree would compute the same results. Reusing one is honest only when it is checked and
traced, so a stage is adopted only when, in the other build:

* its kind is one whose output is a deterministic function of its fingerprint (:data:`REUSABLE_KINDS`:
  the baseline, greedy scoring of an unchanged model; training stages are not, and are never reused);
* it completed with exit 0, under the same fingerprint digest, the same stage script and the same input file
  hashes as this build's stage now;
* every output it recorded still has the sha256 the other build's manifest recorded.

The adopted outputs (and the stage's done marker, which downstream guards check against the same
fingerprint) are copied, the manifest records ``reused_from`` and a note, and the stage log says so.
The check and the copy are two steps, and a run of the other build may rewrite its outputs in between:
the copies must hash to what was checked, else they are removed and the stage runs here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from specc.plan.model import Stage
from specc.run import manifest as mf

REUSABLE_KINDS = frozenset({"baseline"})


def _hashes(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v or {}).get("sha256") for k, v in inputs.items()}


class Reusable(NamedTuple):
    """A build whose completed stage may be adopted, and the sha256 of each output path as checked there."""

    build: Path
    checked: dict[str, str]


def find(stage: Stage, fp: Mapping[str, Any] | None, script_sha: str, inputs: Mapping[str, Any],
         candidates: Iterable[Path], here: Path) -> Reusable | None:
    """The first candidate build whose completed ``stage`` may be adopted (see the module doc), or None.

    ``script_sha`` is this build's stage script: the fingerprint covers plan.json only, so a baseline another
    specc version emitted (say, before a scoring fix) has the same fingerprint but not the same script."""
    if stage.kind not in REUSABLE_KINDS or not fp or not fp.get("digest"):
        return None
    for other in candidates:
        other = Path(other).resolve()
        if other == here:
            continue
        try:
            rec = mf.Manifest.load(other).stages.get(stage.id) or {}
        except (OSError, mf.ManifestDamaged):
            continue
        if rec.get("status") != "completed" or rec.get("exit_code") != 0:
            continue
        if (rec.get("fingerprint") or {}).get("digest") != fp["digest"] or rec.get("script_sha256") != script_sha:
            continue
        if _hashes(rec.get("inputs") or {}) != _hashes(inputs):
            continue
        outputs = rec.get("outputs") or {}
        if set(outputs) != set(stage.outputs) or not all(
                o.get("sha256") and (other / o["path"]).exists()
                and mf.hash_path(other / o["path"]) == o["sha256"] for o in outputs.values()):
            continue
        return Reusable(other, {o["path"]: o["sha256"] for o in outputs.values()})
    return None


def adopt(build: Path, stage: Stage, found: Reusable, done_marker: str | None) -> bool:
    """Copy ``stage``'s outputs (and done marker) from ``found.build`` into ``build``, replacing stale ones.
    False, with the copies removed, when they do not hash to what :func:`find` checked (rewritten since)."""
    copied = []
    for rel in list(stage.outputs.values()) + ([done_marker] if done_marker else []):
        src, dst = found.build / rel, build / rel
        if not src.exists():
            continue
        _remove(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        copied.append(dst)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)
    if all((build / rel).exists() and mf.hash_path(build / rel) == sha for rel, sha in found.checked.items()):
        return True
    for dst in copied:
        _remove(dst)
    return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()

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
* every output it recorded, as copied into this build, has the sha256 the other build's manifest recorded.

The outputs are checked on their copies, each hashed once (:func:`take`): the digest the manifest records is
the checked one, and a file changed in the other build while it was copied is refused, not adopted. Then the
stage's done marker (which downstream guards check against the same fingerprint) is copied too, the manifest
records ``reused_from`` and a note, and the stage log says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from specc.plan.model import Stage
from specc.run import manifest as mf

REUSABLE_KINDS = frozenset({"baseline"})


def _hashes(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v or {}).get("sha256") for k, v in inputs.items()}


def take(build: Path, stage: Stage, fp: Mapping[str, Any] | None, script_sha: str, inputs: Mapping[str, Any],
         candidates: Iterable[Path], done_marker: str | None,
         cache: mf.HashCache | None = None,
         refused: Callable[[Path, str], None] | None = None) -> tuple[Path, dict[str, str]] | None:
    """Adopt ``stage`` from the first candidate build that may give it (see the module doc): that build and
    ``{output name: sha256 of the adopted copy}``, or None when none may (``build`` is then as it was, but for
    copies that failed their check, which are removed: the stage runs here and writes its outputs anew).

    Each output is hashed once, as the copy in ``build`` (``cache``: the manifest's, so the stages that read it
    next do not hash it again): a copy whose hash is not the one the other build recorded is refused, so what
    is adopted is exactly what was checked, even if the other build's file changes while it is copied.
    ``refused(build, output name)`` hears of each such candidate, so the run can say why it did not reuse it."""
    for other, recorded in _candidates(stage, fp, script_sha, inputs, candidates, build):
        digests = _copy_checked(build, stage, other, recorded, cache)
        if isinstance(digests, str):
            if refused is not None:
                refused(other, digests)
        elif digests is not None:
            if done_marker:
                _copy(other / done_marker, build / done_marker)
            return other, digests
    return None


def _candidates(stage: Stage, fp: Mapping[str, Any] | None, script_sha: str, inputs: Mapping[str, Any],
                candidates: Iterable[Path], here: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """``(build, {output name: recorded sha256})`` of each candidate whose record of ``stage`` allows adopting it:
    reusable kind, completed with exit 0 under this fingerprint digest, script and input hashes, every output
    recorded with a hash and still there. The outputs' content is checked on their copies (:func:`take`).

    ``script_sha`` is this build's stage script: the fingerprint covers plan.json only, so a baseline another
    specc version emitted (say, before a scoring fix) has the same fingerprint but not the same script."""
    if stage.kind not in REUSABLE_KINDS or not fp or not fp.get("digest"):
        return
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
                o.get("sha256") and (other / o["path"]).exists() for o in outputs.values()):
            continue
        yield other, {name: o["sha256"] for name, o in outputs.items()}


def _copy_checked(build: Path, stage: Stage, other: Path, recorded: Mapping[str, str],
                  cache: mf.HashCache | None) -> dict[str, str] | str:
    """Copy ``stage``'s outputs from ``other`` into ``build`` and hash the copies: their digests, or the name of
    the first output whose copy is not what ``other`` recorded (and the copies removed)."""
    digests: dict[str, str] = {}
    copied: list[Path] = []
    for name, rel in sorted(stage.outputs.items()):
        _copy(other / rel, build / rel)
        copied.append(build / rel)
        digests[name] = mf.hash_path(build / rel, cache)
        if digests[name] != recorded[name]:
            for path in copied:
                _remove(path)
            return name
    return digests


def _copy(src: Path, dst: Path) -> None:
    """``src`` to ``dst`` (a file or a tree, links kept as links), replacing a stale ``dst``."""
    if not src.exists():
        return
    if dst.is_dir() and not dst.is_symlink():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    """A refused copy, so that nothing unchecked is left where the stage's outputs go."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()

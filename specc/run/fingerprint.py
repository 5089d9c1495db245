"""Stage fingerprints: the exact inputs a stage's outputs were made under.

Why: a stage's outputs (a firewall report, checkpoints, an adapter, results) are only valid for the
inputs that produced them. Checking "the script did not change" is not enough: a recompiled build with
new training data must not resume from a checkpoint trained on the old data, a training stage must not
accept a firewall report made for other data, and an eval must not reuse a baseline scored on a suite
file that has since been replaced. So every stage has a fingerprint, and everything a stage writes
carries it:

* the stage's resolved config as compiled into ``plan.json`` (hyper-parameters, data entries, model,
  settings), minus pure bookkeeping that cannot change a result (checkpoint pacing, logging cadence,
  the W&B names);
* the lock entries of every file the stage reads: data, golden set and general-suite files by sha256,
  local model directories by their tree hash, hub models by revision;
* the fingerprints of the upstream stages whose outputs it consumes (recursively), so a change anywhere
  upstream changes the fingerprint of everything downstream.

It is computed from ``plan.json`` alone, so the runner (before launching), a stage (at start) and a
downstream stage (checking an upstream's marker) all compute the same value, and two compiles of the
same spec and data give the same fingerprints. No training stack (stdlib plus the light plan modules): the runner and the stage guard
import it without the training stack.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from specc.plan.stages import TRAINING_KINDS

__all__ = ["FORMAT", "FIREWALLED_KINDS", "Fingerprint", "read_build", "stage_entry", "locked_inputs",
           "upstream_stages", "stage_fingerprint", "explain", "done_marker_path", "semantic_config"]

FORMAT = 1

FIREWALLED_KINDS = TRAINING_KINDS | {"generate"}
"""Stage kinds whose guard requires a passed firewall report (``guard.verify_inputs(CONFIG)`` with the
default ``require_firewall=True`` in their templates): the firewall's verdict is one of their inputs. Every
training kind, derived from the stage builder's list so a new method cannot be left out, plus the teacher's
generation (its prompts are firewalled)."""

BOOKKEEPING_KEYS = frozenset({"tracking", "title", "stage", "kind", "inputs", "outputs", "checkpoint_min_interval_s"})
"""Top-level keys that name or track a stage rather than decide what it computes (the script's CONFIG
adds them; ``inputs`` are covered by the upstream fingerprints)."""

BOOKKEEPING_TRAIN_KEYS = frozenset({"save_steps", "save_total_limit", "logging_steps"})
"""Keys of a ``train`` section that change when and how often a stage saves or logs, never what it
learns: editing them mid-run must not throw away a resumable checkpoint."""


class Fingerprint(dict):
    """``{"digest", "config", "locked", "upstream"}``: the digest plus the parts it was made from, kept
    so a mismatch can be explained (which file, which key, which upstream stage)."""

    @property
    def digest(self) -> str:
        return str(self.get("digest") or "")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str).encode()


def _sha(value: Any) -> str:
    return hashlib.sha256(_canonical(value)).hexdigest()


def read_build(build_dir: str | Path) -> dict[str, Any]:
    """The raw ``plan.json`` document of a build (``{"format", "lock", "plan"}``), through the one reader
    (:mod:`specc.build.reader`); raises ValueError (BuildReadError) for a missing or damaged file."""
    from specc.build.reader import read_document

    return read_document(Path(build_dir) / "plan.json")


def _plan(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    plan = doc.get("plan")
    return plan if isinstance(plan, dict) else doc


def _stages(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    stages = _plan(doc).get("stages") or []
    return [s for s in stages if isinstance(s, dict) and isinstance(s.get("id"), str)]


def stage_entry(doc: Mapping[str, Any], stage_id: str) -> dict[str, Any] | None:
    return next((s for s in _stages(doc) if s["id"] == stage_id), None)


def semantic_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a stage config that decides what the stage computes (see the module docstring)."""
    out = {k: v for k, v in config.items() if k not in BOOKKEEPING_KEYS}
    train = out.get("train")
    if isinstance(train, dict):
        out["train"] = {k: v for k, v in train.items() if k not in BOOKKEEPING_TRAIN_KEYS}
    return out


def _walk(value: Any) -> Iterable[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def referenced_files(config: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(data entries, model entries) a stage config reads: dicts with a ``spec_path`` (data, golden,
    suites, prompts) and dicts with ``source`` local/hub and a ``ref`` (base model, teacher)."""
    data: dict[str, dict[str, Any]] = {}
    models: dict[str, dict[str, Any]] = {}
    for d in _walk(semantic_config(config)):
        if isinstance(d.get("spec_path"), str) and d["spec_path"]:
            data.setdefault(d["spec_path"], d)
        elif d.get("source") in ("local", "hub") and isinstance(d.get("ref"), str):
            models.setdefault(d["ref"], d)
    return [data[k] for k in sorted(data)], [models[k] for k in sorted(models)]


def locked_inputs(doc: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
    """``{"data:<spec path>": sha256, "model:<ref>": tree sha256 or "revision:<rev>"}`` for every file
    the stage reads, as the build's lock records it ("unlocked" when the lock has no entry)."""
    lock = doc.get("lock") if isinstance(doc.get("lock"), dict) else {}
    locked_data = {e.get("path"): e for e in lock.get("data") or [] if isinstance(e, dict)}
    locked_models = {e.get("ref"): e for e in lock.get("models") or [] if isinstance(e, dict)}
    out: dict[str, str] = {}
    data, models = referenced_files(config)
    for entry in data:
        sha = (locked_data.get(entry["spec_path"]) or {}).get("sha256") or entry.get("sha256")
        out[f"data:{entry['spec_path']}"] = str(sha or "unlocked")
    for entry in models:
        m = locked_models.get(entry["ref"]) or {}
        if m.get("sha256"):
            out[f"model:{entry['ref']}"] = str(m["sha256"])
        else:
            rev = m.get("revision", entry.get("revision"))
            out[f"model:{entry['ref']}"] = f"revision:{rev}" if rev else "unpinned"
    return out


def _build_paths(stage: Mapping[str, Any]) -> list[str]:
    """Build-produced files a stage reads: its declared inputs and its ``init`` (model/adapters)."""
    paths = [v for v in (stage.get("inputs") or {}).values() if isinstance(v, str)]
    init = (stage.get("config") or {}).get("init")
    if isinstance(init, dict):
        for v in init.values():
            if isinstance(v, str):
                paths.append(v)
            elif isinstance(v, list):
                paths.extend(x for x in v if isinstance(x, str))
    return sorted(set(paths))


def upstream_stages(doc: Mapping[str, Any], stage_id: str) -> list[str]:
    """Stages whose outputs ``stage_id`` consumes: the producers of its build-path inputs, plus the
    firewall for the stage kinds that require its verdict. Ordering-only ``needs`` do not count: a
    baseline that merely runs after the firewall does not depend on the training data."""
    stages = _stages(doc)
    me = next((s for s in stages if s["id"] == stage_id), None)
    if me is None:
        return []
    deps: set[str] = set()
    for path in _build_paths(me):
        for other in stages:
            if other["id"] == stage_id:
                continue
            for out in (other.get("outputs") or {}).values():
                if isinstance(out, str) and (path == out or path.startswith(out.rstrip("/") + "/")
                                             or out.startswith(path.rstrip("/") + "/")):
                    deps.add(other["id"])
    if me.get("kind") in FIREWALLED_KINDS:
        deps.update(s["id"] for s in stages if s.get("kind") == "firewall")
    return sorted(deps)


def stage_fingerprint(doc: Mapping[str, Any], stage_id: str,
                      _memo: dict[str, Fingerprint] | None = None,
                      _visiting: frozenset[str] = frozenset()) -> Fingerprint:
    """The fingerprint of ``stage_id`` in a ``plan.json`` document (see the module docstring)."""
    memo = _memo if _memo is not None else {}
    if stage_id in memo:
        return memo[stage_id]
    stage = stage_entry(doc, stage_id) or {}
    config = stage.get("config") or {}
    upstream = {dep: stage_fingerprint(doc, dep, memo, _visiting | {stage_id}).digest
                for dep in upstream_stages(doc, stage_id) if dep not in _visiting}
    parts = {
        "format": FORMAT,
        "stage": stage_id,
        "kind": stage.get("kind"),
        "config": {k: _sha(v)[:16] for k, v in sorted(_flat(semantic_config(config)).items())},
        "locked": locked_inputs(doc, config),
        "upstream": upstream,
    }
    fp = Fingerprint(parts, digest=_sha(parts))
    memo[stage_id] = fp
    return fp


def _flat(config: Mapping[str, Any]) -> dict[str, Any]:
    """Config flattened one level into sections (``train.learning_rate``), so a change is named by key."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and key in ("train", "peft", "settings", "quantization", "generation"):
            for sub, v in value.items():
                out[f"{key}.{sub}"] = v
        else:
            out[key] = value
    return out


def explain(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """Why two fingerprints differ, in words: the changed files, config keys and upstream stages."""
    if not old or not isinstance(old, Mapping) or not old.get("digest"):
        return "made by an earlier run that recorded no fingerprint"
    if old.get("digest") == new.get("digest"):
        return "unchanged"
    reasons: list[str] = []
    o_locked, n_locked = old.get("locked") or {}, new.get("locked") or {}
    for key in sorted(set(o_locked) | set(n_locked)):
        if o_locked.get(key) != n_locked.get(key):
            what = key.split(":", 1)[-1]
            if key not in o_locked:
                reasons.append(f"now reads {what}")
            elif key not in n_locked:
                reasons.append(f"no longer reads {what}")
            else:
                reasons.append(f"{what} changed (sha256 {str(o_locked[key])[:12]}… → {str(n_locked[key])[:12]}…)")
    o_cfg, n_cfg = old.get("config") or {}, new.get("config") or {}
    keys = sorted(k for k in set(o_cfg) | set(n_cfg) if o_cfg.get(k) != n_cfg.get(k))
    if keys:
        reasons.append("config changed: " + ", ".join(keys[:8]) + (" …" if len(keys) > 8 else ""))
    o_up, n_up = old.get("upstream") or {}, new.get("upstream") or {}
    ups = sorted(k for k in set(o_up) | set(n_up) if o_up.get(k) != n_up.get(k))
    if ups:
        reasons.append("upstream stage changed: " + ", ".join(ups))
    return "; ".join(reasons) or "the stage's definition changed"


def done_marker_path(stage: Mapping[str, Any]) -> str | None:
    """Where a stage's ``specc_done.json`` lives (its ``config.output_dir``), build-relative."""
    out = (stage.get("config") or {}).get("output_dir")
    return f"{str(out).rstrip('/')}/specc_done.json" if isinstance(out, str) and out else None

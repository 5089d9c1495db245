"""Pre-flight checks a stage runs before it touches any data: the lock, the upstream outputs, the firewall.

Why: the plan a reviewer approved names each data file, general suite and local model by content hash.
If one changed after review (re-exported, hand-edited, swapped), training or scoring on it would make the
approval meaningless, so every stage re-hashes what it reads against ``plan.json``'s lock and stops with
exit code 3 and a message naming the file. Outputs of earlier stages are only valid for the inputs they
were made under: each carries its stage's fingerprint (:mod:`specc.run.fingerprint`), and a stage refuses
an upstream output (a firewall report, an adapter, baseline results) whose fingerprint is not what the
current build expects, naming the stage to re-run. Training stages also refuse to run unless the firewall
report for the current data passed: the golden set must never have been seen by training data, or its
scores mean nothing.

What the guard verified is remembered for the rest of the process (:func:`current`): ``common.mark_done``
stamps it into the stage's done marker and ``common.last_checkpoint`` refuses to resume from checkpoints
made under another fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from specc.exit_codes import ExitCode
from specc.run import fingerprint as fpmod
from specc.run.manifest import HashCache, MISSING, content_sha256, file_sha256
from specc.runtime.common import log

__all__ = ["GUARD_EXIT", "fail", "verify_data", "verify_inputs", "verify_firewall_passed", "verify_models",
           "verify_upstream", "current", "made_under", "config_sha256"]

GUARD_EXIT = int(ExitCode.REFUSED)
"""Exit code for 'refused to run': changed data, missing or failed firewall, stale upstream, failed gate."""

HASH_CACHE = ".specc-hashes.json"
"""Stat-keyed sha256 cache of locked files outside the build (a local model is gigabytes; every stage
checks it), kept in the build directory. A file whose size, mtime and inode are unchanged is not re-read."""

_CURRENT: dict[str, Any] | None = None


def fail(message: str) -> NoReturn:
    log(f"REFUSED: {message}")
    sys.exit(GUARD_EXIT)


DATA_KEYS = ("data", "training", "golden", "validation", "replay", "suites")
"""Keys of a stage CONFIG that name locked data sources (a single entry or a list of entries; general suites
too, which may be Hub sources with no file). Other entries with a ``spec_path`` and a file (prompts, a reward
function) are found and checked too."""


def _document() -> dict[str, Any]:
    try:
        doc = fpmod.read_build(Path.cwd())
        doc["lock"]  # noqa: B018 - a build without a lock is not one specc compiled
        return doc
    except (OSError, KeyError, ValueError) as exc:
        fail(f"cannot read the lock from plan.json in {Path.cwd()} ({exc}); recompile the build")


def _lock() -> dict[str, Any]:
    return _document()["lock"]


def data_entries(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every data entry of a CONFIG that has a file path: training, golden, suites, prompts."""
    out: list[dict[str, Any]] = []
    for key in DATA_KEYS:
        value = config.get(key)
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict) and (entry.get("path") or entry.get("source")):
                out.append(entry)
    seen = {e.get("spec_path") for e in out}
    for entry in fpmod.referenced_files(config)[0]:
        if entry.get("path") and entry["spec_path"] not in seen:
            out.append(entry)
            seen.add(entry["spec_path"])
    return out


def _cache() -> HashCache:
    try:
        return HashCache(json.loads(Path(HASH_CACHE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return HashCache()


def _save_cache(cache: HashCache) -> None:
    try:
        tmp = Path(f".{HASH_CACHE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache.entries, sort_keys=True), encoding="utf-8")
        os.replace(tmp, HASH_CACHE)
    except OSError:  # a cache, never a reason to fail
        pass


DATA_LOCK = "reports/data-lock.json"
"""What the firewall stage records of each Hub source it read: commit, rows and their fingerprint."""


def verify_data(config: dict[str, Any]) -> None:
    """Exit 3 unless every spec data source the stage reads (training data, golden set, general suites,
    prompts) exists and matches its lock.

    Local files and folders match their locked sha256. A Hub source matches its locked commit (its
    revision must still resolve to it) and the fingerprint of its rows: the firewall stage records that
    fingerprint (``reports/data-lock.json``) when it reads the rows, and every later stage compares.

    Build-produced files (no ``spec_path``, e.g. teacher generations) are not in the lock: their
    producing stage wrote them after the plan was made; their freshness is the upstream check's job.
    """
    locked = {entry["path"]: entry for entry in _lock().get("data", [])}
    for entry in data_entries(config):
        if not entry.get("spec_path"):
            continue
        name = entry["spec_path"]
        kind = (entry.get("source") or {}).get("kind")
        if kind == "held_out":  # a share of data.train, checked as train
            continue
        if kind == "hub":
            _verify_hub(entry, locked.get(name) or {}, recording=config.get("kind") == "firewall")
            continue
        path = Path(entry["path"])
        role = (locked.get(name) or {}).get("role") or entry.get("role") or "data"
        what = {"suite": "general-suite file", "data": "file"}.get(role, "data file")
        if not path.exists():
            fail(f"{what} {name} ({role}) is missing (looked at {path} from the build directory)")
        # data files are in the lock; other spec files a stage reads (a reward function, a chat template) carry
        # the sha256 the plan recorded for them in their own entry
        expected = (locked.get(name) or {}).get("sha256") or entry.get("sha256")
        if not expected:
            fail(f"{what} {name} is not in the plan's lock; recompile the build")
        if path.is_dir():
            from specc.data.sources import local_sha256

            actual = local_sha256(path)
        else:
            actual = file_sha256(path)
        if actual != expected:
            fail(f"{what} {name} changed since the plan was made: sha256 {actual[:12]}… is not the "
                 f"locked {expected[:12]}…; re-run `specc plan`, review the change, then recompile")


def _verify_hub(entry: dict[str, Any], locked: dict[str, Any], *, recording: bool) -> None:
    """The locked commit, then the rows: recorded by the firewall stage, compared by every other stage."""
    from specc.data.jsonl import DataError
    from specc.data.sources import Source
    from specc.runtime import datasource

    name = entry["spec_path"]
    src = entry.get("source") or {}
    expected = (locked.get("source") or {}).get("revision") or src.get("revision")
    if not expected:
        fail(f"Hub source {name} has no locked revision; recompile the build")
    source = Source.from_entry(entry)
    try:
        now = datasource.resolve_revision(source, src.get("requested_revision"))  # None: the main branch
    except DataError as exc:
        fail(f"{exc}; the lock needs revision {expected}")
    if now != expected:
        fail(f"Hub source {name} moved since the plan was made: revision "
             f"{src.get('requested_revision') or 'main'!r} is now {now[:12]}…, not the locked {expected[:12]}…; "
             "re-run `specc plan`, review the change, then recompile")
    try:
        rows, digest = datasource.fingerprint(source)
    except DataError as exc:
        fail(str(exc))
    record_path = Path(DATA_LOCK)
    try:
        records = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    except ValueError:
        records = {}
    current = {"revision": now, "rows": rows, "fingerprint": digest}
    if recording:
        records[name] = current
        from specc.runtime.common import write_json

        write_json(record_path, records)
        return
    seen = records.get(name)
    if seen is None:
        fail(f"{DATA_LOCK} has no record of {name}: run the firewall stage first")
    if seen != current:
        fail(f"the rows of Hub source {name} differ from the rows the firewall read ({seen.get('rows')} rows, "
             f"fingerprint {str(seen.get('fingerprint'))[:12]}…; now {rows} rows, {digest[:12]}…); "
             "re-run the firewall stage on these rows")


def verify_models(config: dict[str, Any]) -> None:
    """Exit 3 unless every local model directory the stage loads has the files locked at compile.

    Weights or a tokenizer swapped after review would make the baseline and the tuned model different
    models from the reviewed one (and the forgetting gate compare the wrong pair). Builds compiled
    before models were hashed carry no ``sha256``: nothing to compare.
    """
    locked = {m.get("ref"): m for m in _lock().get("models", []) if isinstance(m, dict)}
    cache = _cache()
    try:
        for entry in fpmod.referenced_files(config)[1]:
            if entry.get("source") == "local" and entry.get("path"):
                from specc.runtime.common import model_ref

                model_ref(entry)  # a missing local model: one located line (exit 1) before anything else
            expected = (locked.get(entry["ref"]) or {}).get("sha256")
            if entry.get("source") != "local" or not entry.get("path") or not expected:
                continue
            actual = content_sha256(Path(entry["path"]), cache)
            if actual == MISSING:
                fail(f"local model {entry['ref']} is missing (looked at {entry['path']} from the build directory)")
            if actual != expected:
                fail(f"local model {entry['ref']} changed since compile: its files hash {actual[:12]}…, the "
                     f"lock says {expected[:12]}…; recompile the build to lock the new files (`specc compile`), "
                     "then re-run")
    finally:
        _save_cache(cache)


def verify_firewall_passed(report: str = "reports/firewall.json") -> dict[str, Any]:
    """Exit 3 unless the firewall stage ran and passed; returns the report."""
    path = Path(report)
    if not path.is_file():
        fail(f"{report} does not exist: run the firewall stage first")
    try:
        verdict = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        fail(f"{report} is not valid JSON: re-run the firewall stage")
    if not isinstance(verdict, dict) or verdict.get("passed") is not True:
        fail(f"{report} says the golden set overlaps the training data: fix the data, then re-run the firewall")
    return verdict


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _recorded(doc: dict[str, Any], stage_id: str) -> tuple[str, dict[str, Any] | None]:
    """(where, the fingerprint recorded in the stage's output) — the firewall report or the done marker."""
    stage = fpmod.stage_entry(doc, stage_id) or {}
    if stage.get("kind") == "firewall":
        where = (stage.get("outputs") or {}).get("report") or "reports/firewall.json"
        report = _read_json(Path(where)) or {}
        return where, (report.get("made_under") or {}).get("fingerprint")
    where = fpmod.done_marker_path(stage) or f"artifacts/{stage_id}/specc_done.json"
    return where, (_read_json(Path(where)) or {}).get("fingerprint")


def _stale(doc: dict[str, Any], stage_id: str, memo: dict[str, Any]) -> tuple[str, str, str] | None:
    """(stage, where, why) of the earliest stale stage at or above ``stage_id``, or None when current."""
    for dep in fpmod.upstream_stages(doc, stage_id):
        found = _stale(doc, dep, memo)
        if found:
            return found
    want = fpmod.stage_fingerprint(doc, stage_id, memo)
    where, got = _recorded(doc, stage_id)
    if not Path(where).exists():
        return stage_id, where, "it has not completed in this build"
    if not isinstance(got, dict) or got.get("digest") != want.digest:
        return stage_id, where, fpmod.explain(got if isinstance(got, dict) else None, want)
    return None


def _rerun_hint(doc: dict[str, Any], first: str, me: str) -> str:
    """The commands that bring the chain from ``first`` to ``me`` up to date."""
    closure: set[str] = set()

    def up(sid: str) -> None:
        for dep in fpmod.upstream_stages(doc, sid):
            if dep not in closure:
                closure.add(dep)
                up(dep)

    up(me)
    order = [s["id"] for s in (doc.get("plan") or {}).get("stages") or [] if isinstance(s, dict)]
    chain = [sid for sid in order[order.index(first):order.index(me) + 1] if sid in closure | {me}] \
        if first in order and me in order else [first, me]
    return f"`specc run {Path.cwd()} --from {first}` (or `./run.sh {' '.join(chain)}`)"


def verify_upstream(config: dict[str, Any], *, require_firewall: bool = True) -> None:
    """Exit 3 unless the outputs this stage consumes were made under the fingerprints the current build
    expects: the firewall report for this data (training stages) and every upstream stage's done marker.

    The message names the earliest stale stage, why it is stale (which file or key changed) and the
    command that re-runs it and everything after it.
    """
    doc = _document()
    stage_id = config.get("stage")
    if not isinstance(stage_id, str) or fpmod.stage_entry(doc, stage_id) is None:
        if require_firewall:
            verify_firewall_passed()
        return
    deps = fpmod.upstream_stages(doc, stage_id)
    firewalls = [d for d in deps if (fpmod.stage_entry(doc, d) or {}).get("kind") == "firewall"]
    if require_firewall and not firewalls:
        verify_firewall_passed()
    memo: dict[str, Any] = {}
    for fw in firewalls:
        where = (fpmod.stage_entry(doc, fw) or {}).get("outputs", {}).get("report") or "reports/firewall.json"
        if not Path(where).is_file():
            fail(f"{where} does not exist: run the firewall stage first: {_rerun_hint(doc, fw, stage_id)}")
        want = fpmod.stage_fingerprint(doc, fw, memo)
        got = ((_read_json(Path(where)) or {}).get("made_under") or {}).get("fingerprint")
        if not isinstance(got, dict) or got.get("digest") != want.digest:
            fail(f"{where} was made for other inputs than this build locks "
                 f"({fpmod.explain(got if isinstance(got, dict) else None, want)}): its verdict does not cover "
                 f"the data this stage would train on; re-run the firewall: {_rerun_hint(doc, fw, stage_id)}")
        verify_firewall_passed(where)
    for dep in deps:
        if dep in firewalls:
            continue
        want = fpmod.stage_fingerprint(doc, dep, memo)
        where, got = _recorded(doc, dep)
        if isinstance(got, dict) and got.get("digest") == want.digest:
            continue  # made under the current chain: its own guard checked everything above it
        first, first_where, why = _stale(doc, dep, memo) or (dep, where, fpmod.explain(got, want))
        fail(f"stage {stage_id} reads the outputs of stage {dep}, but stage {first} ({first_where}) is not "
             f"current: {why}; re-run it and what follows: {_rerun_hint(doc, first, stage_id)}")


def config_sha256(config: dict[str, Any]) -> str:
    """sha256 of the script's own CONFIG as it will run (an edit in the script counts, bookkeeping keys
    such as checkpoint pacing and the W&B names do not)."""
    text = json.dumps(fpmod.semantic_config(config), sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def verify_inputs(config: dict[str, Any], *, require_firewall: bool = True) -> None:
    """The pre-flight of every stage: the data, suites and local models still match the lock; the
    upstream outputs (and, for training stages, the firewall report) were made under the current
    fingerprints. Runs with cwd = the build directory. Remembers the stage's fingerprint (:func:`current`)."""
    global _CURRENT
    verify_data(config)
    verify_models(config)
    verify_upstream(config, require_firewall=require_firewall)
    doc = _document()
    stage_id = config.get("stage")
    if isinstance(stage_id, str) and fpmod.stage_entry(doc, stage_id) is not None:
        _CURRENT = {"fingerprint": dict(fpmod.stage_fingerprint(doc, stage_id)),
                    "config_sha256": config_sha256(config)}
        log(f"inputs match the lock (fingerprint {_CURRENT['fingerprint']['digest'][:12]})")
    else:
        log("inputs match the lock")


def current() -> dict[str, Any] | None:
    """``{"fingerprint", "config_sha256"}`` this stage was verified under, or None before the guard ran."""
    return _CURRENT


def made_under() -> dict[str, Any]:
    """What a report records about the inputs it was made for: the stage fingerprint (with the locked
    file hashes it covers) and the script config hash. Empty before the guard ran."""
    return dict(_CURRENT or {})


def verify_rows(config: dict[str, Any], key: str | None = None) -> None:
    """Exit 1 naming ``file:line`` unless every row of every training file (and the golden set) fits its
    format, read by the same reader the training stages use (:func:`specc.data.jsonl.iter_jsonl`:
    duplicate keys and lone surrogates are refused there).

    The planner looks at the first row only (it must stay fast on large files); a malformed row further
    down would otherwise surface as a traceback deep inside a trainer, hours into a run. The firewall
    stage reads every row anyway, so it checks them here, before any training stage can start.
    """
    from specc.data.jsonl import DataError
    from specc.data.rowformat import detect_format, row_problem
    from specc.data.sources import Source, iter_source_rows

    entries: list[Any] = []
    for k in (key,) if key else ("training", "golden"):
        value = config.get(k)
        entries += value if isinstance(value, list) else [value]
    for entry in entries:
        if not isinstance(entry, dict) or not (entry.get("path") or entry.get("source")):
            continue
        if (entry.get("source") or {}).get("kind") == "held_out":  # rows of data.train, checked there
            continue
        name = entry.get("spec_path") or entry["path"]
        fmt = entry.get("format") or "auto"
        try:
            for _name, line, row in iter_source_rows(Source.from_entry(entry, name=name)):
                if fmt == "auto":
                    fmt = detect_format(row)
                    if fmt is None:
                        raise ValueError(f"{name}:{line}: row keys {sorted(row)} match no known data format")
                problem = row_problem(row, fmt, entry.get("role"))
                if problem:
                    log(f"REFUSED: {name}:{line}: {problem}")
                    sys.exit(ExitCode.INVALID)
        except (DataError, ValueError) as exc:
            log(f"REFUSED: {exc}")
            sys.exit(ExitCode.INVALID)

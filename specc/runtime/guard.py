"""Pre-flight checks a stage runs before it touches any data: the lock and the firewall verdict.

Why: the plan a reviewer approved names each data file by content hash. If a file changed after review
(re-exported, hand-edited, swapped), training on it would make the approval meaningless, so every stage
re-hashes its inputs against ``plan.json``'s lock and stops with exit code 3 and a message naming the
file. Training stages also refuse to run unless the firewall stage's report exists and says it passed:
the golden set must never have been seen by training data, or its scores mean nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from specc.exit_codes import ExitCode
from specc.run.manifest import file_sha256
from specc.runtime.common import log

__all__ = ["GUARD_EXIT", "fail", "verify_data", "verify_inputs", "verify_firewall_passed"]

GUARD_EXIT = int(ExitCode.REFUSED)
"""Exit code for 'refused to run': changed data, missing or failed firewall, failed gate."""


def fail(message: str) -> NoReturn:
    log(f"REFUSED: {message}")
    sys.exit(GUARD_EXIT)


DATA_KEYS = ("data", "training", "golden")
"""Keys of a stage CONFIG that name locked data files (a single entry or a list of entries)."""


def _lock() -> dict[str, Any]:
    from specc.build.reader import BuildReadError, read_build

    try:
        lock = read_build(Path(".")).lock
    except BuildReadError as exc:
        fail(f"cannot read the lock of the build in {Path.cwd()}: {exc}")
    if not lock:
        fail(f"plan.json in {Path.cwd()} has no lock section; recompile the build")
    return lock


def data_entries(config: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in (*DATA_KEYS, "validation"):
        value = config.get(key)
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, dict) and (entry.get("path") or entry.get("source")):
                out.append(entry)
    return out


DATA_LOCK = "reports/data-lock.json"
"""What the firewall stage records of each Hub source it read: commit, rows and their fingerprint."""


def verify_data(config: dict[str, Any]) -> None:
    """Exit 3 unless every spec data source the stage reads exists and matches its lock.

    Local files and folders match their locked sha256. A Hub source matches its locked commit (its
    revision must still resolve to it) and the fingerprint of its rows: the firewall stage records that
    fingerprint (``reports/data-lock.json``) when it reads the rows, and every later stage compares.
    Build-produced files (no ``spec_path``, e.g. teacher generations) are not in the lock: their
    producing stage wrote them after the plan was made.
    """
    locked = {entry["path"]: entry for entry in _lock().get("data", [])}
    for entry in data_entries(config):
        if not entry.get("spec_path"):
            continue
        name = entry["spec_path"]
        if (entry.get("source") or {}).get("kind") == "held_out":  # a share of data.train, checked as train
            continue
        if (entry.get("source") or {}).get("kind") == "hub":
            _verify_hub(entry, locked.get(name) or {}, recording=config.get("kind") == "firewall")
            continue
        path = Path(entry["path"])
        if not path.exists():
            fail(f"data file {name} ({entry.get('role')}) is missing (looked at {path} from the build directory)")
        expected = (locked.get(name) or {}).get("sha256")
        if not expected:
            fail(f"data file {name} is not in the plan's lock; recompile the build")
        if path.is_dir():
            from specc.data.sources import local_sha256

            actual = local_sha256(path)
        else:
            actual = file_sha256(path)
        if actual != expected:
            fail(f"data file {name} changed since the plan was made: sha256 {actual[:12]}… is not the "
                 f"locked {expected[:12]}…; re-run `specc plan`, review the change, then recompile")
    log("inputs match the lock")


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


def verify_firewall_passed(report: str = "reports/firewall.json") -> None:
    """Exit 3 unless the firewall stage ran and passed."""
    path = Path(report)
    if not path.is_file():
        fail(f"{report} does not exist: run the firewall stage first")
    try:
        verdict = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        fail(f"{report} is not valid JSON: re-run the firewall stage")
    if verdict.get("passed") is not True:
        fail(f"{report} says the golden set overlaps the training data: fix the data, then re-run the firewall")


def verify_inputs(config: dict[str, Any], *, require_firewall: bool = True) -> None:
    """The pre-flight of every stage that reads data: the firewall passed (training stages) and the
    data still matches the lock. Runs with cwd = the build directory."""
    if require_firewall:
        verify_firewall_passed()
    verify_data(config)


def verify_rows(config: dict[str, Any], key: str = "training") -> None:
    """Exit 1 naming ``file:line`` unless every row of every training file fits its format.

    The planner looks at the first row only (it must stay fast on large files); a malformed row further
    down would otherwise surface as a traceback deep inside a trainer, hours into a run. The firewall
    stage reads every row anyway, so it checks them here, before any training stage can start.
    """
    from specc.data.jsonl import DataError
    from specc.data.rowformat import detect_format, row_problem
    from specc.data.sources import Source, iter_source_rows

    value = config.get(key)
    for entry in value if isinstance(value, list) else [value]:
        if not isinstance(entry, dict) or not (entry.get("path") or entry.get("source")):
            continue
        name = entry.get("spec_path") or entry["path"]
        fmt = entry.get("format") or "auto"
        try:
            for _name, line, row in iter_source_rows(Source.from_entry(entry, name=name)):
                if fmt == "auto":
                    fmt = detect_format(row)
                    if fmt is None:
                        raise ValueError(f"{name}:{line}: row keys {sorted(row)} match no known data format")
                problem = row_problem(row, fmt)
                if problem:
                    log(f"REFUSED: {name}:{line}: {problem}")
                    sys.exit(ExitCode.INVALID)
        except (DataError, ValueError) as exc:
            log(f"REFUSED: {exc}")
            sys.exit(ExitCode.INVALID)

"""Facts about the spec's data files, read from disk: exists, sha256, rows, bytes, detected row format.

Why the planner reads data at all: the method depends on what data is present (pairs → DPO), the
compute estimate depends on how much there is, and the plan locks every input by content hash so a
training stage can refuse data that changed after review. Reading is streaming (one line at a time)
and only the first row is parsed, to keep ``specc plan`` fast on large files; ``specc check`` is the
command that validates every row.

Paths are resolved against the spec's directory and reported as the spec wrote them, so plans carry
no absolute paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from specc.data.jsonl import DataError, count_rows_and_sha256, iter_jsonl, not_a_regular_file
from specc.plan.model import DataFact
from specc.data.rowformat import ROLE_FORMATS, detect_format, row_problem

__all__ = ["DataProblem", "ROLE_FORMATS", "check_format", "detect_format", "read_data_fact"]

@dataclass(frozen=True)
class DataProblem:
    """Why a data file cannot be used as written; the planner turns it into a finding of ``rule``."""

    rule: str
    message: str
    hint: str = ""


def read_data_fact(
    role: str, name: str, path: str, declared: str, base_dir: Path,
    on_chunk: Callable[[bytes], None] | None = None,
) -> tuple[DataFact, DataProblem | None]:
    """Read one data file's facts. Never raises for bad data: problems come back as a :class:`DataProblem`.

    ``declared`` is the format the spec states ("auto" to detect; a suite's kind for suites, which are
    not format-checked here). ``on_chunk`` is given every chunk of the file's bytes as the hash reads them
    (the planner's personal-data scan rides on this one pass instead of reading the file again).
    """
    file = base_dir / path
    missing = DataFact(role=role, name=name, path=path, format=declared, exists=False)  # type: ignore[arg-type]
    try:
        st = file.stat()
    except FileNotFoundError:
        return missing, DataProblem(
            "DATA-MISSING", f"{role} file {path!r} does not exist", "paths are relative to the spec's directory"
        )
    except (OSError, ValueError) as exc:  # e.g. a name longer than the filesystem allows, a loop of links
        reason = getattr(exc, "strerror", None) or str(exc)
        return missing, DataProblem("DATA-MISSING", f"{role} file {path[:80]!r} cannot be read: {reason}",
                                    "paths are relative to the spec's directory")
    kind = not_a_regular_file(st.st_mode)
    if kind is not None:  # a FIFO would hang the read, /dev/zero never ends: say what it is, read nothing
        return missing, DataProblem("DATA-UNREADABLE", f"{role} file {path!r} is {kind}, not a file of rows",
                                    "point the spec at a regular JSONL file")
    size = st.st_size
    try:
        rows, sha = count_rows_and_sha256(file, display_name=path, on_chunk=on_chunk)
    except DataError as exc:
        return missing, DataProblem("DATA-UNREADABLE", str(exc), "check the file's permissions")
    fmt, problem = _format(role, path, declared, file)
    fact = DataFact(
        role=role, name=name, path=path, format=fmt, exists=True, sha256=sha, rows=rows, bytes=size  # type: ignore[arg-type]
    )
    return fact, problem


UNPAIRED_HINT = ("rows with prompt, completion and label are unpaired preferences: as demonstrations they "
                 "would train on the answers labelled bad; move the file to data.preference (trained with KTO)")


def _format(role: str, path: str, declared: str, file: Path) -> tuple[str, DataProblem | None]:
    """Detect the format from the first row and check it against the declaration and the role."""
    if role == "suite":
        return declared, None
    try:
        first = next(iter(iter_jsonl(file, display_name=path)))[1]
    except DataError as exc:
        return declared, DataProblem("DATA-UNREADABLE", str(exc), "every line must be one JSON object")
    return check_format(role, path, declared, first)


def check_format(role: str, path: str, declared: str, first: dict) -> tuple[str, DataProblem | None]:
    """The format of a source from its first (canonical) row, checked against the declaration and the role."""
    detected = detect_format(first)
    if detected is None:
        keys = ", ".join(sorted(first)) or "none"
        return declared, DataProblem(
            "DATA-FORMAT-MISMATCH",
            f"{path}:1: row keys ({keys}) match no known format",
            "use messages, prompt/completion, prompt/chosen/rejected, text or prompt",
        )
    if declared not in ("auto", detected) and not (declared == "prompts" and "prompt" in first):
        return detected, DataProblem(
            "DATA-FORMAT-MISMATCH",
            f"{path}:1: declared format {declared!r} but the row looks like {detected!r}",
            f"set format: {detected} (or auto) or fix the file",
        )
    fmt = declared if declared != "auto" else detected
    allowed = ROLE_FORMATS.get(role, ())
    if fmt not in allowed:
        return fmt, DataProblem(
            "DATA-FORMAT-MISMATCH",
            f"{path}: a {role} file must be {' or '.join(allowed)}, not {fmt}",
            UNPAIRED_HINT if fmt == "unpaired_preference" else "move the file to the section its rows belong to",
        )
    problem = row_problem(first, fmt, role)
    if problem:  # the same rule `specc check` and the firewall stage apply to every row
        return fmt, DataProblem("DATA-UNREADABLE", f"{path}:1: {problem}", "`specc check SPEC` checks every row")
    return fmt, None

"""Streaming JSONL reading with positions a user can act on.

Training and golden data arrive as JSONL files that people edit by hand, concatenate
with shell tools and export from other systems, so they break in predictable ways:
a truncated line, a stray Latin-1 byte, an array where an object belongs, an empty
file. Every such problem surfaces here as one :class:`DataError` naming
``file:line[:column]`` instead of a traceback from deep inside a scan.

Reading is streaming (one line in memory at a time) because training sets are
larger than the memory budget of CI machines; a line longer than
``MAX_LINE_BYTES`` is rejected rather than read, so one corrupt multi-gigabyte
"line" cannot exhaust memory either.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

__all__ = ["DataError", "MAX_LINE_BYTES", "count_rows_and_sha256", "iter_jsonl"]

#: Longest accepted line, in bytes (newline included). Real rows are kilobytes;
#: 16 MiB leaves room for long documents while refusing runaway lines.
MAX_LINE_BYTES = 16 * 1024 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


class DataError(ValueError):
    """A data file is not valid JSONL; names where, so the user can fix it.

    ``path`` is the path as given by the caller (callers pass display paths when
    they want relative paths in messages), ``line`` is 1-based (0 when the problem
    concerns the whole file, e.g. it is empty), ``column`` is 1-based in characters
    when known.
    """

    def __init__(self, path: str | os.PathLike[str], line: int, message: str, column: int | None = None):
        self.path = os.fspath(path)
        self.line = line
        self.column = column
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path
        if self.line:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:  # keeps the error picklable across processes
        return (type(self), (self.path, self.line, self.message, self.column))


def iter_jsonl(
    path: str | os.PathLike[str],
    *,
    display_name: str | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for every non-blank line of a JSONL file.

    Blank (whitespace-only) lines are skipped but still counted, so line numbers
    match what an editor shows. Raises :class:`DataError` (named with
    ``display_name`` or ``path``) for: a missing/unreadable file, an empty file (no
    rows at all), bytes that are not UTF-8 (with their byte offset in the file),
    malformed JSON (with the column), a row that is not a JSON object, and a line
    longer than ``max_line_bytes``.
    """
    name = display_name if display_name is not None else os.fspath(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise DataError(name, 0, f"cannot open: {exc.strerror or exc}") from None
    with handle:
        readline = handle.readline
        line_no = 0
        offset = 0  # byte offset of the current line's start
        rows = 0
        loads = json.loads
        while True:
            raw = readline(max_line_bytes + 1)
            if not raw:
                break
            line_no += 1
            if len(raw) > max_line_bytes:
                raise DataError(name, line_no, f"line is longer than {max_line_bytes} bytes; not a JSONL row")
            start = offset
            offset += len(raw)
            if line_no == 1 and raw.startswith(_GZIP_MAGIC):
                raise DataError(name, 1, "gzip-compressed data, not JSONL text: decompress it (gunzip) or name "
                                         "it .jsonl.gz")
            if line_no == 1 and raw.startswith(_UTF8_BOM):
                raw = raw[3:]
                start += 3
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    name,
                    line_no,
                    f"not UTF-8: byte 0x{raw[exc.start]:02x} at file offset {start + exc.start}",
                ) from None
            if text.isspace():
                continue
            try:
                row = loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(name, line_no, f"malformed JSON: {exc.msg}", column=exc.colno) from None
            except RecursionError:
                raise DataError(name, line_no, "malformed JSON: nested too deeply") from None
            if type(row) is not dict:
                raise DataError(name, line_no, f"row must be a JSON object, got {_json_type(row)}", column=1)
            rows += 1
            yield line_no, row
        if rows == 0:
            raise DataError(name, 0, "empty file: no JSONL rows")


def count_rows_and_sha256(path: str | os.PathLike[str], *, display_name: str | None = None) -> tuple[int, str]:
    """Return ``(rows, sha256_hex)`` of a JSONL file in one streaming pass over its bytes.

    ``rows`` counts non-blank lines (the rows :func:`iter_jsonl` would yield, without
    parsing them); the hash covers the exact bytes, so the plan can lock data by
    content. Memory is one line at a time.
    """
    name = display_name if display_name is not None else os.fspath(path)
    digest = hashlib.sha256()
    rows = 0
    try:
        with open(path, "rb") as handle:
            update = digest.update
            for raw in handle:
                update(raw)
                if not raw.isspace():
                    rows += 1
    except OSError as exc:
        raise DataError(name, 0, f"cannot read: {exc.strerror or exc}") from None
    return rows, digest.hexdigest()


def _json_type(value: object) -> str:
    """Name a decoded JSON value by its JSON type, as users know it."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"

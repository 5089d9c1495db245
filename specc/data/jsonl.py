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
import re
import stat
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["DataError", "MAX_LINE_BYTES", "count_rows_and_sha256", "iter_jsonl", "not_a_regular_file",
           "open_regular"]

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


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def not_a_regular_file(mode: int) -> str | None:
    """What a file of ``mode`` is when it is not a regular file ("a named pipe (FIFO)" …), else None.

    Why: reading a FIFO blocks forever, ``/dev/zero`` never ends, and a directory is not data; each is
    refused by name instead of hanging a command or being reported as "does not exist".
    """
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike[str], name: str, verb: str = "open"):
    """Open a data file for binary reading, refusing anything but a regular file without blocking on it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise DataError(name, 0, f"cannot {verb}: {exc.strerror or exc}") from None
    try:
        kind = not_a_regular_file(os.fstat(fd).st_mode)
        if kind is not None:
            raise DataError(name, 0, f"is {kind}, not a regular file of JSONL rows")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    row = dict(pairs)
    if len(row) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _DuplicateKey(dup)
    return row


class _DuplicateKey(ValueError):
    pass


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _lone_surrogate(value: Any) -> str | None:
    """The first string (key or value) in ``value`` holding a lone UTF-16 surrogate, which no UTF-8 text,
    tokenizer or Arrow table accepts (JSON lets ``"\\ud800"`` through)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"\\u{ord(value[exc.start]):04x}"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _lone_surrogate(k) or _lone_surrogate(v)
            if found:
                return found
    elif isinstance(value, list):
        for v in value:
            found = _lone_surrogate(v)
            if found:
                return found
    return None


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
    handle = open_regular(path, name)
    with handle:
        readline = handle.readline
        line_no = 0
        offset = 0  # byte offset of the current line's start
        rows = 0
        strict = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys).decode
        # With the native key count (specc.contract.native), a line is parsed by the fast plain decoder and
        # parsed again with the duplicate-detecting hook only when its written keys outnumber its parsed ones.
        from specc.contract import native

        # The plain decoder's scanner itself (what ``decode`` calls after two whitespace regexes) takes a line
        # that is one object and a newline; anything else goes to the strict decoder, whose errors are reported.
        scan_once = json.JSONDecoder().scan_once if native.ENABLED else None
        line_flags = native.line_flags
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
            surrogates = True  # whether a lone surrogate is possible (the expression below decides)
            try:
                row = None
                if scan_once is not None and text[0] == "{":
                    try:
                        row, end = scan_once(text, 0)
                    except (StopIteration, ValueError, RecursionError):
                        row = None  # the strict decoder below says what is wrong
                    else:
                        flags = line_flags(raw, row)
                        if (end < len(text) and text[end:].strip(" \t\n\r")) or flags & 1:
                            row = None  # extra data, or a repeated key: the strict decoder raises the error
                        else:
                            surrogates = bool(flags & 2)
                if row is None:
                    row = strict(text)
            except json.JSONDecodeError as exc:
                raise DataError(name, line_no, f"malformed JSON: {exc.msg}", column=exc.colno) from None
            except _DuplicateKey as exc:
                raise DataError(name, line_no, f"duplicate key {str(exc)!r} in one object: JSON readers "
                                "disagree on which value wins; keep one") from None
            except RecursionError:
                raise DataError(name, line_no, "malformed JSON: nested too deeply") from None
            if type(row) is not dict:
                raise DataError(name, line_no, f"row must be a JSON object, got {_json_type(row)}", column=1)
            if surrogates and _SURROGATE_ESCAPE.search(text):
                lone = _lone_surrogate(row)
                if lone:
                    raise DataError(name, line_no, f"lone surrogate {lone}: half of a UTF-16 pair, not a "
                                    "character; tokenizers and Arrow refuse it (fix the export)")
            rows += 1
            yield line_no, row
        if rows == 0:
            raise DataError(name, 0, "empty file: no JSONL rows")


def count_rows_and_sha256(path: str | os.PathLike[str], *, display_name: str | None = None,
                          on_chunk: Callable[[bytes], None] | None = None) -> tuple[int, str]:
    """Return ``(rows, sha256_hex)`` of a JSONL file in one streaming pass over its bytes.

    ``rows`` counts non-blank lines (the rows :func:`iter_jsonl` would yield, without
    parsing them); the hash covers the exact bytes, so the plan can lock data by
    content. Memory is one line at a time.
    """
    name = display_name if display_name is not None else os.fspath(path)
    digest = hashlib.sha256()
    rows = 0
    blank = True  # the current (unfinished) line holds only whitespace so far
    try:
        with open_regular(path, name, "read") as handle:
            update = digest.update
            # Fixed-size chunks, not lines: a file without newlines must not be read into memory whole.
            while chunk := handle.read(_CHUNK):
                update(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
                pieces = chunk.split(b"\n")
                for piece in pieces[:-1]:  # each ends a line
                    if blank and not piece.isspace() and piece:
                        blank = False
                    if not blank:
                        rows += 1
                    blank = True
                tail = pieces[-1]
                if blank and tail and not tail.isspace():
                    blank = False
        if not blank:
            rows += 1
    except OSError as exc:
        raise DataError(name, 0, f"cannot read: {exc.strerror or exc}") from None
    return rows, digest.hexdigest()


_CHUNK = 1 << 20


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

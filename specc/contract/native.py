"""The native (C) fast paths of ``specc check``, and the pure-Python code they stand in for.

Why: ``specc check`` reads every training byte in CI, and per-word work done one Python object per word
(lower-case, digit-group fold, punctuation, split, m-gram lookup) costs several times the JSON parse itself.
The C extension ``specc.contract._fastscan`` (built by ``pip install``, optional) does that work without
creating Python objects, for three things, each with a pure-Python equivalent here:

* :func:`row_prefilter` - a *sound* prefilter of the firewall's per-row matcher: False only when the exact
  matcher (:func:`specc.contract.firewall.row_matcher`) cannot find an exact, contained or n-gram hit in the
  row. It hashes (64-bit) the row's words, normalised exactly as :mod:`specc.contract.textnorm` normalises them
  (ASCII text in C, any other text through :func:`~specc.contract.textnorm.normalize_words`), and looks up every
  key a hit needs: each whole field and the whole row (exact stage, and the contained stage's whole-part
  fields), each aligned chunk of m words (the n-gram prefilter's m-grams and the contained stage's anchor
  bigrams, :mod:`specc.contract.index`). Equal words hash equally, so a hit is never missed; a collision only
  sends a row to the exact matcher, which decides. Rows it passes still go through the same matcher, so every
  hit, count, coverage and snippet is the Python code's own. The fallback is no prefilter (every row to the
  matcher).
* :func:`line_flags` - the sound, cheap tests behind :mod:`specc.data.jsonl`'s duplicate-key and lone-surrogate
  errors: a line is parsed without the (slow) duplicate-detecting hook, and only when the keys written in the
  line outnumber the keys of the parsed objects (which happens exactly when an object repeats a key) is it
  parsed again with the hook, which raises the located error; the surrogate-escape search is a ``memchr`` for
  backslashes instead of a regular expression over every line. The fallback parses every line with the hook.
* :func:`line_kinds` - :func:`specc.contract.pii.kinds_possible` for every line of a block at once, and the
  block's row count; the personal-data scan then parses and scans exactly the lines it did before.

``SPECC_NATIVE=0`` in the environment forces the fallbacks (the tests run both ways:
``tests/test_native.py::test_the_firewall_tests_pass_on_the_fallback_too``).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ENABLED", "ascii_classes", "line_flags", "line_kinds", "plain_chat_ok", "row_prefilter"]


def _load() -> Any:
    if os.environ.get("SPECC_NATIVE", "1").strip() in ("0", "false", "no", "off"):
        return None
    try:
        from specc.contract import _fastscan
    except ImportError:  # built without a C compiler: the Python code gives the same results
        return None
    if stale(_fastscan):
        sys.stderr.write("specc: the C fast path of `specc check` was built from an older _fastscan.c (rebuild it: "
                         "pip install -e .); using the Python code, which gives the same results, slower\n")
        return None
    return _fastscan


def stale(module: Any, source: Path | None = None) -> bool:
    """True when ``module`` was built from another version of its C source than the one beside it.

    Why: an editable install keeps the built module next to ``_fastscan.c``; a ``git pull`` that changes the C
    code without a rebuild would leave a module whose answers no longer match the Python definitions it stands
    in for (a silently wrong prefilter drops firewall hits). setup.py builds the source's SHA-256 into the
    module; an installed wheel ships no source, and then there is nothing to compare (not stale)."""
    source = source if source is not None else Path(__file__).with_name("_fastscan.c")
    try:
        data = source.read_bytes()
    except OSError:
        return False
    return getattr(module, "SOURCE_SHA256", "") != hashlib.sha256(data).hexdigest()


_C = _load()
ENABLED: bool = _C is not None


def ascii_classes() -> bytes:
    """textnorm's ASCII path as a 128-byte table for the C normaliser: per character (before lower-casing),
    0 = deleted (apostrophe, control characters), 1 = a word separator (punctuation, whitespace), 2 = kept
    (lower-cased). Derived from :data:`specc.contract.textnorm.ASCII_TABLE`, so the two cannot drift apart."""
    from specc.contract.textnorm import ASCII_TABLE

    out = bytearray(128)
    for code in range(128):
        lower = ord(chr(code).lower())
        value = ASCII_TABLE[lower]
        if value is None or value == "":
            out[code] = 0
        elif value.isspace():
            out[code] = 1
        elif value == chr(lower):
            out[code] = 2
        else:  # a remapped ASCII character would need the C side to know the mapping: refuse to guess
            raise AssertionError(f"textnorm maps ASCII {chr(code)!r} to {value!r}; _fastscan cannot follow")
    return bytes(out)


def row_prefilter(index: Any, settings: Any) -> Callable[[dict], bool] | None:
    """``candidate(row) -> bool`` for the exact, contained and n-gram stages of ``index`` under ``settings``
    (see the module docstring), or None without the extension (then every row is a candidate).

    A row that holds declared boilerplate (``eval.firewall.ignore``) is always a candidate: the matcher cuts it
    out and counts it (a row without any is left as it is, so the keys above decide). The caller must not use
    it when the matcher needs every row (near-duplicates). Built once per index and settings (cached on the
    index): it hashes every golden key, and every training file of a scan gets its own row matcher."""
    if _C is None:
        return None
    if settings not in index.native_prefilters:
        index.native_prefilters[settings] = _build_prefilter(index, settings)
    return index.native_prefilters[settings]


def _build_prefilter(index: Any, settings: Any) -> Callable[[dict], bool] | None:
    from specc.contract.fields import STRUCTURAL_KEYS, _COMMON_LABELS, is_label
    from specc.contract.textnorm import normalize_words

    chunks: dict[int, set] = {}
    if settings.ngrams:
        for m, grams in index.prefilters.items():
            chunks.setdefault(m, set()).update(grams)
    fields: list = []
    rows: list = []
    if settings.exact:
        fields.extend(key.split(" ") for key in index.exact_fields)
        rows.extend(key.split(" ") for key in index.exact_rows)
    if settings.contained and index.parts:
        fields.extend(key.split(" ") for key in index.part_fields)
        if index.anchors:
            chunks.setdefault(2, set()).update(index.anchors)
    boilerplate = [pattern.split() for pattern in index.boilerplate.patterns]
    try:
        prefilter = _C.Prefilter(chunks, fields, rows, ascii_classes(), normalize_words, is_label,
                                 frozenset(STRUCTURAL_KEYS), frozenset(_COMMON_LABELS), boilerplate)
    except UnicodeError:  # a golden word UTF-8 cannot hold (the normaliser deletes surrogates): no shortcut
        return None
    return prefilter.candidate


def line_flags(raw: bytes, row: Any) -> int:
    """For the valid JSON line ``raw``, parsed into ``row`` without a duplicate-key hook: bit 1 unless no object
    had a repeated key; bit 2 when ``raw`` holds a ``\\u`` escape of a surrogate (``jsonl._SURROGATE_ESCAPE``).
    The fallback cannot tell, so it sets both (the caller then runs its own checks)."""
    return 3


def plain_chat_ok(turns: Any, need: int) -> bool | None:
    """:func:`specc.data.rowformat._plain_chat_ok` with ``need`` = 1 (an assistant turn anywhere), 2 (the last
    turn is the assistant's) or 0; None without the extension (the caller runs its own code)."""
    return None


if _C is not None:  # the C functions themselves: these run once per row
    line_flags = _C.line_flags  # noqa: F811
    plain_chat_ok = _C.plain_chat_ok  # noqa: F811


def line_kinds(block: bytes, max_line: int) -> tuple[int, int, list[tuple[int, int]]] | None:
    """``(lines, rows, [(line index, kinds mask), ...])`` of a block of JSONL lines (see
    :meth:`specc.contract.pii.ByteScanner._block`), or None without the extension."""
    if _C is None:
        return None
    return _C.line_kinds(block, max_line)

"""Render values as inert literals of Python, POSIX shell and YAML.

Why this module exists: emitted files are code, and a spec is user data. A spec string that contains
quotes, newlines, ``{{ }}``, ``\"\"\"`` or ``__import__('os').system(...)`` must come out of the compiler
as a *value* in every target language, never as source. Templates therefore never interpolate raw
values; they pass them through one of the renderers here, and the emitter's jinja environment refuses
any ``{{ ... }}`` output that did not come from one of them (see :class:`Rendered`).

Only JSON-like data is accepted (None, bool, int, finite float, str, list/tuple, dict with str keys):
that is all a Plan holds, and it is exactly what each target language can express as a literal.
"""

from __future__ import annotations

import ast
import math
import re
import shlex
from typing import Any

import yaml

__all__ = ["LiteralError", "Rendered", "py", "py_block", "sh", "sh_export", "yaml_literal", "check_value"]


class LiteralError(ValueError):
    """A value that cannot be rendered as an inert literal (an object, a NaN, a non-string key)."""


class Rendered(str):
    """A string that is already a literal of its target language; the only thing templates may output."""


def check_value(value: Any, where: str = "value") -> None:
    """Raise :class:`LiteralError` unless ``value`` is JSON-like data with finite numbers and str keys."""
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LiteralError(f"{where}: non-finite float {value!r} has no safe literal form")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LiteralError(f"{where}: dict key {key!r} is not a string")
            check_value(item, f"{where}.{key}")
        return
    raise LiteralError(f"{where}: {type(value).__name__} is not literal data")


def _py(value: Any) -> str:
    # repr() of str/int/float/bool/None is a Python literal by definition; containers are built here so
    # that tuples become lists and dict key order is kept (plans are already canonical).
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    return repr(value)


def py(value: Any) -> Rendered:
    """A Python expression that evaluates (by ``ast.literal_eval``) to ``value``; verified, not trusted."""
    check_value(value)
    text = _py(value)
    if ast.literal_eval(text) != value and not isinstance(value, tuple):  # belt and braces
        raise LiteralError(f"python literal does not round-trip: {text[:80]}")
    return Rendered(text)


def _canonical(value: Any) -> Any:
    """Tuples as lists and dict keys sorted: one spelling per value, whatever order it was built in."""
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def _py_block(value: Any, indent: int, width: int, column: int) -> str:
    """``value`` starting at ``column`` on a line indented by ``indent``: flat when it fits in ``width``."""
    flat = _py(value)
    if not isinstance(value, (dict, list)) or not value or column + len(flat) <= width:
        return flat
    inner = indent + 4
    pad = " " * inner
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            head = f"{pad}{_py(k)}: "
            items.append(head + _py_block(v, inner, width, len(head)) + ",")
    else:
        items = [pad + _py_block(v, inner, width, inner) + "," for v in value]
    return ("{" if isinstance(value, dict) else "[") + "\n" + "\n".join(items) + "\n" + " " * indent \
        + ("}" if isinstance(value, dict) else "]")


def py_block(value: Any, width: int = 100, column: int = 0) -> Rendered:
    """Like :func:`py`, laid out for reading: dict keys sorted, and any dict or list that does not fit on
    its line broken to one key (item) per line; ``column`` is where the value starts on its first line. Still
    a pure literal, verified by ``ast.literal_eval``."""
    check_value(value)
    value = _canonical(value)
    text = _py_block(value, 0, width, column)
    if ast.literal_eval(text) != value:  # belt and braces
        raise LiteralError(f"python literal does not round-trip: {text[:80]}")
    return Rendered(text)


def sh(value: Any) -> Rendered:
    """One POSIX-shell word (single-quoted when needed) whose value is ``str(value)``."""
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict, tuple)):
        raise LiteralError(f"shell literals are scalars (str/int/float), not {type(value).__name__}")
    check_value(value)
    text = value if isinstance(value, str) else repr(value)
    if "\x00" in text:
        raise LiteralError("a NUL byte cannot be passed through a shell word")
    return Rendered(shlex.quote(text))


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def sh_export(name: str, value: Any, *, unless_set: bool = False) -> Rendered:
    """``export NAME=<quoted value>`` (or, ``unless_set``, only when the variable is empty or unset).
    ``name`` must be a plain environment variable name; the value is quoted like :func:`sh`."""
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        raise LiteralError(f"not an environment variable name: {name!r}")
    line = f"export {name}={sh(value)}"
    return Rendered(f'[ -n "${{{name}:-}}" ] || {line}' if unless_set else line)


def _yaml_str(text: str) -> str:
    # Double-quoted YAML with every character outside printable ASCII escaped: the output is pure ASCII,
    # one line, and means the same to every YAML reader (\U covers characters beyond the BMP).
    out = []
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _yaml(value: Any) -> str:
    if isinstance(value, str):
        return _yaml_str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml_str(k)}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    # Scalars: let the YAML library spell them (1e-05 must be written 1.0e-05 for YAML 1.1 readers).
    return yaml.safe_dump(value, default_flow_style=True).split("\n")[0]


def yaml_literal(value: Any) -> Rendered:
    """A one-line YAML flow value that ``yaml.safe_load`` reads back as ``value``."""
    check_value(value)
    text = _yaml(value)
    if yaml.safe_load(text) != (list(value) if isinstance(value, tuple) else value):
        raise LiteralError(f"yaml literal does not round-trip: {text[:80]}")
    return Rendered(text)

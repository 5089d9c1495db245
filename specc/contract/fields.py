"""Which strings in a data row are text worth checking for contamination.

The firewall must not depend on knowing every row format (chat, prompt/completion,
preference pairs, teacher prompts, plain text, and whatever comes next), so it
walks every string value of a row recursively, through nested objects and lists.

Exceptions: values of *structural* keys (:data:`STRUCTURAL_KEYS`, such as a chat
message's ``"role": "user"``) label the text rather than being text; matching them
would only make every chat row look alike. Non-string scalars (numbers, booleans,
null) are not text either. Everything else is checked, including unfamiliar keys:
it is safer to check a metadata string than to miss a copied answer.

Each string is reported with a field path written the way a user would index the
row: ``prompt``, ``messages[1].content``, ``chosen[0].content``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = ["STRUCTURAL_KEYS", "iter_text_fields", "text_values"]

#: Keys whose string values are labels, not content (chat roles, message/tool names, ids, types).
STRUCTURAL_KEYS: frozenset[str] = frozenset({"role", "name", "type", "id", "tool_call_id"})

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _key_path(prefix: str, key: str) -> str:
    """Append an object key to a field path; quote keys that are not identifier-like."""
    if _PLAIN_KEY.match(key):
        return f"{prefix}.{key}" if prefix else key
    quoted = '["' + key.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return prefix + quoted


def iter_text_fields(row: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(field_path, text)`` for every text string in ``row``, in document order."""
    if isinstance(row, str):
        yield prefix, row
    elif isinstance(row, dict):
        for key, value in row.items():
            if key in STRUCTURAL_KEYS and isinstance(value, str):
                continue
            yield from iter_text_fields(value, _key_path(prefix, key))
    elif isinstance(row, list):
        for index, value in enumerate(row):
            yield from iter_text_fields(value, f"{prefix}[{index}]")


def text_values(row: Any, out: list[str]) -> list[str]:
    """Append every text string of ``row`` to ``out`` (same order and rules as
    :func:`iter_text_fields`) without building paths: the scan's hot loop only needs
    paths for the rare rows that hit."""
    if isinstance(row, str):
        out.append(row)
    elif isinstance(row, dict):
        for key, value in row.items():
            if type(value) is str:
                if key not in STRUCTURAL_KEYS:
                    out.append(value)
            elif isinstance(value, (dict, list)):
                text_values(value, out)
    elif isinstance(row, list):
        for value in row:
            if type(value) is str:
                out.append(value)
            elif isinstance(value, (dict, list)):
                text_values(value, out)
    return out

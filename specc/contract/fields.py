"""Which strings in a data row are text worth checking for contamination.

The firewall must not depend on knowing every row format (chat, prompt/completion,
preference pairs, teacher prompts, plain text, and whatever comes next), so it
walks every string value of a row recursively, through nested objects and lists.

Exceptions: values of *structural* keys (:data:`STRUCTURAL_KEYS`, such as a chat
message's ``"role": "user"``) label the text rather than being text; matching them
would only make every chat row look alike. A label is one word, though: a
structural value that normalises to two or more words (a golden question pasted
into a message's ``name``) is text and is checked like any other. Non-string
scalars (numbers, booleans, null) are not text either. Everything else is checked,
including unfamiliar keys: it is safer to check a metadata string than to miss a
copied answer.

Each string is reported with a field path written the way a user would index the
row: ``prompt``, ``messages[1].content``, ``chosen[0].content``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from specc.contract.textnorm import normalize_words

__all__ = ["STRUCTURAL_KEYS", "is_label", "iter_text_fields", "text_values"]

#: Keys whose string values are labels, not content (chat roles, message/tool names, ids, types).
STRUCTURAL_KEYS: frozenset[str] = frozenset({"role", "name", "type", "id", "tool_call_id"})

@lru_cache(maxsize=4096)
def is_label(value: str) -> bool:
    """True when a structural key's value is a label (at most one normalised word), not text.
    Cached: the same few roles and names repeat on every row."""
    return len(normalize_words(value)) <= 1


#: Labels seen on almost every chat row, answered without a cache lookup (the scan's hot loop walks every row).
_COMMON_LABELS: frozenset[str] = frozenset({"user", "assistant", "system", "tool", "function", "developer", "text"})

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
            if key in STRUCTURAL_KEYS and isinstance(value, str) and is_label(value):
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
                if key not in STRUCTURAL_KEYS or (value not in _COMMON_LABELS and not is_label(value)):
                    out.append(value)
            elif isinstance(value, (dict, list)):
                text_values(value, out)
    elif isinstance(row, list):
        for value in row:
            if type(value) is str:
                out.append(value)
            elif type(value) is dict:  # a chat turn: the dict branch above, inlined (one call less per turn)
                for key, item in value.items():
                    if type(item) is str:
                        if key not in STRUCTURAL_KEYS or (item not in _COMMON_LABELS and not is_label(item)):
                            out.append(item)
                    elif isinstance(item, (dict, list)):
                        text_values(item, out)
            elif isinstance(value, (dict, list)):
                text_values(value, out)
    return out


#: Top-level keys whose text is the answer a model is scored on (prompt/completion and preference rows).
ANSWER_KEYS: frozenset[str] = frozenset({"completion", "chosen", "rejected"})
#: Top-level keys whose text is the question a model is asked (prompts, chats, plain text).
QUESTION_KEYS: frozenset[str] = frozenset({"prompt", "messages", "text"})
#: Chat roles whose turns are questions; ``assistant`` turns are answers; other roles (system, tool) neither.
QUESTION_ROLES: frozenset[str] = frozenset({"user", "human"})
ANSWER_ROLES: frozenset[str] = frozenset({"assistant", "gpt", "model", "bot"})


def part_kind(row: dict[str, Any], path: str) -> str:
    """What a golden field is for the short-row rules: ``"question"``, ``"answer"`` or ``"other"``.

    A question is a prompt, a user turn or plain text; an answer is a completion, a chosen/rejected
    reply or an assistant turn. System prompts, tool turns, names and metadata are neither: they are
    still matched by the exact and n-gram stages, but a short one is not evidence of a copied question.
    """
    top = re.match(r"[A-Za-z_][A-Za-z0-9_]*", path)
    key = top.group(0) if top else ""
    if key in ANSWER_KEYS:
        return "answer"
    if key not in QUESTION_KEYS:
        return "other"
    turn = re.fullmatch(rf"{key}\[(\d+)\]\.content", path)
    if turn is None:
        return "question" if path == key else "other"
    messages = row.get(key)
    message = messages[int(turn.group(1))] if isinstance(messages, list) else None
    role = message.get("role") if isinstance(message, dict) else None
    role = role.casefold() if isinstance(role, str) else ""
    if role in ANSWER_ROLES:
        return "answer"
    return "question" if role in QUESTION_ROLES else "other"

"""The row formats of specc's JSONL data, in one place: how a row's format is recognised, which keys each
format needs, and why a row does not fit.

Why one module: the planner (first row), ``specc check`` (every row, before review), the firewall stage
(every row, before training) and the stage scripts' dataset loader must agree on what a row is, or a
file that passes one check fails another hours later. Standard library only, so every one of them can
import it.
"""

from __future__ import annotations

from typing import Any

from specc.contract.native import plain_chat_ok as _native_chat_ok
from specc.spec.suggest import did_you_mean

__all__ = ["REQUIRED_KEYS", "ROLE_FORMATS", "detect_format", "row_problem",
           "suite_row_problem"]

REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "messages": ("messages",),
    "prompt_completion": ("prompt", "completion"),
    "preference": ("prompt", "chosen", "rejected"),
    "unpaired_preference": ("prompt", "completion", "label"),
    "text": ("text",),
    "prompts": ("prompt",),
}
"""Keys each row format needs (what the stage scripts read).

``unpaired_preference`` is TRL's unpaired preference shape (KTO): one completion per row with a boolean
``label`` (true: desirable). ``data.preference`` accepts it, and the planner routes it to KTO."""

ROLE_FORMATS: dict[str, tuple[str, ...]] = {
    "train": ("messages", "prompt_completion", "text"),
    "preference": ("preference", "unpaired_preference"),
    "prompts": ("prompts", "prompt_completion", "messages"),
    "validation": ("messages", "prompt_completion", "text", "preference", "unpaired_preference"),
    "replay": ("messages", "prompt_completion", "text"),
    "golden": ("messages", "prompt_completion", "text", "preference"),
}
"""Row formats each spec data role can use (what its stage reads). Suites are scored by their own kind.
A golden set of preference pairs is scored only by a reward model's pairwise accuracy (the planner's contract
step refuses it for a method that generates: rule CONTRACT-METRIC-MISMATCH)."""


def detect_format(row: dict[str, Any]) -> str | None:
    """The row format a JSONL row is written in, from its keys; None when no known format matches.

    Order matters: a preference row also has ``prompt``, an unpaired preference row is a prompt/completion
    row with a ``label``, and a prompt/completion row is also a prompts row.
    """
    if "messages" in row:
        return "messages"
    if "chosen" in row and "rejected" in row:
        return "preference"
    if "prompt" in row and "completion" in row and "label" in row:
        return "unpaired_preference"
    if "prompt" in row and "completion" in row:
        # a KTO row ({prompt, completion, label}) is not a demonstration: training on it as one would
        # teach the answers labelled bad and drop the label
        return "unpaired_preference" if "label" in row else "prompt_completion"
    if "text" in row:
        return "text"
    if "prompt" in row:
        return "prompts"
    return None


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in value)
    )


def _describe_keys(row: dict[str, Any]) -> str:
    return ", ".join(sorted(row)) or "none"


TRAINED_ROLES = frozenset({"train", "replay"})
"""Roles whose conversations are learned from, so each needs an assistant turn. One set for the general check
and the fast path of :func:`_plain_chat_ok`, so the two cannot disagree (they once did, for replay)."""


def _assistant_problem(key: str, turns: list[dict[str, Any]], role: str | None, fmt: str) -> str | None:
    """A conversation a stage cannot learn from or score: training rows need an assistant turn (TRL's
    assistant-only loss has nothing to learn otherwise and stops the run), a golden conversation ends
    with the assistant's reference answer, a preference side is the assistant's answer."""
    has_assistant = any(m.get("role") == "assistant" for m in turns)
    if fmt == "preference" and key in ("chosen", "rejected") and not has_assistant:
        return f"`{key}` has no assistant turn: a preference side is the assistant's answer"
    if fmt == "messages" and role in TRAINED_ROLES and not has_assistant:
        return "the conversation has no assistant turn: there is nothing to learn from it"
    if fmt == "messages" and role == "golden" and turns[-1].get("role") != "assistant":
        return "a golden conversation must end with the assistant's reference answer"
    return None


def _plain_chat_ok(turns: Any, role: str | None) -> bool:
    """True when ``turns`` is a chat the general checks below would accept: a non-empty list of plain
    ``{role, content}`` dicts with string values, holding the assistant turn ``role`` needs. False means
    "not decided here" (the general checks then say what is wrong). Why: ``specc check`` and the firewall
    stage check every row, and chats are the common case, so it is one plain loop instead of three passes."""
    if type(turns) is not list or not turns:
        return False
    assistant = False
    for turn in turns:
        if type(turn) is not dict:
            return False
        speaker = turn.get("role")
        if type(speaker) is not str or type(turn.get("content")) is not str:
            return False
        if speaker == "assistant":
            assistant = True
    if role in TRAINED_ROLES:
        return assistant
    if role == "golden":
        return speaker == "assistant"
    return True


_CHAT_NEED: dict[str | None, int] = {**{role: 1 for role in TRAINED_ROLES}, "golden": 2}
"""What :func:`_plain_chat_ok` asks of a role's conversation, as :func:`specc.contract.native.plain_chat_ok`
takes it: 1 an assistant turn, 2 the assistant's turn last, 0 nothing."""


def row_problem(row: dict[str, Any], fmt: str, role: str | None = None) -> str | None:
    """Why ``row`` does not fit ``fmt`` (None when it does): a missing column (with a did-you-mean for a
    misspelled one), a value of the wrong type, or (given the spec ``role`` of its file) a conversation
    without the assistant turn that role needs."""
    if fmt == "messages":
        ok = _native_chat_ok(row.get("messages"), _CHAT_NEED.get(role, 0))  # None: no C extension
        if ok is None:
            ok = _plain_chat_ok(row.get("messages"), role)
        if ok:
            return None
    required = REQUIRED_KEYS[fmt]
    missing = [key for key in required if key not in row]
    if missing:
        extra = [key for key in row if key not in required]
        hints = []
        for key in missing:
            guess = did_you_mean(key, extra)
            if guess is not None:
                hints.append(f"`{guess}` should be `{key}`?")
        message = (f"a {fmt} row needs {', '.join(required)}; missing {', '.join(missing)} "
                   f"(row keys: {_describe_keys(row)})")
        return message + (" — " + " ".join(hints) if hints else "")
    if fmt == "prompt_completion" and "label" in row:
        return ("a row with `label` is an unpaired-preference (KTO) row, not a demonstration: as prompt/completion "
                "it would train on the answers labelled bad")
    for key in required:
        value = row[key]
        if key == "label":
            if not isinstance(value, bool):
                kind = "null" if value is None else type(value).__name__
                return f"`label` must be true (desirable) or false (undesirable), not {kind}"
            continue
        if key == "messages" or isinstance(value, list):  # conversational values: lists of {role, content}
            if not _is_messages(value):
                return f"`{key}` must be a non-empty list of {{role, content}} objects with string values"
            problem = _assistant_problem(key, value, role, fmt)
            if problem:
                return problem
        elif not isinstance(value, str):
            kind = "null" if value is None else type(value).__name__
            return f"`{key}` must be a string, not {kind}"
    return None


def _suite_prompt_problem(row: dict[str, Any]) -> str | None:
    if "messages" in row:
        return None if _is_messages(row["messages"]) else \
            "`messages` must be a non-empty list of {role, content} objects with string values"
    if "prompt" in row:
        return None if isinstance(row["prompt"], str) else \
            f"`prompt` must be a string, not {'null' if row['prompt'] is None else type(row['prompt']).__name__}"
    return f"a suite row needs `prompt` or `messages` (row keys: {_describe_keys(row)})"


def _suite_reference_problem(row: dict[str, Any], kind: str) -> str | None:
    """A scored row needs its reference answer: a string ``completion``, or a conversation ending on the assistant."""
    if "messages" in row:
        if row["messages"][-1].get("role") != "assistant":
            return f"a {kind} conversation must end with the assistant's reference answer"
        return None
    if not isinstance(row.get("completion"), str):
        return f"a {kind} row needs its reference answer as a string `completion` (row keys: {_describe_keys(row)})"
    return None


def suite_row_problem(row: dict[str, Any], kind: str) -> str | None:
    """Why a general suite's row cannot be scored by its ``kind`` (None when it can).

    Why here: ``specc check`` validates every suite row before review, and the baseline and eval stages
    (:func:`specc.runtime.suites.evaluate_suite`) check each row with this same function before scoring,
    so a row ``check`` accepts is a row the stages score (and a bad one is ``file:line``, not a traceback)."""
    if kind == "perplexity" and "text" in row and "messages" not in row and "prompt" not in row:
        return None if isinstance(row["text"], str) else "`text` must be a string"
    problem = _suite_prompt_problem(row)
    if problem is not None:
        if kind == "perplexity":
            return f"a perplexity row needs `text`, `prompt` and `completion`, or `messages` " \
                   f"(row keys: {_describe_keys(row)})"
        return problem
    if kind in ("exact_match", "perplexity"):
        return _suite_reference_problem(row, kind)
    if kind == "multiple_choice":
        choices, answer = row.get("choices"), row.get("answer")
        if not isinstance(choices, list) or len(choices) < 2:
            return "a multiple_choice row needs `choices`, a list of at least 2 answers"
        if type(answer) is not int or not 0 <= answer < len(choices):
            return f"a multiple_choice row needs `answer`, the index (0 to {len(choices) - 1}) of the right choice"
    return None

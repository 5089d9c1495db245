"""From a dataset's own columns to specc's row formats: ``columns`` renames, alpaca and sharegpt.

Why one module: published datasets name their fields their own way (alpaca's ``instruction/input/output``,
sharegpt's ``conversations[{from, value}]``, a ``question``/``answer`` pair). The planner (first row),
``specc check`` and the firewall (every row, streaming) and the stage scripts (through ``datasets.map``)
must turn a row into the same canonical row, or the firewall would check other text than the trainer
trains on. Standard library only, so the light commands can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from specc.data.rowformat import REQUIRED_KEYS, detect_format
from specc.spec.suggest import did_you_mean

__all__ = ["DEFAULT_ROLES", "SOURCE_FORMATS", "Mapper", "detect_source_format"]

SOURCE_FORMATS: dict[str, str] = {"alpaca": "prompt_completion", "sharegpt": "messages"}
"""Formats that are read as another (canonical) format: the one every stage script consumes."""

SOURCE_KEYS: dict[str, tuple[str, ...]] = {"alpaca": ("instruction", "output"), "sharegpt": ("conversations",)}
"""Columns an alpaca or sharegpt row needs (alpaca's ``input`` is optional)."""

OUR_COLUMNS: frozenset[str] = frozenset(
    {k for keys in REQUIRED_KEYS.values() for k in keys} | {"instruction", "input", "output", "conversations"}
)
"""Column names ``columns: {ours: theirs}`` may map to."""

DEFAULT_ROLES: dict[str, str] = {
    "system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
    "model": "assistant", "bot": "assistant",
}
"""sharegpt speaker names (``from``) and the chat role each one is."""


def detect_source_format(row: Mapping[str, Any]) -> str | None:
    """The format of a row as written: alpaca and sharegpt first, then :func:`specc.data.rowformat.detect_format`."""
    if "conversations" in row and "messages" not in row:
        return "sharegpt"
    if "instruction" in row and "output" in row:
        return "alpaca"
    return detect_format(dict(row))


class Mapper:
    """Turns rows of one source into canonical rows. ``fmt`` is the source format ("auto" until the first
    row is seen: :meth:`decide`)."""

    def __init__(self, fmt: str = "auto", columns: Mapping[str, str] | None = None,
                 roles: Mapping[str, str] | None = None) -> None:
        self.fmt = fmt
        self.columns = dict(columns or {})
        self.roles = {**DEFAULT_ROLES, **dict(roles or {})}

    @property
    def canonical(self) -> str:
        """The format the mapped rows are in."""
        return SOURCE_FORMATS.get(self.fmt, self.fmt)

    def columns_problem(self, available: Iterable[str]) -> str | None:
        """Why ``columns`` does not fit a dataset with these columns (None when it does): a name of ours that
        is not a format's column, or one of theirs the dataset lacks — listing what it has, with a guess."""
        have = list(available)
        for ours, theirs in self.columns.items():
            if ours not in OUR_COLUMNS:
                guess = did_you_mean(ours, OUR_COLUMNS)
                return (f"columns: `{ours}` is not a column of any format (use {', '.join(sorted(OUR_COLUMNS))})"
                        + (f" — did you mean `{guess}`?" if guess else ""))
            if theirs not in have:
                guess = did_you_mean(theirs, have)
                return (f"unknown column `{theirs}` (columns.{ours}); the dataset has columns: "
                        f"{', '.join(have) or 'none'}" + (f" — did you mean `{guess}`?" if guess else ""))
        return None

    def rename(self, row: Mapping[str, Any]) -> dict[str, Any]:
        if not self.columns:
            return dict(row)
        theirs = set(self.columns.values())
        out = {k: v for k, v in row.items() if k not in theirs}
        for ours, their in self.columns.items():
            if their in row:
                out[ours] = row[their]
        return out

    def decide(self, row: Mapping[str, Any]) -> str | None:
        """Fix the source format from the first (renamed) row when it is "auto"; None when nothing fits."""
        if self.fmt == "auto":
            detected = detect_source_format(self.rename(row))
            if detected is None:
                return None
            self.fmt = detected
        return self.fmt

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The canonical row; raises ValueError saying why a row cannot be mapped."""
        renamed = self.rename(row)
        if self.fmt == "alpaca":
            return self._alpaca(renamed)
        if self.fmt == "sharegpt":
            return self._sharegpt(renamed)
        return renamed

    def _alpaca(self, row: dict[str, Any]) -> dict[str, Any]:
        missing = [k for k in SOURCE_KEYS["alpaca"] if k not in row]
        if missing:
            raise ValueError(f"an alpaca row needs instruction and output; missing {', '.join(missing)} "
                             f"(row keys: {', '.join(sorted(row)) or 'none'})")
        instruction, extra, output = row["instruction"], row.get("input"), row["output"]
        for key, value in (("instruction", instruction), ("output", output), ("input", extra)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"`{key}` must be a string, not {type(value).__name__}")
        prompt = instruction if not extra else f"{instruction}\n\n{extra}"
        return {"prompt": prompt, "completion": output}

    def _sharegpt(self, row: dict[str, Any]) -> dict[str, Any]:
        turns = row.get("conversations")
        if not isinstance(turns, list) or not turns:
            raise ValueError("a sharegpt row needs `conversations`: a non-empty list of {from, value} objects")
        messages = []
        for n, turn in enumerate(turns, 1):
            if not isinstance(turn, dict) or not isinstance(turn.get("from"), str) or not isinstance(turn.get("value"), str):
                raise ValueError(f"conversations[{n}] must be a {{from, value}} object with string values")
            role = self.roles.get(turn["from"])
            if role is None:
                guess = did_you_mean(turn["from"], self.roles)
                raise ValueError(
                    f"conversations[{n}]: unknown speaker `{turn['from']}`; known: {', '.join(sorted(self.roles))}"
                    + (f" — did you mean `{guess}`?" if guess else "")
                    + f"; map it with roles: {{{turn['from']}: user|assistant|system}}")
            messages.append({"role": role, "content": turn["value"]})
        return {"messages": messages}

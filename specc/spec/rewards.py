"""Reward functions for GRPO, as a spec states them: built-ins that check a completion against the data
(exact answer, format by regex, length) and user functions named ``file.py:function`` next to the spec.

Why declarative built-ins: the common verifiable rewards need no code, so a spec stays reviewable and the
plan can check them (a missing column, a bad regex) before anything trains. A user function is hashed
into the plan like a data file and checked for a top-level ``def`` of that name without running it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from specc.spec.base import Strict

__all__ = ["RewardFunction"]

_FUNCTION_RE = re.compile(r"^[A-Za-z0-9_./-]+\.py:[A-Za-z_][A-Za-z0-9_]*$")


class RewardFunction(Strict):
    """One reward function of a GRPO stage; the rewards of several are summed with their weights."""

    kind: Literal["exact_answer", "format", "length", "python"] = Field(
        description=(
            "exact_answer: 1 when the completion equals the row's `column` (whitespace and case trimmed), "
            "else 0. format: 1 when the completion matches `pattern` (a Python regex, full match), else 0. "
            "length: 1 up to `max_chars` characters, falling linearly to 0 at twice that. python: "
            "`function` (file.py:name, relative to the spec) called as TRL calls reward functions "
            "(prompts, completions, **columns) → list of floats."
        )
    )
    column: str = Field(default="answer", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                        description="exact_answer: the prompts file's column with the expected answer.")
    pattern: str | None = Field(default=None, max_length=1000, description="format: the regex to fully match.")
    max_chars: int | None = Field(default=None, ge=1, le=1_000_000, description="length: characters for full reward.")
    function: str | None = Field(default=None, description="python: file.py:function, relative to the spec file.")
    weight: float = Field(default=1.0, ge=-100, le=100, description="Weight of this reward in the sum. Default 1.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regex: {exc}") from None
        return v

    @field_validator("function")
    @classmethod
    def _file_and_name(cls, v: str | None) -> str | None:
        if v is not None and (not _FUNCTION_RE.fullmatch(v) or v.startswith("/") or ".." in v.split(":")[0].split("/")):
            raise ValueError("function must be file.py:name with the file relative to the spec (no .., no absolute path)")
        return v

    @model_validator(mode="after")
    def _needs(self) -> RewardFunction:
        needed = {"format": "pattern", "length": "max_chars", "python": "function"}.get(self.kind)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"a {self.kind} reward needs `{needed}`")
        extra = [k for k in ("pattern", "max_chars", "function") if k != needed and getattr(self, k) is not None]
        if extra:
            raise ValueError(f"a {self.kind} reward does not use {', '.join(extra)}")
        return self

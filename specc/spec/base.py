"""The base of every spec section, in a module of its own so that section modules (``language``,
``training``) share it without importing each other."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Strict"]


class Strict(BaseModel):
    """Base for every spec section: unknown keys are errors and values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

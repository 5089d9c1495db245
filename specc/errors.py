"""Located, human-first errors for specs, and their three renderings (human, JSON, GitHub annotations).

Why a dedicated type: every consumer of a bad spec — a person at a terminal, an editor integration reading
JSON, a pull request showing annotations — needs the same four facts: which file, where in it, which key,
and what to do about it. Collecting them as data (rather than raising on the first problem) lets specc
report every error of a spec in one pass.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True, order=True)
class SpecError:
    """One problem in one spec file. ``line``/``column`` are 1-based; 0 means 'the whole file'."""

    file: str
    line: int
    column: int
    key_path: str
    message: str
    hint: str = ""
    code: str = "invalid"

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        key = f" {self.key_path}:" if self.key_path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}: error:{key} {self.message}{hint}"

    def github(self) -> str:
        """A GitHub Actions workflow command: shows up as an annotation on the pull request's diff."""
        text = f"{self.key_path}: {self.message}" if self.key_path else self.message
        if self.hint:
            text += f" ({self.hint})"
        props = f"file={_gh_prop(self.file)}"
        if self.line:
            props += f",line={self.line},col={self.column}"
        return f"::error {props},title=specc {self.code}::{_gh_data(text)}"


class SpecInvalid(Exception):
    """Raised by the loader with every error found in one spec."""

    def __init__(self, errors: list[SpecError]):
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.column, e.key_path, e.message))
        super().__init__("\n".join(e.render() for e in self.errors))


def _gh_data(text: str) -> str:
    # Escaping rules of GitHub workflow commands: %, CR and LF in the message.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def errors_to_json(results: list[dict]) -> str:
    """Deterministic JSON for ``specc validate --format json``."""
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def error_dict(error: SpecError) -> dict:
    return asdict(error)

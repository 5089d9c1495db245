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
        return github_annotation("error", text, file=self.file, line=self.line or None,
                                 column=self.column or None, title=f"specc {self.code}")


class SpecInvalid(Exception):
    """Raised by the loader with every error found in one spec."""

    def __init__(self, errors: list[SpecError]):
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.column, e.key_path, e.message))
        super().__init__("\n".join(e.render() for e in self.errors))


def _gh_data(text: str) -> str:
    """Escape a workflow-command message (%, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    """Escape a workflow-command property value (also : and ,)."""
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(level: str, message: str, *, file: str | None = None, line: int | None = None,
                      column: int | None = None, title: str = "specc") -> str:
    """One GitHub Actions workflow command (``::error file=…,line=…::message``): shown on the PR's diff."""
    props = []
    if file:
        props.append(f"file={_gh_prop(file)}")
        if line:
            props.append(f"line={line}")
            if column:
                props.append(f"col={column}")
    props.append(f"title={_gh_prop(title)}")
    return f"::{level} {','.join(props)}::{_gh_data(message)}"


def errors_to_json(results: list[dict]) -> str:
    """Deterministic JSON for ``specc validate --format json``."""
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def error_dict(error: SpecError) -> dict:
    return asdict(error)

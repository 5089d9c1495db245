"""GRPO's reward functions in the plan: each spec entry resolved into a literal the RL stage reads, with a
user function's file locked by sha256 and checked, without running it, to define that function.

Why at plan time: a missing file, a misspelled function name or an answer column the prompts do not have
are mistakes a reviewer should see in ``specc plan``, not after a GPU has loaded the policy.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["resolve_reward_functions"]


def _defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
               for node in tree.body)


def _first_row_keys(spec: Any, base_dir: Path) -> set[str] | None:
    prompts = spec.data.prompts
    if prompts is None:
        return None
    try:
        with open(base_dir / prompts.path, encoding="utf-8") as f:
            first = json.loads(f.readline())
    except (OSError, ValueError):
        return None  # the data step reports unreadable files
    return set(first) if isinstance(first, dict) else None


def resolve_reward_functions(spec: Any, base_dir: Path | str, values: dict[str, Any], sources: dict[str, str],
                             t: Any) -> None:
    """``reward_functions`` (list of dicts) into the plan; findings for what cannot work."""
    base_dir = Path(base_dir)
    entries = spec.method.reward_functions or []
    keys = _first_row_keys(spec, base_dir)
    out: list[dict[str, Any]] = []
    for i, fn in enumerate(entries):
        where = f"method.reward_functions[{i}]"
        entry: dict[str, Any] = {"kind": fn.kind, "weight": float(fn.weight)}
        if fn.kind == "exact_answer":
            entry["column"] = fn.column
            if keys is not None and fn.column not in keys:
                t.find("METHOD-REWARD-FUNCTION-INVALID",
                       f"{where}: exact_answer reads column {fn.column!r}, but the prompts file's rows have "
                       f"{', '.join(sorted(keys))}", "set `column` to the column holding the expected answer")
        elif fn.kind == "format":
            entry["pattern"] = fn.pattern
        elif fn.kind == "length":
            entry["max_chars"] = int(fn.max_chars)  # type: ignore[arg-type]
        else:
            file, name = str(fn.function).rsplit(":", 1)
            entry.update(spec_path=file, function=name)
            try:
                data = (base_dir / file).read_bytes()
            except OSError as exc:
                t.find("METHOD-REWARD-FUNCTION-INVALID", f"{where}: {file} cannot be read ({exc.strerror or exc})",
                       "the file is relative to the spec's directory")
                out.append(entry)
                continue
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            if not _defines(data.decode("utf-8", errors="replace"), name):
                t.find("METHOD-REWARD-FUNCTION-INVALID",
                       f"{where}: {file} defines no top-level function {name!r}",
                       "name a function defined with `def` at the top of the file")
        out.append(entry)
    if out:
        values["reward_functions"] = out
        sources["reward_functions"] = "spec"

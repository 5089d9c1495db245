"""GRPO's reward functions at run time: the plan's built-ins (exact answer, format, length) and user
functions loaded from ``file.py`` next to the spec after checking the sha256 the plan locked.

Each function follows TRL's reward-function contract: called with ``prompts``, ``completions`` and every
other dataset column as keyword lists, it returns one float per completion. Completions are conversational
(``[{"role": "assistant", "content": …}]``) when the tokenizer has a chat template, else plain strings.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path
from typing import Any, Callable

from specc.runtime.common import log

__all__ = ["text_of", "build", "prompts_dataset"]


def text_of(completion: Any) -> str:
    """The text of one completion, conversational or plain."""
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


def _named(fn: Callable[..., list[float]], name: str) -> Callable[..., list[float]]:
    fn.__name__ = name  # TRL logs rewards/<__name__>
    return fn


def exact_answer(column: str) -> Callable[..., list[float]]:
    def reward(completions: list[Any], **columns: Any) -> list[float]:
        if column not in columns:
            raise KeyError(f"exact_answer reads column {column!r}; the prompts have {sorted(columns)}")
        return [float(text_of(c).strip().lower() == str(a).strip().lower())
                for c, a in zip(completions, columns[column])]
    return _named(reward, f"exact_answer_{column}")


def format_match(pattern: str) -> Callable[..., list[float]]:
    regex = re.compile(pattern, re.DOTALL)

    def reward(completions: list[Any], **_: Any) -> list[float]:
        return [float(regex.fullmatch(text_of(c).strip()) is not None) for c in completions]
    return _named(reward, "format")


def length(max_chars: int) -> Callable[..., list[float]]:
    def reward(completions: list[Any], **_: Any) -> list[float]:
        return [max(0.0, min(1.0, 2.0 - len(text_of(c)) / max_chars)) for c in completions]
    return _named(reward, "length")


def _user_function(entry: dict[str, Any]) -> Callable[..., Any]:
    from specc.runtime import guard

    path = Path(entry["path"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        guard.fail(f"reward function file {entry['spec_path']} cannot be read ({exc.strerror or exc})")
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        guard.fail(f"reward function file {entry['spec_path']} changed since the plan was made; recompile")
    spec = importlib.util.spec_from_file_location(f"specc_reward_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    fn = getattr(module, entry["function"], None)
    if not callable(fn):
        log(f"reward function {entry['spec_path']}:{entry['function']} is not a callable")
        raise SystemExit(1)
    return fn


def build(entries: list[dict[str, Any]]) -> list[Callable[..., Any]]:
    """The plan's reward functions as callables, in order (weights go to the trainer's reward_weights)."""
    out = []
    for entry in entries:
        kind = entry["kind"]
        if kind == "exact_answer":
            out.append(exact_answer(entry["column"]))
        elif kind == "format":
            out.append(format_match(entry["pattern"]))
        elif kind == "length":
            out.append(length(int(entry["max_chars"])))
        else:
            out.append(_user_function(entry))
    return out


def prompts_dataset(path: Path, *, chat: bool = True):
    """The prompts with every other column kept (reward functions read them), the prompt conversational
    when the tokenizer has a chat template."""
    from datasets import load_dataset

    ds = load_dataset("json", data_files=str(path), split="train")
    if chat:
        ds = ds.map(lambda row: {"prompt": [{"role": "user", "content": str(row["prompt"])}]})
    return ds

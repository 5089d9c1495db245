"""The demo's suite and task files, written from the tiny model's synthetic corpus.

Why here and not in :mod:`specc.runtime.suites`: the runtime scores any suite a user names; only the demo
(and the tests) need suites generated from specc's own synthetic world.
"""

from __future__ import annotations

from pathlib import Path

from specc.demo import corpus
from specc.runtime.suites import SuiteSpec

__all__ = ["GENERAL_SUITES", "write_general_suites", "general_suite_specs", "write_narrow_task"]

GENERAL_SUITES: dict[str, str] = {
    "arithmetic": "exact_match",
    "copy_reverse": "exact_match",
    "formatting": "exact_match",
    "capitals": "multiple_choice",
    "heldout_nll": "perplexity",
}
"""The tiny model's general suites (name -> kind), written by :func:`write_general_suites`."""

_SUITE_SKILLS = {"arithmetic": ("add", "sub"), "copy_reverse": ("copy", "reverse"),
                 "formatting": ("upper", "bracket", "comma"), "capitals": ("capital",)}


def write_general_suites(out_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write the tiny model's general suites from the held-out split (never in its pretraining)."""
    out = Path(out_dir)
    held = corpus.held_out_split(seed=seed)
    paths: dict[str, Path] = {}
    for name, skills in _SUITE_SKILLS.items():
        rows = [ex for ex in held if ex.skill in skills]
        if GENERAL_SUITES[name] == "multiple_choice":
            paths[name] = corpus.write_multiple_choice(out / f"{name}.jsonl", rows, seed=seed)
        else:
            paths[name] = corpus.write_prompt_completion(out / f"{name}.jsonl", rows)
    paths["heldout_nll"] = corpus.write_prompt_completion(out / "heldout_nll.jsonl", held)
    return paths


def general_suite_specs(paths: dict[str, Path]) -> list[SuiteSpec]:
    return [SuiteSpec(name, GENERAL_SUITES[name], path=str(p)) for name, p in paths.items()]


def write_narrow_task(out_dir: str | Path, n_train: int = 200, n_golden: int = 50, seed: int = 0,
                      fmt: str = "chat") -> dict[str, Path]:
    """Write the demo narrow task as ``train.jsonl`` and ``golden.jsonl`` (disjoint prompts).

    ``fmt`` is ``"chat"`` (messages rows) or ``"prompt_completion"``; both are exact_match suites.
    """
    if fmt not in ("chat", "prompt_completion"):
        raise ValueError(f"fmt must be 'chat' or 'prompt_completion', not {fmt!r}")
    examples = list(corpus.narrow_task_examples(n_train + n_golden, seed))
    write = corpus.write_chat if fmt == "chat" else corpus.write_prompt_completion
    out = Path(out_dir)
    return {"train": write(out / "train.jsonl", examples[:n_train]),
            "golden": write(out / "golden.jsonl", examples[n_train:])}

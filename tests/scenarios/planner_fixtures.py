"""Shared fixtures for planner tests: data files, tiny local model configs, and spec writing.

Why a helper module rather than conftest: other engineers own tests/conftest.py (if any); keeping these
helpers importable by name makes their use explicit in each test file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

BASE_SPEC: dict[str, Any] = {
    "specc": 1,
    "name": "scenario",
    "goal": {"behaviours": ["style"]},
    "base_model": {"id": "Qwen/Qwen2.5-1.5B-Instruct"},
    "data": {
        "golden": {"path": "golden.jsonl"},
        "general_suites": [{"name": "gen", "kind": "exact_match", "path": "suite.jsonl"}],
    },
    "eval": {"bar": 0.8},
}


def _rows(kind: str, n: int) -> list[dict[str, Any]]:
    if kind == "messages":
        return [{"messages": [{"role": "user", "content": f"question {i} about the product line"},
                              {"role": "assistant", "content": f"Answer {i}, in the house style."}]} for i in range(n)]
    if kind == "preference":
        return [{"prompt": f"p{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(n)]
    if kind == "prompts":
        return [{"prompt": f"teacher prompt {i}"} for i in range(n)]
    if kind == "unpaired_preference":
        return [{"prompt": f"p{i}", "completion": f"answer {i}", "label": i % 3 != 0} for i in range(n)]
    if kind == "prompt_completion":
        return [{"prompt": f"golden {i}", "completion": f"gold answer {i}"} for i in range(n)]
    raise ValueError(kind)


def _tiny_config(hidden: int, layers: int, vocab: int) -> dict[str, Any]:
    return {"model_type": "llama", "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": 4,
            "num_key_value_heads": 4, "intermediate_size": hidden * 2, "vocab_size": vocab,
            "max_position_embeddings": 512, "tie_word_embeddings": False}


def make_fixture_dir(root: Path) -> Path:
    """Write every data file and model config the scenarios name into ``root``."""
    files = {
        "train.jsonl": _rows("messages", 200),
        "small.jsonl": _rows("messages", 10),
        "pref.jsonl": _rows("preference", 150),
        "kto.jsonl": _rows("unpaired_preference", 150),
        "qa.jsonl": [{"prompt": f"2+{i}=", "answer": str(2 + i)} for i in range(150)],
        "prompts.jsonl": _rows("prompts", 300),
        "golden.jsonl": _rows("prompt_completion", 40),
        "suite.jsonl": [{"prompt": f"2+{i}=", "answer": str(2 + i)} for i in range(30)],
    }
    files["fifty.jsonl"] = _rows("messages", 50)
    files["raw_text.jsonl"] = [{"text": f"Section {i}. The clinic's intake procedure, paragraph {i}."} for i in range(150)]
    pii = _rows("messages", 150)
    pii[7]["messages"][0]["content"] = "Please reply to jane.doe@acme-mail.io about order 12."
    pii[42]["messages"][1]["content"] = "Charged card 4111 1111 1111 1111 as requested."
    pii[99]["messages"][0]["content"] = "Call me back on +44 20 7946 0958 tomorrow."
    pii[120]["messages"][0]["content"] = "cc: ops@acme-mail.io and billing@acme-mail.io"
    files["pii.jsonl"] = pii
    files["pii_prompts.jsonl"] = [{"prompt": f"Summarise ticket {i}"} for i in range(120)] + [
        {"prompt": "Customer IBAN GB82 WEST 1234 5698 7654 32 was charged twice; draft a reply."}]
    for name, rows in files.items():
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    # 200,000 short rows: enough optimizer steps for a high forgetting risk, small enough to plan fast.
    (root / "big.jsonl").write_text("".join(f'{{"prompt": "q{i}", "completion": "a{i}"}}\n' for i in range(200_000)),
                                    encoding="utf-8")
    (root / "broken.jsonl").write_text('{"messages": [\n', encoding="utf-8")
    for name, cfg in {"tiny": _tiny_config(64, 2, 1000), "tiny-big": _tiny_config(256, 4, 1000),
                      "tiny-other": _tiny_config(64, 2, 2000)}.items():
        (root / "models" / name).mkdir(parents=True, exist_ok=True)
        (root / "models" / name / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return root


def overlay(base: Any, patch: Any) -> Any:
    """Deep-merge ``patch`` onto ``base``: mappings merge, ``None`` deletes a key, anything else replaces."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_spec(root: Path, patch: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(overlay(BASE_SPEC, patch), sort_keys=True), encoding="utf-8")
    return path


def plan_for(root: Path, patch: dict[str, Any], name: str = "spec.yaml") -> Any:
    from specc.plan.planner import plan_spec_file

    return plan_spec_file(write_spec(root, patch, name))

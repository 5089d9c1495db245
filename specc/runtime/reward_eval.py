"""Scoring a reward model: pairwise accuracy on golden preference pairs (the eval contract of ``method: reward``).

Why a module of its own: the baseline and eval stages of a reward-model plan load a sequence classifier, not a
generator, and score pairs, not answers. Pairs are rendered exactly as ``trl.RewardTrainer`` renders training
pairs (prompt + chosen / prompt + rejected; the chat template for conversational rows, an EOS appended to plain
text), so the metric measures the model on the inputs it learned from. Heavy imports happen inside functions.

Baseline: the base model with a new score head, initialised under the stage seed the reward stage also seeds
before loading its start (so, without an SFT stage, the very head the reward stage starts from). It is measured,
not assumed to be 0.5: an untrained head is a fixed random projection that ranks pairs systematically (on the
example spec's pairs it scores 0.0: it prefers every rejected answer).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from specc.runtime.common import build_path, load_rows_dataset, load_tokenizer, model_ref, pick_precision, seed

__all__ = ["load_scorer", "pairwise_accuracy"]


def load_scorer(config: dict[str, Any], *, trained: bool):
    """(model, tokenizer) in eval mode: the reward stage's result (``trained``), or the base model with a new,
    seeded score head (the baseline)."""
    import torch

    from specc.runtime import rewards

    precision = pick_precision(config["precision"])
    reward = config.get("reward") or {}
    final = reward.get("adapter") or reward.get("model")
    tok_dir = build_path(final) if trained and final else None
    if tok_dir is not None and (Path(tok_dir) / "tokenizer_config.json").is_file():
        tokenizer = load_tokenizer(str(tok_dir), None, config.get("chat_template"))
    else:
        tokenizer = load_tokenizer(model_ref(config["model"]), config["model"].get("revision"),
                                   config.get("chat_template"), config["model"].get("special_tokens"))
    if trained:
        model = rewards.load_reward_model(config, precision, tokenizer.pad_token_id)
    else:
        seed(int(config["seed"]))
        model = rewards.load_reward_start(config["model"], None, precision)
        model.config.pad_token_id = tokenizer.pad_token_id
    model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    return model, tokenizer


def _ids(tokenizer, prompt: Any, answer: Any) -> list[int]:
    """Token ids of prompt + answer as trl.RewardTrainer builds them."""
    if isinstance(answer, list):  # conversational: message lists, rendered by the chat template
        out = tokenizer.apply_chat_template(list(prompt or []) + list(answer), tokenize=True, return_dict=True)
        return list(out["input_ids"])
    text = str(answer)
    if tokenizer.eos_token and not text.endswith(tokenizer.eos_token):
        text += tokenizer.eos_token
    return list(tokenizer((prompt or "") + text)["input_ids"])


def pairwise_accuracy(model, tokenizer, entry: dict[str, Any] | list[dict[str, Any]], *, max_length: int,
                      name: str = "golden") -> dict:
    """The share of pairs whose chosen answer the model scores strictly above the rejected one, as a suite
    result dict (``score``, ``stderr``, ``n``, ``higher_is_better``; ``extra.mean_margin``).

    A golden set given as a list is read member by member, in spec order, and scored once: the union is the
    members' pairs together, and each member's accuracy (``members``) is cut from its own pairs. (Loaded as
    one list, the members would be read as a training mixture, shuffled together, and a cut by row counts
    would mix members' pairs: per-member figures that look right and are not.)"""
    import torch

    chat = bool(getattr(tokenizer, "chat_template", None))
    entries = entry if isinstance(entry, list) else [entry]
    device = next(model.parameters()).device
    per_member: list[list[float]] = []
    with torch.no_grad():
        for member in entries:
            margins = []
            for row in load_rows_dataset(member, chat=chat):
                scores = []
                for answer in (row["chosen"], row["rejected"]):
                    ids = _ids(tokenizer, row.get("prompt"), answer)[-max_length:]  # keep the answer's end
                    logits = model(input_ids=torch.tensor([ids], device=device)).logits
                    scores.append(float(logits[0, 0]))
                margins.append(scores[0] - scores[1])
            per_member.append(margins)
    out = _result(name, [m for margins in per_member for m in margins])
    if len(entries) > 1:  # a golden set of 2+ sources: each member's pairs, in order
        out["members"] = _members(entries, per_member)
    return out


def _result(name: str, margins: list[float]) -> dict:
    """Pairwise accuracy over pairs with these margins (chosen's score minus rejected's), as a suite result dict."""
    n = len(margins)
    score = sum(m > 0 for m in margins) / n if n else 0.0
    return {"name": name, "kind": "pairwise_accuracy", "metric": "pairwise_accuracy", "score": score,
            "stderr": math.sqrt(score * (1 - score) / n) if n else 0.0, "n": n, "higher_is_better": True,
            "extra": {"mean_margin": sum(margins) / n if n else 0.0}}


def _members(entries: list[dict[str, Any]], per_member: list[list[float]]) -> list[dict]:
    """Each member's pairwise accuracy from its own margins (the same pass, the same aggregate as the union),
    named and keyed as :func:`specc.runtime.suites.with_members` names an eval suite's members."""
    from specc.runtime.suites import member_keys, member_name

    names = [member_name(e) for e in entries]
    out = []
    for name, key, margins in zip(names, member_keys(names), per_member):
        part = _result(name, margins)
        out.append({"name": name, "key": key, "rows": len(margins), "n": part["n"],
                    "score": part["score"] if margins else None, "stderr": part["stderr"] if margins else None,
                    "extra": part["extra"] if margins else {}})
    return out

"""Synthetic multi-skill corpus for the built-in tiny base model.

Nothing can be downloaded on the machines specc is tested on, so the tiny base model that the demo
and CI adapt has to learn its "general abilities" from text we generate here. The skills are chosen
so that a model of a few hundred thousand parameters can learn them in minutes, and so that a
regression after fine-tuning (forgetting) is measurable: arithmetic, copying, reversing, fact lookup
in an invented world, and simple formatting.

This module is deliberately light (stdlib only): the planner and the demo generate data with it
without importing torch. Everything is a pure function of its seed, so the same seed gives the same
bytes, and the pretraining split never contains a prompt of the held-out split (the general suites
measure generalisation, not recall of training rows).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

CORPUS_VERSION = "1"
"""Bumped whenever generation changes, so cached models built from an older corpus are rebuilt."""

WORLD_SEED = 20261129
"""The invented world (countries, capitals) is fixed, independent of the example seed: the facts a
model learned must stay the facts its suites ask about."""

SKILLS: tuple[str, ...] = ("add", "sub", "copy", "reverse", "capital", "upper", "bracket", "comma")

_SYLLABLES = ("ka", "lo", "mi", "ra", "ve", "zu", "tor", "nel", "qua", "bri", "sha", "dun", "pel",
              "vor", "ix", "an", "el", "or", "th", "gr")
_WORDS = ("red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "fish", "bird", "rain",
          "snow", "road", "ship", "book", "lamp", "door", "milk", "salt", "gold", "iron", "wind",
          "fire", "leaf", "rock", "star", "king", "ring", "song", "cake", "bell", "coat")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_CAPITAL_TEMPLATES = ("capital of {c}?", "What is the capital of {c}?", "{c} has which capital?")
_N_COUNTRIES = 24
_MAX_OPERAND = 29


@dataclass(frozen=True)
class Example:
    """One prompt/completion pair with the skill it exercises (the skill groups suite scores)."""

    prompt: str
    completion: str
    skill: str

    def as_prompt_completion(self) -> dict[str, str]:
        return {"prompt": self.prompt, "completion": self.completion}

    def as_messages(self) -> dict[str, list[dict[str, str]]]:
        return {"messages": [{"role": "user", "content": self.prompt},
                             {"role": "assistant", "content": self.completion}]}


def _invented_name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def fact_table() -> dict[str, str]:
    """The invented world: country -> capital. Names are unique and never real places."""
    rng = random.Random(WORLD_SEED)
    table: dict[str, str] = {}
    cities: set[str] = set()
    while len(table) < _N_COUNTRIES:
        country, city = _invented_name(rng, 3), _invented_name(rng, 2)
        if country in table or city in cities or country in cities or city in table:
            continue
        table[country] = city
        cities.add(city)
    return table


def _letters(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(_LETTERS) for _ in range(rng.randint(lo, hi)))


def _words(rng: random.Random, lo: int, hi: int) -> list[str]:
    return [rng.choice(_WORDS) for _ in range(rng.randint(lo, hi))]


def _example(rng: random.Random, skill: str, facts: dict[str, str]) -> Example:
    """Draw one example of ``skill``. Letters are space-separated so that copying and reversing act
    on whole tokens, which a tiny BPE model can learn; digits are split one per token by the
    tokenizer so arithmetic does not depend on which numbers happened to be merged."""
    if skill == "add":
        a, b = rng.randint(0, _MAX_OPERAND), rng.randint(0, _MAX_OPERAND)
        return Example(f"{a}+{b}=", str(a + b), skill)
    if skill == "sub":
        a, b = rng.randint(0, _MAX_OPERAND), rng.randint(0, _MAX_OPERAND)
        a, b = max(a, b), min(a, b)
        return Example(f"{a}-{b}=", str(a - b), skill)
    if skill == "copy":
        s = _letters(rng, 2, 5)
        return Example(f"copy: {s}", s, skill)
    if skill == "reverse":
        s = _letters(rng, 2, 4)
        return Example(f"reverse: {s}", " ".join(reversed(s.split())), skill)
    if skill == "capital":
        country = rng.choice(sorted(facts))
        template = rng.choice(_CAPITAL_TEMPLATES)
        return Example(template.format(c=country), facts[country], skill)
    if skill == "upper":
        w = " ".join(_words(rng, 1, 3))
        return Example(f"upper: {w}", w.upper(), skill)
    if skill == "bracket":
        w = " ".join(_words(rng, 1, 3))
        return Example(f"bracket: {w}", f"[{w}]", skill)
    if skill == "comma":
        ws = _words(rng, 2, 4)
        return Example(f"list: {' '.join(ws)}", ", ".join(ws), skill)
    raise ValueError(f"unknown skill {skill!r}; known: {', '.join(SKILLS)}")


def _held_out_capitals(facts: dict[str, str]) -> list[Example]:
    """One (country, phrasing) pair per country is held out: pretraining teaches every fact under the
    other phrasings, so the suite tests whether the model combines a fact with a phrasing it never
    saw that fact in."""
    rng = random.Random(WORLD_SEED + 1)
    return [Example(rng.choice(_CAPITAL_TEMPLATES).format(c=c), facts[c], "capital")
            for c in sorted(facts)]


def held_out_split(n_per_skill: int = 40, seed: int = 0) -> list[Example]:
    """The held-out general-suite split: unique prompts per skill, never seen in pretraining."""
    facts = fact_table()
    rng = random.Random(f"heldout-{seed}")
    out: list[Example] = []
    for skill in SKILLS:
        if skill == "capital":
            out.extend(_held_out_capitals(facts)[:n_per_skill])
            continue
        seen: set[str] = set()
        attempts = 0
        while len(seen) < n_per_skill and attempts < n_per_skill * 100:
            attempts += 1
            ex = _example(rng, skill, facts)
            if ex.prompt not in seen:
                seen.add(ex.prompt)
                out.append(ex)
    return out


def pretraining_split(n: int, seed: int = 0, held_out: Iterable[Example] | None = None) -> list[Example]:
    """``n`` pretraining examples, skills drawn uniformly, skipping every prompt of the held-out split
    (pass the same ``held_out`` the suites are written from; by default the default held-out split)."""
    banned = {ex.prompt for ex in (held_out if held_out is not None else held_out_split(seed=seed))}
    facts = fact_table()
    rng = random.Random(f"pretrain-{seed}")
    out: list[Example] = []
    while len(out) < n:
        ex = _example(rng, rng.choice(SKILLS), facts)
        if ex.prompt not in banned:
            out.append(ex)
    return out


def narrow_task_examples(n: int, seed: int) -> Iterator[Example]:
    """The demo "narrow task": a house output format the base model has never seen.

    ``ticket: <words>`` must become ``[<WORDS IN UPPER CASE>]``: it composes two skills the base model
    has (bracketing, upper-casing) under a prefix it does not know, so exact match starts near zero
    and rises after a short SFT. Prompts never collide with the general corpus (new prefix).
    """
    rng = random.Random(f"narrow-{seed}")
    seen: set[str] = set()
    while len(seen) < n:
        words = " ".join(_words(rng, 1, 3))
        prompt = f"ticket: {words}"
        if prompt in seen:
            continue
        seen.add(prompt)
        yield Example(prompt, f"[{words.upper()}]", "ticket")


def dumps_jsonl(rows: Iterable[dict]) -> str:
    """JSONL with sorted keys and no trailing spaces: byte-identical across runs and platforms."""
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_jsonl(rows), encoding="utf-8")
    return path


def write_prompt_completion(path: str | Path, examples: Iterable[Example]) -> Path:
    return write_jsonl(path, (ex.as_prompt_completion() for ex in examples))


def write_chat(path: str | Path, examples: Iterable[Example]) -> Path:
    return write_jsonl(path, (ex.as_messages() for ex in examples))


def capital_choice_rows(examples: Iterable[Example], n_choices: int = 4, seed: int = 0) -> list[dict]:
    """Multiple-choice suite rows for capital questions: the true capital plus distractor capitals
    from the same world, in a seeded order (so chance is exactly 1/n_choices)."""
    cities = sorted(set(fact_table().values()))
    rng = random.Random(f"choices-{seed}")
    rows = []
    for ex in examples:
        distractors = rng.sample([c for c in cities if c != ex.completion], n_choices - 1)
        choices = distractors + [ex.completion]
        rng.shuffle(choices)
        rows.append({"prompt": ex.prompt, "choices": choices, "answer": choices.index(ex.completion)})
    return rows


def write_multiple_choice(path: str | Path, examples: Iterable[Example], n_choices: int = 4,
                          seed: int = 0) -> Path:
    return write_jsonl(path, capital_choice_rows(examples, n_choices, seed))


def corpus_hash(examples: Iterable[Example]) -> str:
    """Content hash of a split, recorded in specc_tiny.json so a model names the data it learned from."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.prompt, ex.completion, ex.skill]).encode() + b"\n")
    return h.hexdigest()

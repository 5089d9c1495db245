"""Firewall evasions of issue 17 (finding 3) and clean-data precision: a table of disguised golden rows
that must be found, and of unrelated rows sharing words with the golden set that must stay clean.

Golden rows here are short (under the 8-word n-gram floor), like the demo's own golden set, so before
issue 17 only an exact copy of a whole field or row was caught.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specc.contract.firewall import FirewallReport, FirewallSettings, InputFile, scan

Q = "What is the capital of Peru?"  # golden line 1: a 6-word question
GOLDEN = [
    {"messages": [{"role": "user", "content": Q}, {"role": "assistant", "content": "Lima"}]},
    {"prompt": "ticket: red fox", "completion": "[RED FOX]"},  # line 2: the demo's kind of row (3 words)
    {"prompt": "How many grams are in 1000 kilograms?", "completion": "1,000,000"},  # line 3
    {"prompt": "Translate cat", "completion": "chat"},  # line 4: a two-word question
]


def _chat(*turns: tuple[str, str]) -> dict:
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


def _disguise(text: str, char: str) -> str:
    """Put ``char`` inside every word of ``text`` (after its first letter)."""
    return " ".join(word[:1] + char + word[1:] if len(word) > 1 else word for word in text.split(" "))


# Each case: (training role, training rows, golden lines that must be found).
SHORT_ROWS = {
    # finding 3, bullet 2: short golden rows under every wrapping the adversarial pass tried
    "system prompt added": ("train", [_chat(("system", "You are helpful."), ("user", Q), ("assistant", "Lima"))], {1}),
    "system prompt added (demo row)": ("train", [_chat(("system", "Be brief."), ("user", "ticket: red fox"),
                                                       ("assistant", "[RED FOX]"))], {2}),
    "follow-up turn (demo row)": ("train", [_chat(("user", "ticket: red fox"), ("assistant", "[RED FOX]"),
                                                  ("user", "Thanks"), ("assistant", "You are welcome."))], {2}),
    "golden prompt in an RL prompts file (demo row)": ("prompts", [{"prompt": "ticket: red fox"}], {2}),
    "follow-up turn": ("train", [_chat(("user", Q), ("assistant", "Lima"), ("user", "And of Chile?"),
                                       ("assistant", "Santiago"))], {1}),
    "please appended": ("train", [{"prompt": Q + " please", "completion": "Lima"}], {1}),
    "two golden pairs in one conversation": ("train", [_chat(("user", Q), ("assistant", "Lima"),
                                                             ("user", "ticket: red fox"),
                                                             ("assistant", "[RED FOX]"))], {1, 2}),
    "dpo row of golden prompt + golden answer": ("preference", [{"prompt": "ticket: red fox", "chosen": "[RED FOX]",
                                                                 "rejected": "red fox"}], {2}),
    "Question: prefix": ("train", [{"prompt": "Question: " + Q, "completion": "Lima"}], {1}),
    "Question: prefix, other answer": ("train", [{"prompt": "Question: " + Q, "completion": "Cusco"}], {1}),
    "golden prompt in an RL prompts file": ("prompts", [{"prompt": Q}], {1}),
    "golden prompt in teacher prompts, wrapped": ("prompts", [{"prompt": "Answer briefly: " + Q.lower()}], {1}),
    "two-word golden prompt in a prompts file": ("prompts", [{"prompt": "translate CAT"}], {4}),
    "3-word demo question + please, golden answer": ("train", [{"prompt": "ticket: red fox please",
                                                                "completion": "[RED FOX]"}], {2}),
    "3-word demo pair after a system prompt": ("train", [_chat(("system", "Follow the house format."),
                                                               ("user", "Ticket: red fox."),
                                                               ("assistant", "[red fox]"))], {2}),
    "two-word question pair, answer in another turn": ("train", [_chat(("user", "Please translate cat"),
                                                                       ("assistant", "Sure."),
                                                                       ("assistant", "chat"))], {4}),
    "golden answer inside a longer chosen reply": ("preference", [{"prompt": "Q: " + Q,
                                                                   "chosen": "Lima is the answer",
                                                                   "rejected": "no"}], {1}),
    # finding 3, bullet 4: golden text in a message's name key; digit grouping in short rows
    "golden question in a message name": ("train", [{"messages": [{"role": "user", "content": "hi", "name": Q}]}],
                                          {1}),
    "golden question in a role": ("train", [_chat((Q.replace(" ", "_"), "hello"))], {1}),
    "1,000 for 1000": ("prompts", [{"prompt": "How many grams are in 1,000 kilograms"}], {3}),
    "1.000 and 1_000": ("train", [{"prompt": "how many grams are in 1.000 kilograms", "completion": "1_000_000"}], {3}),
    "Arabic thousands separator": ("prompts", [{"prompt": "How many grams are in 1\u066c000 kilograms?"}], {3}),
}

INVISIBLES = {
    # finding 3, bullet 3: each listed invisible character inside every word, plus a few more of the class
    name: ("prompts", [{"prompt": _disguise(Q, char)}], {1})
    for name, char in {
        "U+200B zero-width space": "\u200b", "U+200D zero-width joiner": "\u200d", "U+FEFF BOM": "\ufeff",
        "U+00AD soft hyphen": "\u00ad", "U+2060 word joiner": "\u2060", "U+2063 invisible separator": "\u2063",
        "U+034F combining grapheme joiner": "\u034f", "U+FE0F variation selector": "\ufe0f",
        "U+E0101 variation selector supplement": "\U000e0101", "tag characters": "\U000e0041\U000e0042",
        "U+200C zero-width non-joiner": "\u200c", "U+2061 function application": "\u2061",
        "U+180E Mongolian vowel separator": "\u180e", "U+202E right-to-left override": "\u202e",
        "U+200E left-to-right mark": "\u200e", "U+3164 Hangul filler": "\u3164", "ASCII control U+0001": "\x01",
    }.items()
}

MARKS_AND_HOMOGLYPHS = {
    "combining acute on every word": ("prompts", [{"prompt": _disguise(Q, "\u0301")}], {1}),
    "stacked combining marks": ("prompts", [{"prompt": Q.replace("a", "a\u0300\u0308\u0323")}], {1}),
    "precomposed accents": ("prompts", [{"prompt": "Whát ís thé cápitàl öf Pérú?"}], {1}),
    "Cyrillic homoglyphs": ("prompts", [{"prompt": "Whаt іs thе сарitаl оf Реru?"}], {1}),
    "Greek homoglyphs": ("prompts", [{"prompt": "What is the capital οf Ρeru?"}], {1}),
    "mixed-script short pair": ("train", [{"prompt": "tісkеt: rеd fох", "completion": "[RЕD FОХ]"}], {2}),
    "mathematical bold letters": ("prompts", [{"prompt": "What is the capital of 𝐏𝐞𝐫𝐮?"}], {1}),
    "full-width letters": ("prompts", [{"prompt": "Ｗｈａｔ ｉｓ ｔｈｅ ｃａｐｉｔａｌ ｏｆ Ｐｅｒｕ？"}], {1}),
    "homoglyphs and zero-width together": ("prompts", [{"prompt": _disguise("Whаt іs thе сарitаl оf Реru?",
                                                                            "\u200b")}], {1}),
}

# Unrelated rows that share words, numbers, scripts or structure with the golden set: never flagged.
CLEAN = {
    "other country": [{"prompt": "What is the capital of Chile?", "completion": "Santiago"}],
    "longer word": [{"prompt": "What is the capital of Peruvian cuisine?", "completion": "Lima"}],
    "longer demo ticket, its own answer": [{"prompt": "ticket: red fox jumps", "completion": "[RED FOX JUMPS]"}],
    "demo ticket, other words": [{"prompt": "ticket: blue fox", "completion": "[RED FOX]"}],
    "two-word question, other object": [{"prompt": "Translate dog", "completion": "chat"}],
    "same words, not the question": [{"prompt": "The word cat, translated, is chat."}],
    "golden answer alone": [_chat(("user", "Name a city."), ("assistant", "Lima"))],
    "same number, other question": [{"prompt": "How many grams are in 1000 pounds?", "completion": "453,592"}],
    "common words": [{"prompt": "What is the best way to learn the capital letters of the alphabet?"}],
    "genuine Cyrillic": [{"prompt": "Какая столица Перу?", "completion": "Лима"}],
    "accented other text": [{"prompt": "Café au lait: what is the recipe?", "completion": "Milk and coffee."}],
    "role names and ids": [{"messages": [{"role": "user", "content": "Hi", "name": "Peru"}], "id": "capital"}],
}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _scan(tmp_path: Path, rows: list[dict], role: str = "train", golden: list[dict] | None = None,
          settings: FirewallSettings | None = None) -> FirewallReport:
    return scan(
        InputFile(_write(tmp_path / "golden.jsonl", golden or GOLDEN), "golden.jsonl", "golden"),
        [InputFile(_write(tmp_path / "train.jsonl", rows), "train.jsonl", role)],
        settings or FirewallSettings(),
    )


@pytest.mark.parametrize("case", sorted({**SHORT_ROWS, **INVISIBLES, **MARKS_AND_HOMOGLYPHS}))
def test_disguised_golden_rows_are_found(tmp_path: Path, case: str) -> None:
    role, rows, expected = {**SHORT_ROWS, **INVISIBLES, **MARKS_AND_HOMOGLYPHS}[case]
    report = _scan(tmp_path, rows, role)
    assert {row.line for row in report.contaminated} == expected, report.render_text()
    assert not report.passed


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_unrelated_rows_sharing_words_stay_clean(tmp_path: Path, case: str) -> None:
    report = _scan(tmp_path, CLEAN[case])
    assert report.total_hits == 0, report.render_text()
    assert report.passed


def test_contained_hits_name_the_field_and_the_question(tmp_path: Path) -> None:
    rows = [
        _chat(("system", "You are helpful."), ("user", "Question: " + Q), ("assistant", "Cusco")),
        _chat(("system", "Follow the house format."), ("user", "ticket: red fox please"), ("assistant", "[RED FOX]")),
    ]
    report = _scan(tmp_path, rows)
    assert [(h.line, h.field, h.golden_line, h.stage, h.snippet) for h in report.listed_hits] == [
        (1, "messages[1].content", 1, "contained", "what is the capital of peru"),
        (2, "messages[1].content", 2, "contained", "ticket red fox"),
    ]
    assert report.hits_by_stage == {"exact": 0, "contained": 2, "ngram": 0}


def test_contained_stage_can_be_switched_off(tmp_path: Path) -> None:
    rows = [{"prompt": "Question: " + Q, "completion": "Lima"}]
    assert not _scan(tmp_path, rows).passed
    assert _scan(tmp_path, rows, settings=FirewallSettings(contained=False)).passed

"""Normalisation and field walking: the definitions every firewall stage relies on."""

from __future__ import annotations

from specc.contract.fields import iter_text_fields, text_values
from specc.contract.textnorm import normalize, normalize_words


def test_case_width_ligatures_and_whitespace_are_seen_through() -> None:
    assert normalize("  Ｈｅｌｌｏ\u3000WORLD\t\n ﬁne  ") == "hello world fine"
    assert normalize("Straße") == normalize("STRASSE") == "strasse"


def test_unicode_punctuation_becomes_space_and_apostrophes_vanish() -> None:
    assert normalize("«Well-known»—facts… (really)¿") == "well known facts really"
    assert normalize("don't") == normalize("don’t") == normalize("dont") == "dont"
    assert normalize("end.Start") == "end start"


def test_symbols_and_digits_are_kept() -> None:
    assert normalize_words("2+2=4 costs $5 ± 1") == ["2+2=4", "costs", "$5", "±", "1"]


def test_empty_and_punctuation_only_text() -> None:
    assert normalize_words("") == [] and normalize_words(" ,.!? ") == []


ROW = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi", "name": "alice"},
    ],
    "chosen": [{"role": "assistant", "content": "Hello"}],
    "meta": {"source": "web", "score": 3, "ok": True, "tags": ["a", None], "odd key": "v", "id": "x1"},
}


def test_every_text_field_with_a_readable_path_skipping_structural_keys() -> None:
    assert list(iter_text_fields(ROW)) == [
        ("messages[0].content", "Be brief."),
        ("messages[1].content", "Hi"),
        ("chosen[0].content", "Hello"),
        ("meta.source", "web"),
        ("meta.tags[0]", "a"),
        ('meta["odd key"]', "v"),
    ]


def test_text_values_agrees_with_iter_text_fields() -> None:
    assert text_values(ROW, []) == [text for _path, text in iter_text_fields(ROW)]


def test_every_step_is_separable_at_an_ascii_space() -> None:
    """The fast path for mostly-ASCII text normalises only the words around non-ASCII characters with the full
    steps and the rest on the ASCII path, cut at ASCII spaces. That is exact only if a space is a boundary for
    every step: checked here for every code point on both sides of a space, in batches (a batch's joined result
    equals its pieces' only if each piece is separable). The last step, the translation table, maps one
    character at a time, so the check covers the steps before it (normalisation forms, case folding, digit
    groups), which keeps it to C calls."""
    import unicodedata

    from specc.contract.textnorm import _DIGIT_GROUP

    def steps(text: str) -> str:
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
        return _DIGIT_GROUP.sub("", unicodedata.normalize("NFD", folded))

    for low in range(0x80, 0x110000, 8192):
        chars = [chr(c) for c in range(low, min(low + 8192, 0x110000))]
        alone = [steps(c) for c in chars]
        assert steps(" ".join(chars)) == " ".join(alone), hex(low)
        assert steps("a ".join(chars) + "a") == "a ".join(alone) + "a", hex(low)  # after an ASCII word
        assert steps(" 1".join(chars)) == " 1".join(alone), hex(low)  # before a digit


def test_mostly_ascii_text_normalises_as_the_full_steps_do() -> None:
    """The mostly-ASCII fast path returns exactly what the full steps return: curly quotes, dashes, accents
    (composed and combining), digit groups next to non-ASCII words, confusables, invisibles, at both ends."""
    import random

    from specc.contract import textnorm

    rng = random.Random(7)
    odd = ["\u2019", "\u2014", "caf\u00e9", "cafe\u0301", "\u0301", "1,000\u00a0", "\u0661\u066c\u0662\u0663\u0664",
           "\u0430pple", "Ky\u200biv", "\ufb01ne", "\u00bd", "\u2460", "\u3000", "\u1100\u1161", "\ud800", "\u00df"]
    words = ["the", "Price", "1,000", "2.500", "it's", "end.", "x", "(a)", "--", "\t", "\n"]
    for _ in range(1500):
        parts = [rng.choice(odd) if rng.random() < 0.1 else rng.choice(words) for _ in range(rng.randint(1, 200))]
        text = rng.choice(["", " ", "\u0301"]) + rng.choice([" ", "", "\u00a0"]).join(parts)
        assert textnorm.normalize_words(text) == textnorm._normalize_full(text).split(), repr(text)

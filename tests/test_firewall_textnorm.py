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

"""The fast firewall equals a slow, obviously-correct reference on random corpora.

The reference below re-derives everything from the documented definitions with
plain loops: a per-character normaliser, a recursive field walker, and an
all-pairs comparison of every training field against every golden row. Hypothesis
generates corpora rich in the variants the firewall must see through (case,
Unicode compatibility forms, punctuation, odd whitespace) and in coincidental
overlaps, with small n so that hits are frequent.
"""

from __future__ import annotations

import json
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from specc.contract.firewall import FirewallSettings, InputFile, scan
from specc.contract.textnorm import normalize_words

# ---------------------------------------------------------------- reference

REF_APOSTROPHES = {"'", "\u2019", "\u2018", "\u02bc", "\u02bb", "\uff07", "\u055a", "\u05f3"}
REF_STRUCTURAL = {"role", "name", "type", "id", "tool_call_id"}


def ref_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    out = []
    for char in folded:
        if char in REF_APOSTROPHES:
            continue
        out.append(" " if unicodedata.category(char).startswith("P") else char)
    return "".join(out).split()


def ref_fields(value: Any, path: str = "") -> list[tuple[str, list[str]]]:
    if isinstance(value, str):
        return [(path, ref_words(value))]
    found: list[tuple[str, list[str]]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in REF_STRUCTURAL and isinstance(item, str):
                continue
            found += ref_fields(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            found += ref_fields(item, f"{path}[{position}]")
    return found


def windows(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def reference_scan(golden: list[dict], training: list[dict], s: FirewallSettings):
    """Return (multiset of hits, {golden_line: covered n-gram count}) by brute force."""
    gold = []
    for line, row in enumerate(golden, start=1):
        fields = ref_fields(row)
        grams: set[tuple[str, ...]] = set()
        for _path, words in fields:
            if len(words) >= s.ngram_floor:
                grams |= windows(words, min(len(words), s.ngram_n))
        whole = [word for _path, words in fields for word in words]
        gold.append((line, fields, grams, whole))
    hits: Counter = Counter()
    covered: dict[int, set] = {}
    for line, row in enumerate(training, start=1):
        fields = ref_fields(row)
        whole = [word for _path, words in fields for word in words]
        for golden_line, golden_fields, golden_grams, golden_whole in gold:
            field_exact = False
            for path, words in fields:
                if any(len(g) >= s.exact_min_words and g == words for _p, g in golden_fields):
                    hits[("train.jsonl", line, path, golden_line, "exact", None)] += 1
                    field_exact = True
            if whole and whole == golden_whole and not field_exact:
                hits[("train.jsonl", line, "", golden_line, "exact", None)] += 1
            for path, words in fields:
                mine = set()
                for n in range(s.ngram_floor, s.ngram_n + 1):
                    mine |= windows(words, n)
                common = mine & golden_grams
                if common:
                    coverage = round(len(common) / len(golden_grams), 6)
                    hits[("train.jsonl", line, path, golden_line, "ngram", coverage)] += 1
                    covered.setdefault(golden_line, set()).update(common)
    return hits, {line: len(grams) for line, grams in covered.items()}


# ---------------------------------------------------------------- strategies

WORDS = [
    "alpha", "Beta", "GAMMA", "straße", "STRASSE", "ｆｕｌｌ", "full", "ΔΈΛΤΑ", "don't", "dont", "x", "42", "ﬁne",
]
PUNCT = [",", ".", "!", "—", "...", "'", "’", "ʼ", "(", "）", "“", "”", "¿", "-"]
SPACE = [" ", "  ", "\t", "\n", "\u3000", "\u00a0"]

token = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS), st.sampled_from(PUNCT))
text = st.lists(st.tuples(token, st.sampled_from(SPACE)), max_size=14).map(
    lambda parts: "".join(word + space for word, space in parts)
)
message = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "alpha"]), "content": text})
row = st.one_of(
    st.fixed_dictionaries({"prompt": text, "completion": text}),
    st.fixed_dictionaries({"messages": st.lists(message, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"prompt": text, "chosen": text, "rejected": st.lists(message, max_size=2)}),
    st.fixed_dictionaries({"text": text, "meta": st.fixed_dictionaries({"tags": st.lists(text, max_size=2)})}),
)


def write_rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def fast_scan(golden: list[dict], training: list[dict], s: FirewallSettings):
    with tempfile.TemporaryDirectory() as tmp:
        write_rows(Path(tmp) / "golden.jsonl", golden)
        write_rows(Path(tmp) / "train.jsonl", training)
        report = scan(
            InputFile(Path(tmp) / "golden.jsonl", "golden.jsonl", "golden"),
            [InputFile(Path(tmp) / "train.jsonl", "train.jsonl")],
            s,
        )
    hits = Counter(
        (h.file, h.line, h.field, h.golden_line, h.stage, None if h.coverage is None else round(h.coverage, 6))
        for h in report.listed_hits
    )
    assert report.total_hits == sum(hits.values())  # listing cap is off in these settings
    return hits, {r.line: r.ngrams_covered for r in report.contaminated if r.ngrams_covered}, report


# ---------------------------------------------------------------- tests


@given(text)
def test_normaliser_equals_per_character_reference(value: str) -> None:
    assert normalize_words(value) == ref_words(value)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_scan_equals_reference(data: st.DataObject) -> None:
    golden = data.draw(st.lists(row, min_size=1, max_size=5), label="golden")
    # training rows: fresh rows, golden rows verbatim, and golden texts spliced into fresh rows
    training = data.draw(st.lists(row, min_size=1, max_size=6), label="fresh")
    for picked in data.draw(st.lists(st.sampled_from(golden), max_size=2), label="copies"):
        training.append(picked)
    for picked in data.draw(st.lists(st.sampled_from(golden), max_size=2), label="spliced"):
        fields = [t for t in json.dumps(picked, ensure_ascii=False).split('"') if len(t) > 3]
        training.append({"prompt": data.draw(text) + " ".join(fields).upper() + data.draw(text)})
    n = data.draw(st.integers(2, 5), label="n")
    s = FirewallSettings(
        ngram_n=n,
        ngram_floor=data.draw(st.integers(1, n), label="floor"),
        exact_min_words=data.draw(st.integers(1, 4), label="exact_min_words"),
        max_hits_listed=10**9,
        max_hits_per_golden_row=10**9,
    )
    expected_hits, expected_covered = reference_scan(golden, training, s)
    hits, covered, report = fast_scan(golden, training, s)
    assert hits == expected_hits
    assert covered == expected_covered
    assert report.contaminated_rows == len({key[3] for key in expected_hits})
    assert report.training_rows == len(training)

"""The fast firewall equals a slow, obviously-correct reference on random corpora.

The reference below re-derives everything from the documented definitions with
plain loops: a per-character normaliser, a recursive field walker, and an
all-pairs comparison of every training field against every golden row. Hypothesis
generates corpora rich in the variants the firewall must see through (case,
Unicode compatibility forms, punctuation, odd whitespace, invisible characters,
combining accents, look-alike letters, digit grouping) and in coincidental
overlaps, with small n so that hits are frequent. The contained stage (short golden
questions inside fields, short golden rows spread over a training row) is re-derived
by an all-pairs search too.
"""

from __future__ import annotations

import json
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from specc.contract.confusables import CONFUSABLES
from specc.contract.firewall import FirewallSettings, InputFile, scan
from specc.contract.textnorm import normalize_words

# ---------------------------------------------------------------- reference

REF_APOSTROPHES = {"'", "\u2019", "\u2018", "\u02bc", "\u02bb", "\uff07", "\u055a", "\u05f3"}
REF_STRUCTURAL = {"role", "name", "type", "id", "tool_call_id"}
# DerivedCoreProperties.txt, Default_Ignorable_Code_Point, written out independently of textnorm's table.
REF_IGNORABLE = (
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFEFF, 0xFFA0]
    + list(range(0x180B, 0x1810)) + list(range(0x200B, 0x2010)) + list(range(0x202A, 0x202F))
    + list(range(0x2060, 0x2070)) + list(range(0xFE00, 0xFE10)) + list(range(0xFFF0, 0xFFF9))
    + list(range(0x1BCA0, 0x1BCA4)) + list(range(0x1D173, 0x1D17B)) + list(range(0xE0000, 0xE1000))
)


def ref_fold_digits(text: str) -> str:
    """Delete , . _ or U+066C between a digit and exactly three digits, by scanning characters."""
    out = []
    for i, char in enumerate(text):
        if (char in ",._\u066c" and 0 < i and text[i - 1].isdecimal()
                and text[i + 1 : i + 4].isdecimal() and len(text[i + 1 : i + 4]) == 3
                and not text[i + 4 : i + 5].isdecimal()):
            continue
        out.append(char)
    return "".join(out)


def ref_char(char: str) -> str:
    if char in REF_APOSTROPHES or ord(char) in REF_IGNORABLE:
        return ""
    category = unicodedata.category(char)
    if category in {"Cf", "Mn", "Me", "Cc", "Cs", "Co"} and not char.isspace():
        return ""
    if not char.isascii() and ord(char) in CONFUSABLES:
        return "".join(ref_char(c) for c in CONFUSABLES[ord(char)])
    return " " if category.startswith("P") else char


def ref_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    folded = ref_fold_digits(unicodedata.normalize("NFD", folded))
    return "".join(ref_char(char) for char in folded).split()


def ref_fields(value: Any, path: str = "") -> list[tuple[str, list[str]]]:
    if isinstance(value, str):
        return [(path, ref_words(value))]
    found: list[tuple[str, list[str]]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in REF_STRUCTURAL and isinstance(item, str) and len(ref_words(item)) <= 1:
                continue
            found += ref_fields(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            found += ref_fields(item, f"{path}[{position}]")
    return found


def ref_kind(row: dict, path: str) -> str:
    """question (prompt, user turn, text), answer (completion, chosen, rejected, assistant turn) or other."""
    top = path.split(".")[0].split("[")[0]
    if top in ("completion", "chosen", "rejected"):
        return "answer"
    if path == top and top in ("prompt", "messages", "text"):
        return "question"
    if top in ("prompt", "messages") and path.endswith(".content") and path.count("[") == 1:
        role = row[top][int(path.split("[")[1].split("]")[0])].get("role")
        return {"user": "question", "assistant": "answer"}.get(role, "other")
    return "other"


def occurs(part: list[str], words: list[str]) -> bool:
    return any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))


def ref_contained(parts: list[tuple[str, list[str]]], fields: list[tuple[str, list[str]]], s) -> str | None:
    """The training field of a contained hit on one golden row, or None (brute force)."""
    floor, least = s.ngram_floor, s.contain_min_words
    for kind, part in parts:  # a golden question of least..floor-1 words inside a longer field
        if kind == "question" and least <= len(part) < floor:
            for path, words in fields:
                if len(words) > len(part) and occurs(part, words):
                    return path
    if {kind for kind, _part in parts} != {"question", "answer"} or any(len(p) >= floor for _k, p in parts):
        return None
    first = None
    for kind, part in parts:  # the whole short row spread over the training row's fields
        inside_ok = len(part) >= least or (kind == "question" and len(part) > 1)
        where = [path for path, words in fields if words == part or (inside_ok and occurs(part, words))]
        if not where:
            return None
        if first is None and kind == "question":
            first = where[0]
    return first


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
        exact = [words for path, words in fields if len(words) >= s.exact_min_words
                 or (ref_kind(row, path) == "question" and len(words) >= s.question_exact_min_words)]
        parts = [(ref_kind(row, path), words) for path, words in fields if words and ref_kind(row, path) != "other"]
        gold.append((line, exact, grams, whole, parts))
    hits: Counter = Counter()
    covered: dict[int, set] = {}
    for line, row in enumerate(training, start=1):
        fields = ref_fields(row)
        whole = [word for _path, words in fields for word in words]
        for golden_line, golden_exact, golden_grams, golden_whole, parts in gold:
            field_exact = False
            for path, words in fields:
                if any(g == words for g in golden_exact):
                    hits[("train.jsonl", line, path, golden_line, "exact", None)] += 1
                    field_exact = True
            if whole and whole == golden_whole and not field_exact:
                hits[("train.jsonl", line, "", golden_line, "exact", None)] += 1
                field_exact = True
            if not field_exact:
                contained = ref_contained(parts, fields, s)
                if contained is not None:
                    hits[("train.jsonl", line, contained, golden_line, "contained", None)] += 1
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
    "\u0430lpha", "al\u200bpha", "ca\u0301fe", "café", "1,000", "1000", "g\u00adamma", "\u03bf", "o",
]
PUNCT = [",", ".", "!", "—", "...", "'", "’", "ʼ", "(", "）", "“", "”", "¿", "-"]
SPACE = [" ", "  ", "\t", "\n", "\u3000", "\u00a0"]

token = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS), st.sampled_from(PUNCT))
text = st.lists(st.tuples(token, st.sampled_from(SPACE)), max_size=14).map(
    lambda parts: "".join(word + space for word, space in parts)
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "alpha"]), "content": text},
    optional={"name": st.sampled_from(["bob", "alpha beta", "x_y"])},
)
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


def wrap(golden: dict, around: str, extra: str) -> dict:
    """A golden row disguised the ways issue 17 found: a system prompt added, words around the question,
    a follow-up turn, or the pair turned into a preference row."""
    if "messages" in golden:
        turns = [{"role": "system", "content": extra}] + [
            {**m, "content": around + " " + m["content"]} if m["role"] == "user" else m for m in golden["messages"]
        ]
        return {"messages": turns + [{"role": "user", "content": extra}]}
    if "completion" in golden:
        return {"prompt": golden["prompt"] + " " + around, "chosen": golden["completion"], "rejected": extra}
    if "chosen" in golden:
        return {"messages": [{"role": "user", "content": around + golden["prompt"]},
                             {"role": "assistant", "content": golden["chosen"]}]}
    return {"prompt": extra + " " + golden["text"] + " " + around}


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
    for picked in data.draw(st.lists(st.sampled_from(golden), min_size=1, max_size=3), label="wrapped"):
        training.append(wrap(picked, data.draw(text, label="around"), data.draw(text, label="extra")))
    n = data.draw(st.integers(2, 8), label="n")
    s = FirewallSettings(
        ngram_n=n,
        ngram_floor=data.draw(st.one_of(st.just(n), st.integers(1, n)), label="floor"),
        exact_min_words=data.draw(st.integers(1, 9), label="exact_min_words"),
        question_exact_min_words=data.draw(st.integers(1, 9), label="question_exact_min_words"),
        contain_min_words=data.draw(st.integers(3, 4), label="contain_min_words"),
        max_hits_listed=10**9,
        max_hits_per_golden_row=10**9,
    )
    expected_hits, expected_covered = reference_scan(golden, training, s)
    hits, covered, report = fast_scan(golden, training, s)
    assert hits == expected_hits
    assert covered == expected_covered
    assert report.contaminated_rows == len({key[3] for key in expected_hits})
    assert report.training_rows == len(training)

"""Near-duplicate stage: lightly edited golden rows are found, and every report is a true similarity."""

from __future__ import annotations

import json
import random
from pathlib import Path

from specc.contract.firewall import FirewallSettings, InputFile, scan
from specc.contract.neardup import jaccard, shingles
from specc.contract.textnorm import normalize_words

NEAR_ONLY = FirewallSettings(exact=False, ngrams=False, near_duplicates=True)


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def sentence(rng: random.Random, words: list[str], count: int) -> str:
    return " ".join(rng.choices(words, k=count))


def test_shingles_and_jaccard() -> None:
    assert shingles(["a", "b", "c", "d"], 3) == {"a b c", "b c d"}
    assert shingles(["a", "b"], 3) == {"a b"} and shingles([], 3) == set()
    assert jaccard({"x", "y"}, {"y", "z"}) == 1 / 3 and jaccard(set(), set()) == 0.0


def test_lightly_edited_copy_is_found_and_unrelated_rows_are_not(tmp_path: Path) -> None:
    rng = random.Random(5)
    words = [f"word{i}" for i in range(2000)]
    golden_rows = [{"prompt": sentence(rng, words, 50), "completion": sentence(rng, words, 30)} for _ in range(50)]
    edited = golden_rows[17]["prompt"].split()
    edited[10] = "changed"
    edited[40] = "Edited!"
    training = [{"prompt": sentence(rng, words, 50), "completion": sentence(rng, words, 30)} for _ in range(200)]
    training.insert(99, {"prompt": " ".join(edited).upper(), "completion": golden_rows[17]["completion"]})
    golden = InputFile(write_rows(tmp_path / "g.jsonl", golden_rows), "g.jsonl", "golden")
    train = InputFile(write_rows(tmp_path / "t.jsonl", training), "t.jsonl")
    report = scan(golden, [train], NEAR_ONLY)
    assert [(h.line, h.field, h.golden_line, h.stage) for h in report.listed_hits] == [
        (100, "", 18, "near_duplicate")
    ]
    assert 0.8 <= report.listed_hits[0].jaccard < 1.0
    # the same edits break every 13-gram through them but the untouched stretches still match
    assert scan(golden, [train], FirewallSettings()).contaminated_rows == 1


def test_every_reported_pair_is_truly_similar_and_clear_copies_are_all_found(tmp_path: Path) -> None:
    rng = random.Random(9)
    words = [f"w{i}" for i in range(60)]  # small vocabulary: many partial overlaps
    golden_rows = [{"text": sentence(rng, words, rng.randint(8, 30))} for _ in range(60)]
    training = []
    for _ in range(300):
        base = rng.choice(golden_rows)["text"].split()
        for _edit in range(rng.randint(0, 6)):
            base[rng.randrange(len(base))] = rng.choice(words)
        training.append({"text": " ".join(base)})
    golden = InputFile(write_rows(tmp_path / "g.jsonl", golden_rows), "g.jsonl", "golden")
    train = InputFile(write_rows(tmp_path / "t.jsonl", training), "t.jsonl")
    settings = FirewallSettings(
        exact=False, ngrams=False, near_duplicates=True, max_hits_listed=10**6, max_hits_per_golden_row=10**6
    )
    report = scan(golden, [train], settings)
    golden_sets = [shingles(normalize_words(r["text"]), 3) for r in golden_rows]
    truth = {}
    for line, row in enumerate(training, start=1):
        mine = shingles(normalize_words(row["text"]), 3)
        for golden_line, theirs in enumerate(golden_sets, start=1):
            truth[(line, golden_line)] = jaccard(mine, theirs)
    found = {(h.line, h.golden_line): h.jaccard for h in report.listed_hits}
    assert found, "expected near duplicates in this corpus"
    for pair, similarity in found.items():
        assert similarity == truth[pair] >= 0.8  # verified, never a false report
    clear = {pair for pair, similarity in truth.items() if similarity >= 0.9}
    assert clear <= set(found)  # LSH recall at 0.9 with 32 bands of 4 rows is ~1 - 1e-12
    assert report.total_hits == len(found) == len([s for s in truth.values() if s >= 0.8]) - len(
        [p for p, s in truth.items() if s >= 0.8 and p not in found]
    )

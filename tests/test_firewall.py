"""The golden-set firewall on hand-built corpora: what it must find, and what it must not."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import pytest

from specc.contract.firewall import DataError, FirewallReport, FirewallSettings, InputFile, scan

GOLDEN_PROMPT = (
    "Which river flows through the ancient city of Kyiv before reaching the Black Sea after a long journey south"
)
GOLDEN_ANSWER = "The Dnieper river carries its waters past Kyiv and onward through wide steppes to the Black Sea."
EXCERPT = "flows through the ancient city of Kyiv before reaching the Black Sea after a"  # 14 words


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def golden_file(tmp_path: Path, rows: list[dict] | None = None) -> InputFile:
    rows = rows or [
        {"prompt": GOLDEN_PROMPT, "completion": GOLDEN_ANSWER},
        {"prompt": "Name the largest planet of the solar system and give its mass.", "completion": "4"},
    ]
    return InputFile(write_rows(tmp_path / "golden.jsonl", rows), "data/golden.jsonl", "golden")


def run(
    tmp_path: Path, rows: list[dict], settings: FirewallSettings | None = None, golden: list[dict] | None = None
) -> FirewallReport:
    train = InputFile(write_rows(tmp_path / "train.jsonl", rows), "data/train.jsonl", "train")
    return scan(golden_file(tmp_path, golden), [train], settings or FirewallSettings())


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


VARIANTS = {
    "recased": EXCERPT.upper(),
    "repunctuated": EXCERPT.replace(" ", ", ").replace("Kyiv", "«Kyiv»") + "!!",
    "extra_whitespace": "  \t".join(EXCERPT.split()) + "\n\n",
    "nfkc_full_width": full_width(EXCERPT),
    "embedded": "Many quizzes ask which river " + EXCERPT + " long journey south; answer briefly please.",
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_planted_variants_are_found_in_every_field_type(tmp_path: Path, variant: str) -> None:
    planted = VARIANTS[variant]
    filler = "An unrelated sentence about baking bread with a little salt and patience every morning."
    rows = [
        {"prompt": planted, "completion": filler},
        {"prompt": filler, "completion": planted},
        {"messages": [{"role": "system", "content": filler}, {"role": "user", "content": planted}]},
        {"prompt": filler, "chosen": planted, "rejected": filler},
        {"prompt": filler, "chosen": filler, "rejected": [{"role": "assistant", "content": planted}]},
        {"text": filler},
    ]
    report = run(tmp_path, rows)
    found = {(h.line, h.field) for h in report.listed_hits if h.stage == "ngram"}
    assert found == {
        (1, "prompt"),
        (2, "completion"),
        (3, "messages[1].content"),
        (4, "chosen"),
        (5, "rejected[0].content"),
    }
    assert all(h.golden_line == 1 for h in report.listed_hits)
    assert not report.passed and report.contaminated_rows == 1 and report.golden_rows == 2
    assert report.files[0].rows_flagged == 5 and report.files[0].rows == 6


def test_teacher_prompts_are_checked(tmp_path: Path) -> None:
    golden = golden_file(tmp_path)
    teacher = InputFile(
        write_rows(tmp_path / "teacher.jsonl", [{"prompt": "Say hello."}, {"prompt": GOLDEN_PROMPT.lower()}]),
        "data/teacher.jsonl",
        "teacher_prompts",
    )
    report = scan(golden, [teacher])
    assert [(h.file, h.line, h.field, h.stage) for h in report.listed_hits] == [
        ("data/teacher.jsonl", 2, "prompt", "exact"),
        ("data/teacher.jsonl", 2, "prompt", "ngram"),
    ]
    assert report.files[0].role == "teacher_prompts"


def test_clean_corpus_has_no_hits(tmp_path: Path) -> None:
    rng = random.Random(7)
    vocabulary = GOLDEN_PROMPT.split() + GOLDEN_ANSWER.split()  # same words, never the same 13-word run
    rows = [{"prompt": " ".join(rng.sample(vocabulary, 20)), "completion": "4"} for _ in range(300)]
    report = run(tmp_path, rows)
    assert report.passed and report.total_hits == 0 and report.contaminated_rows == 0
    assert report.training_rows == 300


def test_short_golden_answer_does_not_flag_rows_but_a_whole_row_copy_does(tmp_path: Path) -> None:
    rows = [
        {"prompt": "What is 2 + 2?", "completion": "4"},
        {"prompt": "Name the largest planet of the solar system and give its mass.", "completion": "4"},
    ]
    report = run(tmp_path, rows)
    # row 1 shares only the answer "4" with golden row 2: no hit; row 2 copies it (whole-row hit folded in)
    assert [(h.line, h.field, h.stage) for h in report.listed_hits] == [(2, "prompt", "exact"), (2, "prompt", "ngram")]
    row_copy = run(tmp_path, [{"messages": [{"role": "user", "content": "Hi"}]}], golden=[
        {"prompt": "Hi!", "completion": ""},
        {"prompt": "Something else entirely.", "completion": "yes"},
    ])
    assert [(h.line, h.field, h.stage) for h in row_copy.listed_hits] == [(1, "", "exact")]


def test_short_golden_fields_fall_back_to_shorter_ngrams_then_contained_and_exact(tmp_path: Path) -> None:
    nine = "the quick brown fox jumps over the lazy dog"  # 9 words: one 9-gram
    six = "tell me a story about dragons"  # 6 words: below the floor: a golden question, contained anywhere
    golden = [{"prompt": nine}, {"prompt": six}]
    rows = [
        {"prompt": "Yesterday " + nine.upper() + " again, twice."},  # whole 9-word field embedded
        {"prompt": "the quick brown fox jumps over the lazy cat"},  # only 8 of the 9 words
        {"prompt": "Please " + six + " tonight"},  # short golden question embedded: contained (issue 17)
        {"prompt": six.title() + "!"},  # short golden field equal: exact hit
        {"prompt": "Tell me a story about dragonflies"},  # a different question: no hit
    ]
    report = run(tmp_path, rows, golden=golden)
    assert [(h.line, h.golden_line, h.stage) for h in report.listed_hits] == [
        (1, 1, "ngram"), (3, 2, "contained"), (4, 2, "exact")]
    assert report.contaminated[0].ngrams_total == 1 and report.contaminated[0].coverage == 1.0


def test_coverage_per_hit_and_per_golden_row(tmp_path: Path) -> None:
    words = GOLDEN_PROMPT.split()  # 19 words -> 7 distinct 13-grams
    rows = [{"text": " ".join(words[:13])}, {"text": " ".join(words[5:])}]
    report = run(tmp_path, rows, golden=[{"prompt": GOLDEN_PROMPT}])
    assert [h.coverage for h in report.listed_hits] == [pytest.approx(1 / 7), pytest.approx(2 / 7)]
    (row,) = report.contaminated
    assert (row.ngrams_total, row.ngrams_covered, row.hit_count) == (7, 3, 2)


def test_structural_labels_are_not_text_but_structural_values_with_words_are(tmp_path: Path) -> None:
    """One-word labels (roles, names, ids) never match; a golden question hidden in a message's ``name``
    (or any structural key) is text and is found (issue 17)."""
    golden = [{"prompt": "Alice", "completion": "user"}, {"prompt": GOLDEN_PROMPT, "completion": "x"}]
    labels = run(tmp_path, [{"messages": [{"role": "user", "content": "hello", "name": "Alice"}], "id": "user"}],
                 golden=golden)
    assert labels.total_hits == 0
    hidden = [{"messages": [{"role": "user", "content": "hello", "name": GOLDEN_PROMPT}]},
              {"messages": [{"role": GOLDEN_PROMPT.replace(" ", "_"), "content": "hello"}]},
              {"prompt": "hi", "completion": "ok", "id": GOLDEN_PROMPT}]
    report = run(tmp_path, hidden, golden=golden)
    assert [(h.line, h.field, h.stage) for h in report.listed_hits if h.stage == "exact"] == [
        (1, "messages[0].name", "exact"), (2, "messages[0].role", "exact"), (3, "id", "exact")]


def test_golden_equal_to_training_flags_everything_with_capped_listing(tmp_path: Path) -> None:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(400)]
    rows = [{"prompt": " ".join(rng.choices(words, k=30)), "completion": " ".join(rng.choices(words, k=20))}
            for _ in range(120)]
    golden = InputFile(write_rows(tmp_path / "g.jsonl", rows), "g.jsonl", "golden")
    train = InputFile(write_rows(tmp_path / "t.jsonl", rows), "t.jsonl")
    settings = FirewallSettings(max_hits_per_golden_row=2, max_hits_listed=50)
    report = scan(golden, [train], settings)
    assert report.contaminated_rows == report.golden_rows == 120 and report.contaminated_fraction == 1.0
    assert all(row.coverage == 1.0 for row in report.contaminated)
    assert len(report.listed_hits) == 50 and all(len(row.hits) <= 2 for row in report.contaminated)
    assert report.total_hits == sum(row.hit_count for row in report.contaminated) >= 4 * 120
    assert report.hits_by_stage["exact"] >= 240 and report.hits_by_stage["ngram"] >= 240
    assert not report.passed and not scan(golden, [train], FirewallSettings(threshold=0.99)).passed
    with pytest.raises(ValueError, match="a threshold of 1 passes even training data equal to the golden set"):
        FirewallSettings(threshold=1.0)  # the only threshold that would pass this: refused (issue 17)


def test_threshold_allows_a_fraction(tmp_path: Path) -> None:
    report = run(tmp_path, [{"prompt": GOLDEN_PROMPT}], FirewallSettings(threshold=0.5))
    assert report.contaminated_fraction == 0.5 and report.passed


def test_report_json_is_deterministic_sorted_and_relative(tmp_path: Path) -> None:
    rows = [{"prompt": VARIANTS["embedded"]}, {"text": GOLDEN_ANSWER}]
    first = run(tmp_path, rows).to_json()
    second = run(tmp_path, rows).to_json()
    assert first == second
    data = json.loads(first)
    assert json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n" == first
    assert str(tmp_path) not in first
    assert data["summary"]["contaminated_rows"] == 1 and data["passed"] is False
    assert data["files"][0]["name"] == "data/train.jsonl" and data["golden"]["file"] == "data/golden.jsonl"
    text = run(tmp_path, rows).render_text()
    assert "FAILED" in text and "data/train.jsonl:1 prompt" in text and "data/golden.jsonl:1" in text


def test_stages_can_be_switched_off(tmp_path: Path) -> None:
    rows = [{"prompt": GOLDEN_PROMPT}]
    exact_only = run(tmp_path, rows, FirewallSettings(ngrams=False, contained=False))
    assert exact_only.stages == ("exact",) and set(exact_only.hits_by_stage) == {"exact"}
    assert run(tmp_path, rows).stages == ("exact", "contained", "ngram")
    ngram_only = run(tmp_path, rows, FirewallSettings(exact=False))
    assert [h.stage for h in ngram_only.listed_hits] == ["ngram"]


@pytest.mark.parametrize(
    ("content", "line"),
    [(b'{"prompt": "ok"}\n{"prompt": \n', 2), (b'{"prompt": "ok"}\n\n["not", "an object"]\n', 3),
     (b'{"prompt": "caf\xe9"}\n', 1), (b"", 0)],
)
def test_bad_training_data_raises_data_error_with_display_name(tmp_path: Path, content: bytes, line: int) -> None:
    (tmp_path / "bad.jsonl").write_bytes(content)
    with pytest.raises(DataError) as caught:
        scan(golden_file(tmp_path), [InputFile(tmp_path / "bad.jsonl", "data/bad.jsonl")])
    assert caught.value.path == "data/bad.jsonl" and caught.value.line == line


def test_bad_golden_data_raises_data_error(tmp_path: Path) -> None:
    (tmp_path / "g.jsonl").write_bytes(b'{"prompt": "ok"}\n{oops}\n')
    with pytest.raises(DataError, match=r"^golden\.jsonl:2:2: malformed JSON"):
        scan(InputFile(tmp_path / "g.jsonl", "golden.jsonl"), [])


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="ngram_floor"):
        FirewallSettings(ngram_n=5, ngram_floor=8)
    with pytest.raises(ValueError, match="minhash_bands"):
        FirewallSettings(minhash_permutations=100, minhash_bands=32)


def _corpus(path: Path, rows: int) -> Path:
    """Deterministic training rows with a planted golden excerpt every 7th row."""
    rng = random.Random(11)
    words = [f"tok{i}" for i in range(5000)]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(rows):
            prompt = " ".join(rng.choices(words, k=40))
            if i % 7 == 0:
                prompt += " " + EXCERPT
            out.write(json.dumps({"prompt": prompt, "completion": " ".join(rng.choices(words, k=40))}) + "\n")
    return path


def test_peak_memory_is_bounded_by_golden_set_not_training_set(tmp_path: Path) -> None:
    golden = golden_file(tmp_path)
    small = InputFile(_corpus(tmp_path / "small.jsonl", 1000), "small.jsonl")
    large = InputFile(_corpus(tmp_path / "large.jsonl", 10_000), "large.jsonl")
    assert (tmp_path / "large.jsonl").stat().st_size > 9 * (tmp_path / "small.jsonl").stat().st_size

    def peak(training: InputFile) -> tuple[int, FirewallReport]:
        tracemalloc.start()
        try:
            report = scan(golden, [training])
            return tracemalloc.get_traced_memory()[1], report
        finally:
            tracemalloc.stop()

    # Warm up first: CPython keeps freed small tuples on free lists (bounded, but they
    # count as allocated), so a cold first scan would look smaller than it is.
    scan(golden, [large])
    small_peak, small_report = peak(small)
    large_peak, large_report = peak(large)
    assert (large_report.total_hits, small_report.total_hits) == (1429, 143)  # capped listing, exact counts
    assert large_peak < small_peak * 1.25 + 64 * 1024, (small_peak, large_peak)


def test_firewall_modules_stay_light() -> None:
    """The check command runs in CI without the training stack; numpy only loads for near-duplicates."""
    import subprocess
    import sys

    code = (
        "import sys, specc.contract.firewall, specc.data.jsonl, specc.contract.textnorm\n"
        "heavy = {'torch', 'transformers', 'trl', 'peft', 'bitsandbytes', 'datasets', 'wandb', 'numpy'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

"""Which rows a suite scores (:func:`specc.runtime.suites.suite_rows`), for every way a suite names its rows: a JSONL
path, specc's built-in refusal prompts, a CONFIG entry with a ``source`` (read through the sources' loader) and a
golden set given as a list of entries. Each reads no further than the suite's ``limit``. No model needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specc.runtime.suites import BUILTIN_REFUSAL_PROMPTS, SuiteError, SuiteSpec, member_rows, suite_rows

ROWS = [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(6)]


def _jsonl(path: Path, rows: list[dict], tail: str = "") -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail, encoding="utf-8")
    return str(path)


def _mapped(path: Path, rows: list[dict]) -> dict:
    """A CONFIG entry whose source renames columns: only the sources' loader turns these rows into prompt/completion."""
    _jsonl(path, [{"question": r["prompt"], "answer": r["completion"]} for r in rows])
    return {"path": str(path), "spec_path": f"data/{path.name}",
            "source": {"kind": "jsonl", "columns": {"prompt": "question", "completion": "answer"}}}


def test_a_jsonl_suite_reads_up_to_its_limit_and_names_a_bad_line(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "s.jsonl", ROWS[:3], tail="{not json\n")
    assert suite_rows(SuiteSpec("s", "exact_match", path=path, limit=3)) == ROWS[:3]  # the bad line is past it
    with pytest.raises(SuiteError, match=r"s\.jsonl:4: not valid JSON"):
        suite_rows(SuiteSpec("s", "exact_match", path=path))


def test_a_refusal_suite_without_a_path_reads_the_builtin_prompts(tmp_path: Path) -> None:
    builtin = [json.loads(line) for line in BUILTIN_REFUSAL_PROMPTS.read_text(encoding="utf-8").splitlines()]
    assert suite_rows(SuiteSpec("safety", "refusal")) == builtin
    assert suite_rows(SuiteSpec("safety", "refusal", limit=2)) == builtin[:2]
    own = _jsonl(tmp_path / "own.jsonl", [{"prompt": "p"}])
    assert suite_rows(SuiteSpec("own", "refusal", path=own)) == [{"prompt": "p"}]


def test_an_entry_with_a_source_is_read_through_the_sources_loader(tmp_path: Path) -> None:
    entry = _mapped(tmp_path / "q.jsonl", ROWS[:4])
    assert suite_rows(SuiteSpec("q", "exact_match", path="data/q.jsonl", entry=entry)) == ROWS[:4]
    assert suite_rows(SuiteSpec("q", "exact_match", path="data/q.jsonl", entry=entry, limit=2)) == ROWS[:2]


def test_a_golden_list_reads_its_members_in_order_up_to_the_limit(tmp_path: Path) -> None:
    members = [_mapped(tmp_path / "a.jsonl", ROWS[:2]),
               {"path": _jsonl(tmp_path / "b.jsonl", ROWS[2:5]), "spec_path": "data/b.jsonl"}]
    assert suite_rows(SuiteSpec("g", "exact_match", path="data/a.jsonl", entry=members)) == ROWS[:5]
    assert suite_rows(SuiteSpec("g", "exact_match", path="data/a.jsonl", entry=members, limit=3)) == ROWS[:3]
    assert member_rows(SuiteSpec("g", "exact_match", path="data/a.jsonl", entry=members, limit=3)) == [
        ("data/a.jsonl", ROWS[:2]), ("data/b.jsonl", ROWS[2:3])]


def test_a_golden_list_member_is_read_no_further_than_the_limit(tmp_path: Path) -> None:
    """One read path: a list member's JSONL is read lazily, as a single suite's is (before, a member was read
    whole, so a bad line past the limit failed the suite that a single file's suite would have scored)."""
    members = [{"path": _jsonl(tmp_path / "a.jsonl", ROWS[:3], tail="{not json\n"), "spec_path": "data/a.jsonl"},
               {"path": _jsonl(tmp_path / "b.jsonl", ROWS[3:]), "spec_path": "data/b.jsonl"}]
    assert suite_rows(SuiteSpec("g", "exact_match", path="data/a.jsonl", entry=members, limit=2)) == ROWS[:2]
    with pytest.raises(SuiteError, match=r"a\.jsonl:4: not valid JSON"):
        suite_rows(SuiteSpec("g", "exact_match", path="data/a.jsonl", entry=members))

"""Several sources read as one index (:class:`specc.contract.rowunion.RowUnion`), the merge shared by a golden list
and the suite-overlap scan: each merged row maps back to its own source and line, and a hit in any but the first
source is named by that source's own ``file:line``, never by its merged number."""

from __future__ import annotations

import json
from pathlib import Path

from specc.contract.rowunion import RowUnion
from specc.contract.settings import FirewallSettings, InputFile
from specc.contract.suiteoverlap import SuiteOverlapScan, SuiteRows

ROWS = [{"prompt": f"question {i} about the {w} river and its long winding delta near the old town",
         "completion": f"the {w} delta"} for i, w in enumerate(["amber", "brisk", "cobalt", "dusky", "ember"])]


def _jsonl(path: Path, rows: list[dict]) -> InputFile:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return InputFile(path, name=f"data/{path.name}")


def test_a_union_numbers_rows_across_members_and_maps_each_back_to_its_own_line(tmp_path: Path) -> None:
    a, b = _jsonl(tmp_path / "a.jsonl", ROWS[:2]), _jsonl(tmp_path / "b.jsonl", ROWS[2:])
    union = RowUnion([a, b])
    assert [(name, ordinal) for name, ordinal, _row in union.rows()] == [
        ("data/a.jsonl", 1), ("data/a.jsonl", 2), ("data/b.jsonl", 3), ("data/b.jsonl", 4), ("data/b.jsonl", 5)]
    assert [union.origin(n) for n in range(1, 6)] == [(0, 1), (0, 2), (1, 1), (1, 2), (1, 3)]
    assert union.counts == [2, 3]
    assert len(list(union.rows())) == 5 and union.counts == [2, 3]  # a second read starts afresh


def test_suite_overlap_names_a_later_suites_own_row_not_its_merged_number(tmp_path: Path) -> None:
    """Suites s1 (2 rows) and s2 (3 rows): s2's line 3 is the index's row 5; the report says s2 line 3."""
    files = {"s1": _jsonl(tmp_path / "s1.jsonl", ROWS[:2]), "s2": _jsonl(tmp_path / "s2.jsonl", ROWS[2:])}
    train = _jsonl(tmp_path / "train.jsonl", [{"prompt": "baking bread with a sourdough starter", "completion": "ok"},
                                              ROWS[4], ROWS[1]])
    scan = SuiteOverlapScan([SuiteRows(n, f.name, f.rows) for n, f in files.items()], FirewallSettings())
    match = scan.matcher(train.name)
    for _name, line, row in train.rows():
        match(line, row)
    report = scan.report()
    assert report.suites == (("s1", 2), ("s2", 3))
    assert report.found == (("s1", "data/s1.jsonl", (2,)), ("s2", "data/s2.jsonl", (3,)))
    lines = report.render_lines()
    assert "  data/train.jsonl:2 prompt: exact hit on suite s2 data/s2.jsonl:3: \"question 4 about the ember river " \
           "and its long winding delta near the old town\"" in lines, lines
    assert "  data/train.jsonl:3 prompt: exact hit on suite s1 data/s1.jsonl:2: \"question 1 about the brisk river " \
           "and its long winding delta near the old town\"" in lines, lines
    hits = report.to_dict()["hits"]
    assert {(h["suite"], h["suite_line"], h["line"]) for h in hits} == {("s2", 3, 2), ("s1", 2, 3)}

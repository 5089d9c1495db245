"""Row formats (specc.data.rowformat): detection order and why a row does not fit."""

from __future__ import annotations

from specc.data.rowformat import REQUIRED_KEYS, detect_format, row_problem


def test_unpaired_preference_is_detected_before_prompt_completion() -> None:
    row = {"prompt": "Q", "completion": "A", "label": True}
    assert detect_format(row) == "unpaired_preference"
    assert REQUIRED_KEYS["unpaired_preference"] == ("prompt", "completion", "label")
    assert row_problem(row, "unpaired_preference") is None
    assert detect_format({"prompt": "Q", "completion": "A"}) == "prompt_completion"


def test_unpaired_preference_label_must_be_a_boolean() -> None:
    problem = row_problem({"prompt": "Q", "completion": "A", "label": "yes"}, "unpaired_preference")
    assert problem is not None and "`label` must be true" in problem and "str" in problem
    missing = row_problem({"prompt": "Q", "completion": "A", "lable": True}, "unpaired_preference")
    assert missing is not None and "missing label" in missing and "`lable` should be `label`?" in missing

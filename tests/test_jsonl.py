"""specc.data.jsonl: streaming rows with positions, and a DataError (never a traceback) for bad data."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest

from specc.data.jsonl import MAX_LINE_BYTES, DataError, count_rows_and_sha256, iter_jsonl


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_rows_with_editor_line_numbers_skipping_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", b'{"a": 1}\n\n   \n{"b": "\xc3\xa9"}\r\n{"c": []}')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, {"b": "é"}), (5, {"c": []})]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.jsonl", b'\xef\xbb\xbf{"a": 1}\n')
    assert list(iter_jsonl(path)) == [(1, {"a": 1})]


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", b'{"a": 1}\n{"a": 2,, }\n')
    with pytest.raises(DataError) as caught:
        list(iter_jsonl(path, display_name="data/bad.jsonl"))
    error = caught.value
    assert (error.path, error.line, error.column) == ("data/bad.jsonl", 2, 9)
    assert str(error).startswith("data/bad.jsonl:2:9: malformed JSON")


def test_truncated_last_line_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.jsonl", b'{"a": 1}\n{"prompt": "unfinished')
    with pytest.raises(DataError) as caught:
        list(iter_jsonl(path))
    assert caught.value.line == 2


def test_non_utf8_bytes_name_the_byte_offset(tmp_path: Path) -> None:
    # 9 bytes of line 1, then 10 bytes of '{"a": "caf' before the Latin-1 e-acute: offset 19
    path = write(tmp_path / "latin1.jsonl", b'{"a": 1}\n{"a": "caf\xe9"}\n')
    with pytest.raises(DataError) as caught:
        list(iter_jsonl(path))
    assert caught.value.line == 2
    assert "0xe9" in str(caught.value) and "file offset 19" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "empty.jsonl", content)
    with pytest.raises(DataError, match="empty file") as caught:
        list(iter_jsonl(path, display_name="empty.jsonl"))
    assert caught.value.line == 0 and str(caught.value) == "empty.jsonl: empty file: no JSONL rows"


@pytest.mark.parametrize(
    ("row", "kind"), [(b"[1, 2]", "an array"), (b'"text"', "a string"), (b"3", "a number"), (b"null", "null")]
)
def test_non_object_rows_are_rejected(tmp_path: Path, row: bytes, kind: str) -> None:
    path = write(tmp_path / "rows.jsonl", b'{"a": 1}\n' + row + b"\n")
    with pytest.raises(DataError, match=f"must be a JSON object, got {kind}") as caught:
        list(iter_jsonl(path))
    assert caught.value.line == 2


def test_fifty_megabyte_line_is_refused_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as handle:
        handle.write(b'{"a": 1}\n{"text": "')
        handle.write(b"x" * (50 * 1024 * 1024))
        handle.write(b'"}\n')
    with pytest.raises(DataError, match=f"longer than {MAX_LINE_BYTES} bytes") as caught:
        list(iter_jsonl(path, display_name="huge.jsonl"))
    assert caught.value.line == 2


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot open"):
        list(iter_jsonl(tmp_path / "nope.jsonl"))


def test_deeply_nested_row_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path / "deep.jsonl", b"[" * 200_000 + b"]" * 200_000 + b"\n")
    with pytest.raises(DataError) as caught:
        list(iter_jsonl(path))
    assert caught.value.line == 1


def test_data_error_survives_pickling() -> None:
    error = DataError("a.jsonl", 3, "malformed JSON: x", column=4)
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.path, clone.line, clone.column, str(clone)) == ("a.jsonl", 3, 4, "a.jsonl:3:4: malformed JSON: x")


def test_count_rows_and_sha256_matches_parsing_and_bytes(tmp_path: Path) -> None:
    rows = [{"prompt": f"question {i}", "completion": "ünïcode"} for i in range(1000)]
    data = "".join(json.dumps(row, ensure_ascii=False) + ("\n\n" if i % 7 == 0 else "\n") for i, row in enumerate(rows))
    path = write(tmp_path / "d.jsonl", data.encode("utf-8"))
    count, digest = count_rows_and_sha256(path)
    assert count == len(list(iter_jsonl(path))) == 1000
    assert digest == hashlib.sha256(data.encode("utf-8")).hexdigest()


def test_count_rows_of_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        count_rows_and_sha256(tmp_path / "missing.jsonl", display_name="missing.jsonl")

"""Real data, the remaining gaps of issue 11 (and issue 14's dataset-card licences): slices of
``save_to_disk`` folders, typed CSV labels for KTO, rows validated inside the one loader, every role
(golden, general suites) from any source, and the licence a Hub dataset's card states.

Everything runs through the real loader (:mod:`specc.runtime.datasource`, ``datasets``); Hub datasets are
local repositories in the Hub's layout (``make_hub_repo``), reached by ``SPECC_HUB_MIRROR``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_hub_repo
from specc.data.jsonl import DataError
from specc.data.sources import Source, iter_source_rows

ROWS = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(10)]


@pytest.fixture()
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


@pytest.fixture()
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setenv("SPECC_HUB_MIRROR", str(root))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return root


def _prompts(source: Source) -> list[str]:
    return [row["prompt"] for *_x, row in iter_source_rows(source)]


# ------------------------------------------------------------------------ loader gaps

def test_a_save_to_disk_folder_is_sliced_like_load_dataset_slices_a_split(hf_cache: Path) -> None:
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS),
                          "test": datasets.Dataset.from_list(ROWS[:3])}).save_to_disk(str(hf_cache / "saved"))
    datasets.Dataset.from_list(ROWS).save_to_disk(str(hf_cache / "single"))

    def saved(split: str, folder: str = "saved") -> Source:
        return Source(name=folder, kind="saved", path=str(hf_cache / folder), split=split)

    assert _prompts(saved("train[:20%]")) == ["p0", "p1"]
    assert _prompts(saved("train[5:7]")) == ["p5", "p6"]
    assert _prompts(saved("train[-2:]+test")) == ["p8", "p9", "p0", "p1", "p2"]
    assert _prompts(saved("test")) == ["p0", "p1", "p2"]
    assert _prompts(saved("train[:30%]", "single")) == ["p0", "p1", "p2"]
    with pytest.raises(DataError, match=r"^saved: no split 'validation'; the folder has train, test"):
        _prompts(saved("validation[:2]"))
    with pytest.raises(DataError, match=r"^saved: split 'train\[:abc\]'"):
        _prompts(saved("train[:abc]"))


def test_csv_labels_of_unpaired_preference_rows_are_booleans(hf_cache: Path) -> None:
    kto = hf_cache / "kto.csv"
    kto.write_text("prompt,completion,label\na,b,true\nc,d,0\ne,f, FALSE\ng,h,1\n", encoding="utf-8")
    rows = [row for *_x, row in iter_source_rows(Source(name="kto.csv", kind="csv", path=str(kto)))]
    assert [r["label"] for r in rows] == [True, False, False, True]
    renamed = hf_cache / "renamed.csv"
    renamed.write_text("q,completion,verdict\na,b,true\nc,d,maybe\n", encoding="utf-8")
    source = Source(name="renamed.csv", kind="csv", path=str(renamed), format="unpaired_preference",
                    columns={"label": "verdict", "prompt": "q"})
    with pytest.raises(DataError, match=r"^renamed.csv:3: `verdict` must be true/false \(or 1/0\).*not 'maybe'"):
        list(iter_source_rows(source))
    # a prompt/completion CSV keeps its text: "1" is an answer, not a label
    plain = hf_cache / "pc.csv"
    plain.write_text("prompt,completion\na,1\n", encoding="utf-8")
    assert [r for *_x, r in iter_source_rows(Source(name="pc.csv", kind="csv", path=str(plain)))] == [
        {"prompt": "a", "completion": "1"}]

"""max_seq_length is checked against the model's context window (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_fixture_dir, plan_for

SFT = {"goal": {"behaviours": ["style"], "consistency_required": True}, "evidence": {"prompting": {"score": 0.5}},
       "data": {"train": {"path": "train.jsonl"}}}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_fixture_dir(tmp_path)


def _errors(plan):
    return [f for f in plan.findings if f.rule == "MODEL-SEQ-EXCEEDS-CONTEXT"]


def test_32k_on_a_4k_model_is_a_located_error_naming_the_window(root):
    plan = plan_for(root, {**SFT, "base_model": {"id": "meta-llama/Llama-2-7b-hf", "licence": "llama2",
                                                 "licence_acknowledged": True},
                           "method": {"max_seq_length": 32768}})
    [finding] = _errors(plan)
    assert finding.level == "error" and not plan.ok
    assert "4,096 positions" in finding.message and "32,768" in finding.message
    assert "Llama-2-7b-hf" in finding.message
    # located: file, line and column of the key in the spec file
    spec_lines = (root / "spec.yaml").read_text().splitlines()
    where = finding.message.split(": ")[0]
    name, line, col = where.split(":")
    assert name == "spec.yaml" and "max_seq_length" in spec_lines[int(line) - 1][int(col) - 1:]
    assert "4096 or less" in finding.hint


def test_local_config_window_and_lengths_inside_it(root):
    tiny = {"base_model": {"id": None, "path": "models/tiny", "licence": "apache-2.0"}}
    assert _errors(plan_for(root, {**SFT, **tiny, "method": {"max_seq_length": 1024}}))  # window 512
    assert not _errors(plan_for(root, {**SFT, **tiny, "method": {"max_seq_length": 512}}))
    assert not _errors(plan_for(root, {**SFT, "base_model": {"id": "meta-llama/Llama-3.1-8B", "licence": "llama3.1",
                                                             "licence_acknowledged": True},
                                       "method": {"max_seq_length": 32768}}))  # 131,072 positions

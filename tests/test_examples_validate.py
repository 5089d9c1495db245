"""Every example spec in specs/ validates: they are what users copy."""

from pathlib import Path

import pytest

from specc.spec.loader import load_spec

SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.yaml"))


def test_there_are_examples_for_every_path_of_the_guide():
    names = {p.stem for p in SPECS}
    for needed in ("prompting-only", "retrieval-docs-qa", "retrieval-plus-style-lora", "sft-lora-tiny",
                   "qlora-8b", "full-finetune-tiny", "dpo-tiny", "rlhf-tiny", "distill-open-teacher",
                   "distill-closed-api"):
        assert needed in names


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_example_validates(path: Path):
    import hashlib

    import yaml

    loaded = load_spec(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert loaded.spec.name == raw["name"] and loaded.spec.goal.behaviours == raw["goal"]["behaviours"]
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.base_dir == path.parent.resolve()

"""The README's main job, reduced (test-size tiny model, a few steps, short suites), end to end in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.train
@pytest.mark.slow
def test_reduced_demo_runs_the_whole_mission(tmp_path: Path):
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
    env.pop("WANDB_API_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "specc", "demo", "--size", "test", "--max-steps", "2", "--workdir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # Planning: one line per example, with the closed-API distillation rejected by its rule.
    assert "REJECTED [LICENCE-CLOSED-API-TEACHER]" in out
    assert "prompting: no training" in out
    assert "prompting → retrieval: no training" in out
    # The pipeline ran every stage, and the summary names decisions, before/after and where things are.
    for stage in ("firewall", "baseline", "sft", "eval"):
        assert f"{stage}: " in out
    assert "What specc decided for house-format-lora, and why:" in out
    assert "Target (exact_match on the golden set" in out
    assert "W&B offline runs:" in out
    assert "Adapter: " in out
    assert "LoRA vs full fine-tuning" in out
    # Side-by-side results are recorded, with every general suite scored before and after on both sides.
    comparison = json.loads((tmp_path / "builds" / "lora_vs_full.json").read_text())
    for side in ("lora", "full"):
        suites = comparison[side]["suites"]
        assert {s["suite"] for s in suites} == {"arithmetic", "copy-reverse", "formatting", "capitals", "heldout-nll"}
        assert all(s["baseline"] is not None and s["after"] is not None for s in suites)
    # The repository's specs were not touched: the demo works on a copy.
    assert not (REPO / "specs" / "models").exists() or not any((REPO / "specs" / "models").iterdir())

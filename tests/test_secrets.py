"""Secrets: environment credentials never land in a file specc produces.

The marker values are set for the compiler, for the runner and for a stage that really runs (the
firewall stage, which also starts W&B tracking in offline/disabled mode), then every byte under the
project (spec, build, logs, manifest, reports) is searched for them, raw and in common encodings.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from specc.cli.main import main as cli
from specc.run.runner import run_build

from strategies import light_spec

MARKERS = {
    "WANDB_API_KEY": "wandb-key-MARKER-6c1f0e2d9b",
    "HF_TOKEN": "hf_token_MARKER_73aa91c4",
    "HUGGING_FACE_HUB_TOKEN": "hub-MARKER-55d1",
    "OPENAI_API_KEY": "sk-MARKER-openai-0f3e",
    "AWS_SECRET_ACCESS_KEY": "aws-MARKER-secret-9d",
}


def _needles() -> list[bytes]:
    out = []
    for value in MARKERS.values():
        raw = value.encode()
        out += [raw, base64.b64encode(raw), raw.hex().encode(), value[::-1].encode()]
    out.append(b"MARKER")
    return out


def _grep(root: Path) -> list[str]:
    needles = _needles()
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path.relative_to(root)}: {n[:20]!r}" for n in needles if n in data]
    return hits


def test_no_secret_in_compiled_files_logs_or_reports(tmp_path, monkeypatch):
    for key, value in MARKERS.items():
        monkeypatch.setenv(key, value)
    spec = light_spec(tmp_path, tracking="{backend: wandb, mode: offline, project: secrets-test}")
    build = spec.parent / "build" / "light"
    result = CliRunner().invoke(cli, ["compile", str(spec), "-o", str(build)])
    assert result.exit_code == 0, result.output
    assert not any(m in result.output for m in MARKERS.values())
    run = run_build(build, only="firewall")  # the runner passes the environment on to the stage
    assert run.exit_code == 0, run
    assert (build / "logs").is_dir() and any((build / "logs").iterdir())
    # run.sh as a user runs it, for the firewall stage only
    proc = subprocess.run(["bash", str(build / "run.sh"), "firewall"], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not any(m in proc.stdout + proc.stderr for m in MARKERS.values())
    assert _grep(spec.parent) == []


def test_the_grep_finds_a_planted_secret(tmp_path):
    """The control: the search above does find a marker when one is present."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.bin").write_bytes(b"\x00" + base64.b64encode(MARKERS["HF_TOKEN"].encode()) + b"\xff")
    assert _grep(tmp_path)

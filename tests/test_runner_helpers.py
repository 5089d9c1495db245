"""Hand-written build directories for the runner's own logic (ordering, skipping, manifest, lock).

These builds are real: a plan.json in the compiled layout ({"format", "lock", "plan"}) and small Python
stage scripts that the runner launches as processes. They exercise the runner without the training stack;
the end-to-end tests (test_runner_e2e.py) use real compiled builds.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from specc.plan.model import Plan, Stage, TrackingSettings

GROUP = "toy-abc123"


def make_build(root: Path, stages: list[dict[str, Any]], tracking: bool = True) -> Path:
    """stages: dicts with id, body (python source of the script), and optional needs/inputs/outputs/kind."""
    build = root / "build"
    (build / "stages").mkdir(parents=True, exist_ok=True)
    plan_stages = []
    for i, st in enumerate(stages):
        script = f"stages/{i:02d}_{st['id']}.py"
        (build / script).write_text(textwrap.dedent(st["body"]), encoding="utf-8")
        plan_stages.append(Stage(id=st["id"], kind=st.get("kind", "sft"), title=st.get("title", st["id"]),
                                 script=script, needs=st.get("needs", []), inputs=st.get("inputs", {}),
                                 outputs=st.get("outputs", {})))
    plan = Plan(generator="test", name="toy", spec_file="toy.yaml", spec_sha256="0" * 64, levers=["fine_tune"],
                trains=True, method="sft", stages=plan_stages,
                tracking=TrackingSettings(backend="wandb", project="toy-project", entity=None, mode="offline",
                                  log_model=False, group=GROUP) if tracking else None)
    doc = {"format": 1, "lock": {"plan_hash": plan.lock_hash()}, "plan": plan.model_dump(mode="json")}
    (build / "plan.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return build


def writer(out: str, text: str = "ok", extra: str = "") -> str:
    """A stage body that writes ``text`` to ``out`` (build-relative) after ``extra`` code."""
    return f"""
import os, pathlib, sys
{extra}
p = pathlib.Path({out!r})
p.parent.mkdir(parents=True, exist_ok=True)
p.write_text({text!r})
print('@@specc {{"event": "progress", "step": 1, "max_steps": 1, "loss": 0.5}}', flush=True)
"""


def manifest(build: Path) -> dict[str, Any]:
    return json.loads((build / "run_manifest.json").read_text())

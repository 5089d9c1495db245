"""The stage graph's outputs: which folders get a model card, and the ``push`` stage after ``eval``.

Why apart from :mod:`specc.plan.stages`: that module lays out what trains; this one what leaves the build.
The push stage reads only the plan's ``outputs`` and the final folders; its declared inputs are those folders
(so the guard checks they are current), not the eval results: a forced push must be able to run after a failed
gate, and the push script reads the verdict itself.
"""

from __future__ import annotations

from typing import Any

from specc.plan.model import Outputs

__all__ = ["card_folders", "add_push_stage"]

MERGED = "artifacts/merge/model"


def card_folders(final: dict[str, Any]) -> list[dict[str, str]]:
    """``[{"artifact", "dir"}]``: the final adapter and the model the eval stage scores (merged or full)."""
    if "adapter" in final:
        return [{"artifact": "adapter", "dir": final["adapter"]}, {"artifact": "model", "dir": MERGED}]
    return [{"artifact": "model", "dir": final["model"]}] if final.get("model") else []


def add_push_stage(g: Any, outputs: Outputs, folders: list[dict[str, str]]) -> None:
    """Append the push stage: each requested artifact's folder, at the repository root, or the adapter under
    ``adapter/`` when the model is pushed too."""
    have = {f["artifact"]: f["dir"] for f in folders}
    both = {"adapter", "model"} <= set(outputs.hub_artifacts)
    uploads = [{"artifact": a, "folder": have[a], "path_in_repo": "adapter" if both and a == "adapter" else ""}
               for a in sorted(outputs.hub_artifacts, key=lambda a: a != "model") if a in have]
    g.add("push", "push", "Push the gated result and its model card to the Hugging Face Hub", needs=["eval"],
          inputs={u["artifact"]: u["folder"] for u in uploads},
          outputs={"report": "reports/push.json"},
          config={"hub_model_id": outputs.hub_model_id, "private": outputs.hub_private_repo, "uploads": uploads,
                  "results": "results/eval.json", "push_if_gate_fails": outputs.push_if_gate_fails,
                  "output_dir": "artifacts/push"})

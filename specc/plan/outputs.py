"""Step 9: the ``outputs`` section resolved into ``plan.outputs``: the model card's intended use and the Hub
push (what is pushed, where, and whether a failed gate may be overridden).

Why a planning step: pushing is a decision with consequences (a model published), so a reviewer reads it in
the plan with its rule, and a forced push despite a failed gate is a warning there, before anything runs.
"""

from __future__ import annotations

from typing import Any

from specc.plan.model import Outputs

__all__ = ["resolve_outputs"]


def resolve_outputs(spec: Any, trains: bool, budget: str | None, t: Any) -> Outputs | None:
    """``plan.outputs`` for a training plan (None when nothing is trained: no model, no card, no push)."""
    out = spec.outputs
    if not trains:
        if out.push_to_hub:
            t.find("OUTPUT-PUSH-NOTHING", "outputs.push_to_hub is set but the plan trains no model",
                   "drop outputs.push_to_hub")
        return None
    use = spec.goal.intended_use
    if not out.push_to_hub:
        return Outputs(intended_use=use)
    adapters = budget in ("lora", "qlora")
    artifacts = list(out.hub_artifacts or (["adapter"] if adapters else ["model"]))
    if "adapter" in artifacts and not adapters:
        t.find("OUTPUT-PUSH-NOTHING", f"outputs.hub_artifacts asks for the adapter, but the plan fine-tunes "
               f"all weights ({budget}): there is no adapter", "use hub_artifacts: [model]")
    t.decide("OUTPUT-PUSH-AFTER-GATE",
             f"{' and '.join(artifacts)} to {out.hub_model_id} ({'private' if out.hub_private_repo else 'public'}) "
             "after the eval stage, with the model card; the token comes from HF_TOKEN or the Hub login")
    if out.push_if_gate_fails:
        t.find("OUTPUT-PUSH-FORCED", f"outputs.push_if_gate_fails: {out.hub_model_id} is pushed even when the "
               "forgetting gate fails (the model card states the verdict)",
               "drop push_if_gate_fails to publish only models that passed the eval contract")
    return Outputs(intended_use=use, push_to_hub=True, hub_model_id=out.hub_model_id,
                   hub_private_repo=out.hub_private_repo, hub_artifacts=sorted(artifacts),
                   push_if_gate_fails=out.push_if_gate_fails)

"""The spec's ``outputs`` section: where the trained model goes after the eval contract judged it.

Why a section of its own: everything else in a spec says what to train and how to judge it; this says what
leaves the build. Field names are the TRL/transformers ones (``push_to_hub``, ``hub_model_id``,
``hub_private_repo``) but the push is not the trainer's: a ``push`` stage runs after the eval stage and
uploads only a model that passed the forgetting gate. The token never appears here: it comes from the
environment (``HF_TOKEN`` or ``huggingface-cli login``) when the push stage runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from specc.spec.base import Strict

__all__ = ["Outputs", "HubArtifact"]

HubArtifact = Literal["adapter", "model"]


class Outputs(Strict):
    """What leaves the build: the Hub push (opt-in). The model card is written for every build that trains."""

    push_to_hub: bool = Field(
        default=False,
        description=(
            "Upload the result to the Hugging Face Hub after the eval stage, only when the forgetting gate "
            "passed. The token comes from HF_TOKEN or `huggingface-cli login`, never from a file. Default false."
        ),
    )
    hub_model_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$",
        description="The Hub repository, namespace/name (e.g. my-org/support-style-lora). Needed with push_to_hub.",
    )
    hub_private_repo: bool = Field(
        default=True, description="Create the repository private (if it does not exist yet). Default true."
    )
    hub_artifacts: list[HubArtifact] | None = Field(
        default=None, min_length=1, max_length=2,
        description=(
            "What to push: adapter (the LoRA/QLoRA adapter) and/or model (the merged model; for a full "
            "fine-tune, the trained model). With both, the model is the repository's root and the adapter is "
            "under adapter/. Default: adapter for adapter budgets, model for a full fine-tune."
        ),
    )
    push_if_gate_fails: bool = Field(
        default=False,
        description=(
            "Push even when the forgetting gate failed (recorded in the plan with a warning; the model card "
            "states the failed verdict). Run the push stage's script after the failed eval. Default false."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Outputs:
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("push_to_hub needs hub_model_id (namespace/name)")
        if self.hub_artifacts is not None and len(set(self.hub_artifacts)) != len(self.hub_artifacts):
            raise ValueError("hub_artifacts must not repeat")
        if not self.push_to_hub:
            for key in ("hub_model_id", "hub_artifacts"):
                if key in self.model_fields_set:
                    raise ValueError(f"{key} is set but push_to_hub is false: set push_to_hub: true or drop it")
            if self.push_if_gate_fails:
                raise ValueError("push_if_gate_fails is set but push_to_hub is false")
        return self

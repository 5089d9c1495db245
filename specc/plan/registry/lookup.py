"""One import for the two registries the planner consults before it lets a model teach another.

``closed_api_match`` says whether a teacher is a closed API model (distillation from it is refused);
``licence_for_model`` and ``licence_info`` say what an open model's licence allows for its outputs.
The tables live in :mod:`specc.plan.registry.closed_api` and :mod:`specc.plan.registry.licences`; this module
only gathers them so callers need not know the split. Stdlib only.
"""

from __future__ import annotations

from specc.plan.registry.closed_api import PROVIDERS, ClosedApiMatch, ClosedProvider, closed_api_match
from specc.plan.registry.licences import LICENCES, LicenceInfo, licence_for_model, licence_info

__all__ = [
    "ClosedApiMatch",
    "ClosedProvider",
    "LicenceInfo",
    "LICENCES",
    "PROVIDERS",
    "closed_api_match",
    "licence_for_model",
    "licence_info",
    "model_licence_info",
]


def model_licence_info(ref: str) -> LicenceInfo | None:
    """The licence of a known open model, resolved to its summary; None when unknown or "other"."""
    licence = licence_for_model(ref)
    return licence_info(licence) if licence else None

"""The sequence length a plan trains at must fit the model's context window.

Why at plan time: a ``max_seq_length`` beyond the model's positions (32k on a 4k-position model) plans, compiles and
queues fine, then either fails at the first long example or trains on positions the model never learnt. The
window is the model's ``max_position_embeddings`` (GPT-2: ``n_positions``), from its config.json or specc's
known-model table (:mod:`specc.plan.modelinfo`). Unknown windows (a size read from the name only) are not checked.
"""

from __future__ import annotations

from typing import Any

from specc.plan.trace import Trace

__all__ = ["check_context_window"]


def check_context_window(spec: Any, base: Any, teacher: Any, t: Trace, where: str = "") -> None:
    """Error ``MODEL-SEQ-EXCEEDS-CONTEXT`` when the spec's ``method.max_seq_length`` exceeds the base model's (or,
    for distillation, the teacher's) context window. ``where`` is the key's ``file:line:column`` when known."""
    seq = spec.method.max_seq_length
    if seq is None:
        return
    for role, model in (("base_model", base), ("teacher", teacher)):
        facts = getattr(model, "facts", None) if model is not None else None
        window = getattr(facts, "max_position_embeddings", None) if facts is not None else None
        if window is None or seq <= window:
            continue
        located = f"{where}: " if where else ""
        t.find("MODEL-SEQ-EXCEEDS-CONTEXT",
               f"{located}method.max_seq_length is {seq:,} tokens but {role} {model.ref.ref} has a context window "
               f"of {window:,} positions (max_position_embeddings, from its {facts.source})",
               f"set method.max_seq_length to {window} or less, or choose a model with a longer context")

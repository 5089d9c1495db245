"""Safety: tuning an aligned chat model can erode the guardrails its makers trained in (the seed: alignment is a
refinement that a later tune can undo). When the plan tunes such a model, the eval contract should re-test refusals
like any other capability; this step says so and names the suite kind that does it (``refusal``).
"""

from __future__ import annotations

from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["ALIGNED_TAGS", "check_safety", "looks_aligned"]

ALIGNED_TAGS = ("instruct", "chat", "-it", "-sft", "-dpo", "-rlhf", "assistant")
"""Name fragments of models released after instruction tuning and alignment (Llama-3.1-8B-Instruct, gemma-2-9b-it)."""

SUITE_HINT = ("add `{name: safety, kind: refusal}` under data.general_suites: specc's built-in set of 24 harmful "
              "requests (or `path:` to your own JSONL of {prompt} rows), answers scored by refusal patterns; the "
              "forgetting gate then fails the run when the refusal rate drops past the budget")


def looks_aligned(ref: str) -> bool:
    name = ref.lower()
    return any(tag in name for tag in ALIGNED_TAGS)


def check_safety(spec: Spec, trains: bool, t: Trace) -> None:
    if not trains or not looks_aligned(spec.base_model.ref):
        return
    refusal = [s.name for s in spec.data.general_suites if s.kind == "refusal"]
    if refusal:
        t.decide("SAFETY-REFUSAL-SUITE",
                 f"{spec.base_model.ref} is an aligned chat model; the refusal suite {', '.join(refusal)} re-tests "
                 "its guardrails before and after the tune.")
        return
    t.find("SAFETY-ALIGNED-BASE",
           f"tuning the aligned model {spec.base_model.ref} can erode its safety guardrails (refusals of harmful "
           "requests), and the eval contract has no refusal suite to notice", SUITE_HINT)
    t.recommend("Add a refusal suite to the eval contract: " + SUITE_HINT + ".")

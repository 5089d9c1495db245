"""The distillation teacher's costs: the memory to serve it and the GPU-hours of its generation.

Why: the training estimate counts the student; a distillation plan also runs the teacher — in an earlier
``generate`` stage (sequence-level) or next to the student in every step (logit). A 405B teacher on one 24 GB GPU
used to plan without a finding and its generation was missing from the GPU-hours. Here:

- **memory to serve**: 16-bit weights plus the KV cache of one generation batch (prompt + answer tokens), the CUDA
  context and 5 % fragmentation. When one GPU cannot hold it, the weights are split over the GPUs of a node — the
  generate stage loads the teacher with ``device_map="auto"`` (or vLLM's tensor parallelism), so the per-GPU share
  is the total over the GPUs used. When the node's GPUs cannot serve it, the plan is refused with the smallest
  hardware that would.
- **generation time**: ``2·N_teacher`` FLOPs per token for prompt and answer, at a low assumed utilisation
  (token-by-token decoding is memory-bandwidth bound): ``TEACHER_GENERATION_MFU``.

Stdlib only (a light command runs this).
"""

from __future__ import annotations

from typing import Any

from specc.plan.estimator import DEFAULT_GPU_TFLOPS, DEFAULT_MARGIN, GIB, gpu_peak_tflops
from specc.plan.model import Estimate
from specc.plan.trace import Trace

__all__ = ["TeacherServing", "teacher_serving", "cost_teacher", "TEACHER_GENERATION_MFU"]

TEACHER_GENERATION_MFU = 0.10
"""Assumed model-FLOPs utilisation of batched generation (decoding reads every weight per token)."""
_CUDA_CONTEXT_GIB = 0.75
_FRAGMENTATION = 0.05


class TeacherServing:
    """Memory to serve a teacher: total, per GPU over ``gpus`` GPUs, and whether it fits."""

    def __init__(self, total_bytes: float, gpus: int, usable_gib: float) -> None:
        self.total_gib = total_bytes / GIB
        self.gpus = gpus
        self.per_gpu_gib = self.total_gib / gpus + _CUDA_CONTEXT_GIB
        self.usable_gib = usable_gib

    @property
    def fits(self) -> bool:
        return self.per_gpu_gib <= self.usable_gib


def _serving_bytes(facts: Any, batch: int, tokens: int) -> float:
    from specc.plan.estimator import _dims  # the estimator's architecture numbers (guessed from size if unknown)

    d = _dims(facts)
    weights = 2.0 * facts.params
    kv_cache = 2 * d.layers * d.kv_heads * d.head_dim * batch * tokens * 2
    return (weights + kv_cache) * (1 + _FRAGMENTATION)


def teacher_serving(facts: Any, gpus_per_node: int, gpu_memory_gb: float, *, batch: int, tokens: int,
                    margin: float = DEFAULT_MARGIN) -> TeacherServing:
    """The fewest GPUs of one node (1, 2, 4, …, all) that serve the teacher; all of them when none do."""
    usable = gpu_memory_gb * margin
    total = _serving_bytes(facts, batch, tokens)
    n = 1
    while True:
        serving = TeacherServing(total, n, usable)
        if serving.fits or n >= gpus_per_node:
            return serving
        n = min(n * 2, gpus_per_node)


_NODE_GPUS = 8
_CARDS_GB = (24, 48, 80, 141, 192)  # common GPU memory sizes (consumer, L40S/A6000, A100/H100, H200, B200/MI300X)


def _smallest_hardware(facts: Any, gpu_memory_gb: float, *, batch: int, tokens: int, margin: float) -> str:
    """The fewest GPUs of one node (up to 8) of the spec's card size, else of the smallest larger common card."""
    for card in sorted({float(gpu_memory_gb), *(float(c) for c in _CARDS_GB if c > gpu_memory_gb)}):
        serving = teacher_serving(facts, _NODE_GPUS, card, batch=batch, tokens=tokens, margin=margin)
        if serving.fits:
            return f"{serving.gpus} GPU(s) of {card:g} GB on one node ({serving.per_gpu_gib:.1f} GiB each)"
    total = _serving_bytes(facts, batch, tokens) / GIB
    return f"more than one node of {_NODE_GPUS} × {max(_CARDS_GB)} GB ({total:.0f} GiB in all): a multi-node server"


def cost_teacher(spec: Any, method: str, distillation: str | None, teacher: Any, data: list, estimate: Estimate | None,
                 t: Trace) -> Estimate | None:
    """Add the teacher's serving memory and generation GPU-hours to ``estimate``; refuse a teacher that cannot be
    served on the spec's hardware (``DISTILL-TEACHER-DOESNT-FIT``) with the smallest hardware that would."""
    if method != "distill" or teacher is None or teacher.facts is None or estimate is None:
        return estimate
    from specc.plan.defaults import DEFAULT_HYPERPARAMETERS
    from specc.plan.hyperparameters import generation_tokens

    hw = spec.constraints.hardware
    if hw.gpus == 0:
        return estimate  # CPU plans: the training estimate (RAM) already covers tiny teachers
    m = spec.method
    margin = 1 - hw.memory_headroom
    seq = m.max_seq_length or DEFAULT_HYPERPARAMETERS["max_seq_length"]
    batch = m.micro_batch_size or DEFAULT_HYPERPARAMETERS["micro_batch_size"]
    serving = teacher_serving(teacher.facts, hw.gpus, hw.gpu_memory_gb, batch=batch, tokens=seq, margin=margin)
    notes = list(estimate.notes)
    name = f"teacher {teacher.ref.ref} ({teacher.facts.params / 1e9:.1f}B params)"
    if not serving.fits:
        t.find("DISTILL-TEACHER-DOESNT-FIT",
               f"{name} needs about {serving.total_gib:.1f} GiB to serve in 16 bits (weights and the KV cache of "
               f"{batch} × {seq} tokens): {serving.per_gpu_gib:.1f} GiB per GPU over all {serving.gpus} GPU(s) of a "
               f"node, of {serving.usable_gib:.1f} GiB usable",
               "the smallest hardware that serves it: " + _smallest_hardware(
                   teacher.facts, hw.gpu_memory_gb, batch=batch, tokens=seq, margin=margin)
               + "; or a smaller teacher")
    notes.append(f"{name}: about {serving.total_gib:.1f} GiB to serve in 16 bits, "
                 f"{serving.per_gpu_gib:.1f} GiB per GPU over {serving.gpus} GPU(s)")
    if distillation == "logit":
        return estimate.model_copy(update={"notes": notes})  # its forward is in the training FLOPs already
    prompts = [d for d in data if d.role == "prompts" and d.exists and d.bytes is not None]
    rows = sum(d.rows or 0 for d in prompts)
    tokens = sum((d.bytes or 0) // 4 for d in prompts) + rows * generation_tokens(spec)
    tflops = gpu_peak_tflops(hw.gpu_type) or DEFAULT_GPU_TFLOPS
    hours = 2.0 * teacher.facts.params * tokens / (tflops * 1e12 * TEACHER_GENERATION_MFU) / 3600 * serving.gpus
    notes.append(f"teacher generation: 2·N_teacher·T FLOPs over {tokens:,} prompt and answer tokens at "
                 f"{TEACHER_GENERATION_MFU:.0%} utilisation (decoding is memory-bound) on {serving.gpus} GPU(s): "
                 f"{hours:.4g} GPU-hours, included in gpu_hours")
    gpu_hours = round((estimate.gpu_hours or 0.0) + hours, 4) if estimate.gpu_hours is not None else round(hours, 4)
    cap = spec.constraints.budget.gpu_hours
    if cap is not None and gpu_hours > cap >= (estimate.gpu_hours or 0.0):
        t.find("BUDGET-GPU-HOURS-EXCEEDED", f"estimated {gpu_hours:g} GPU-hours (with the teacher's generation) "
               f"exceed the budget of {cap:g}", "cut the prompts or the answer length, or raise "
               "constraints.budget.gpu_hours")
    return estimate.model_copy(update={"notes": notes, "gpu_hours": gpu_hours})

"""Published memory figures the estimator is calibrated against, and the table docs/ESTIMATOR.md shows.

Why a module: the same rows drive the test (every estimate within the stated tolerance of its published figure,
every set-up published as fitting chosen on its card) and the documentation table (a test checks the document
holds exactly :func:`table_markdown`), so the two cannot drift apart. Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from specc.plan.estimator import DEFAULT_MARGIN, DeviceBudget, TrainingShape, choose_budget, estimate_memory
from specc.plan.modelinfo import model_facts

__all__ = ["Published", "PUBLISHED", "TOLERANCE", "estimate_gib", "fits_on_card", "table_markdown"]

TOLERANCE = (0.75, 1.10)
"""estimate / published must lie in this range. Published figures are rounded up to a card size or a round
number, so the estimate may be lower; it may not be much higher, or set-ups that run would be refused."""

LLAMA_FACTORY = "LLaMA-Factory README, 'Hardware Requirement'"
QLORA_PAPER = "Dettmers et al. 2023 (QLoRA), abstract"
ISSUE_13 = "issue 13 (a widely reported set-up)"


@dataclass(frozen=True)
class Published:
    source: str
    model: str  # a hub id in specc's known-model table
    budget: str
    precision: str  # estimator precision: mixed_bf16 (AMP) or bf16 (pure 16-bit)
    bits: int
    published_gb: float  # the published memory figure, or the card it is published as fitting
    seq_len: int = 512
    card: bool = False  # True: "fits one card of published_gb" (the plan must choose it), not a measured figure

    @property
    def label(self) -> str:
        kind = {"full": "Full AMP" if self.precision.startswith("mixed") else "Full pure bf16",
                "lora": "LoRA 16-bit", "qlora": f"QLoRA {self.bits}-bit"}[self.budget]
        return f"{self.model.split('/')[-1]} {kind}, {self.seq_len} tokens"


PUBLISHED: tuple[Published, ...] = (
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-7b-hf", "full", "mixed_bf16", 4, 120),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-7b-hf", "full", "bf16", 4, 60),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-7b-hf", "lora", "bf16", 4, 16, card=True),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-7b-hf", "qlora", "bf16", 8, 10),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-7b-hf", "qlora", "bf16", 4, 6),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-70b-hf", "full", "mixed_bf16", 4, 1200),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-70b-hf", "full", "bf16", 4, 600),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-70b-hf", "lora", "bf16", 4, 160),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-70b-hf", "qlora", "bf16", 8, 80),
    Published(LLAMA_FACTORY, "meta-llama/Llama-2-70b-hf", "qlora", "bf16", 4, 48, card=True),
    Published(QLORA_PAPER, "huggyllama/llama-65b", "qlora", "bf16", 4, 48, card=True),
    Published(ISSUE_13, "meta-llama/Llama-3.1-8B", "lora", "bf16", 4, 24, seq_len=2048, card=True),
)


def _shape(row: Published) -> TrainingShape:
    """The shape the published tables assume (they state none): micro batch 1, checkpointing on, LoRA r=16 on all
    linear layers, AdamW."""
    return TrainingShape(budget=row.budget, precision=row.precision, quant_bits=row.bits, seq_len=row.seq_len,
                         micro_batch=1, gradient_checkpointing=True, lora_r=16)


def estimate_gib(row: Published) -> float:
    return estimate_memory(model_facts(row.model), _shape(row)).per_gpu_gib


def fits_on_card(row: Published, margin: float = DEFAULT_MARGIN) -> tuple[str | None, float]:
    """(budget the planner's choice picks on one card of ``published_gb``, GiB usable) for a ``card`` row."""
    choice = choose_budget(model_facts(row.model), DeviceBudget(gpus=1, gpu_memory_gb=row.published_gb),
                           replace(_shape(row), budget="lora"), margin=margin,
                           goal_needs_full=row.budget == "full")
    return choice.budget, row.published_gb * margin


def table_markdown() -> str:
    """The calibration table of docs/ESTIMATOR.md."""
    lines = ["| source | set-up | published (GB) | estimate (GiB) | ratio | verdict |", "|---|---|---|---|---|---|"]
    for row in PUBLISHED:
        est = estimate_gib(row)
        ratio = est / row.published_gb
        verdict = "within tolerance" if TOLERANCE[0] <= ratio <= TOLERANCE[1] else "OUTSIDE tolerance"
        if row.card:
            chosen, usable = fits_on_card(row)
            verdict += f"; on one {row.published_gb:g} GB card ({usable:.1f} GiB usable) the plan picks {chosen}"
        lines.append(f"| {row.source} | {row.label} | {row.published_gb:g} | {est:.1f} | {ratio:.2f} | {verdict} |")
    return "\n".join(lines) + "\n"

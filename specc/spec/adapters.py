"""Adapter and kernel settings of the spec's ``method`` section: DoRA, rsLoRA, modules saved with the
adapter, QLoRA's quantisation type, the attention implementation and Liger kernels — each under the name
of the library argument it becomes (peft ``LoraConfig``, transformers ``BitsAndBytesConfig``,
``from_pretrained(attn_implementation=...)``, ``TrainingArguments.use_liger_kernel``).

Why a module of its own: these settings choose *how* the weights are adapted and computed, not the trainer's
schedule (:mod:`specc.spec.training`). Values the installed stack may not honour (flash attention without
flash_attn or CUDA, Liger without liger_kernel) are checked when the stage starts
(:mod:`specc.runtime.kernels`), since light commands never import the training stack.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from specc.spec.base import Strict

__all__ = ["AdapterSettings", "AttnImplementation", "ATTN_IMPLEMENTATIONS"]

AttnImplementation = Literal["eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention"]
"""transformers' attention implementations (``from_pretrained(attn_implementation=...)``); a test checks
them against the installed transformers."""

ATTN_IMPLEMENTATIONS: tuple[str, ...] = AttnImplementation.__args__  # type: ignore[attr-defined]


class AdapterSettings(Strict):
    """LoRA variants, QLoRA quantisation and kernels (the libraries' own argument names)."""

    use_dora: bool | None = Field(
        default=None,
        description="LoRA/QLoRA: weight-decomposed LoRA (DoRA; peft LoraConfig.use_dora). Default false.",
    )
    use_rslora: bool | None = Field(
        default=None,
        description="LoRA/QLoRA: rank-stabilised scaling alpha/sqrt(r) (peft LoraConfig.use_rslora). Default false.",
    )
    modules_to_save: list[str] | None = Field(
        default=None, min_length=1, max_length=64,
        description=(
            "LoRA/QLoRA: modules trained in full and saved with the adapter, e.g. [embed_tokens, lm_head] "
            "(peft LoraConfig.modules_to_save). Default: none."
        ),
    )
    bnb_4bit_quant_type: Literal["nf4", "fp4"] | None = Field(
        default=None, description="QLoRA 4-bit data type (BitsAndBytesConfig.bnb_4bit_quant_type). Default nf4.",
    )
    bnb_4bit_use_double_quant: bool | None = Field(
        default=None,
        description="QLoRA: quantise the quantisation constants too (BitsAndBytesConfig). Default true.",
    )
    attn_implementation: AttnImplementation | None = Field(
        default=None,
        description=(
            "Attention kernel, by transformers' name: sdpa, eager, flash_attention_2 (needs flash_attn and a "
            "CUDA GPU, checked when the stage starts), flash_attention_3, flex_attention. Default: the "
            "model's own choice (sdpa where supported)."
        ),
    )
    use_liger_kernel: bool | None = Field(
        default=None,
        description="Liger's fused Triton kernels (TrainingArguments.use_liger_kernel; needs liger_kernel "
                    "installed, checked when the stage starts). Default false.",
    )

    @field_validator("modules_to_save")
    @classmethod
    def _module_names(cls, value: list[str] | None) -> list[str] | None:
        import re

        for name in value or []:
            if not re.fullmatch(r"[A-Za-z0-9_.]{1,128}", name):
                raise ValueError(f"modules_to_save: {name!r} is not a module name (letters, digits, _ and .)")
        return value

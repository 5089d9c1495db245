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

from pydantic import Field, field_validator, model_validator

from specc.spec.base import Strict

__all__ = ["AdapterSettings", "AttnImplementation", "ATTN_IMPLEMENTATIONS", "SpecialTokens"]

AttnImplementation = Literal["eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention"]
"""transformers' attention implementations (``from_pretrained(attn_implementation=...)``); a test checks
them against the installed transformers."""

ATTN_IMPLEMENTATIONS: tuple[str, ...] = AttnImplementation.__args__  # type: ignore[attr-defined]


class SpecialTokens(Strict):
    """Special tokens set on the tokenizer before training (``tokenizer.add_special_tokens``'s own keys, as in
    axolotl's ``special_tokens``). Tokens the tokenizer lacks are added and the embedding is resized; with an
    adapter the embedding and output rows are trained and saved with it (rule ADAPTER-NEW-TOKENS-SAVED)."""

    bos_token: str | None = Field(default=None, max_length=64, description="Beginning-of-sequence token.")
    eos_token: str | None = Field(default=None, max_length=64, description="End-of-sequence token, e.g. <|im_end|>.")
    pad_token: str | None = Field(default=None, max_length=64, description="Padding token. Default: the model's own, else eos.")
    unk_token: str | None = Field(default=None, max_length=64, description="Unknown token.")
    extra_special_tokens: list[str] | None = Field(
        default=None, min_length=1, max_length=256,
        description="Further special tokens never split by the tokenizer, e.g. [<|tool|>] (transformers 5's name; "
                    "transformers 4 and axolotl's `tokens` called them additional_special_tokens).",
    )

    @model_validator(mode="after")
    def _plain_tokens(self) -> SpecialTokens:
        named = ("bos_token", "eos_token", "pad_token", "unk_token")
        values = [v for k in named if (v := getattr(self, k)) is not None]
        values += list(self.extra_special_tokens or [])
        for value in values:
            if not value.strip() or any(ord(c) < 32 for c in value) or len(value) > 64:
                raise ValueError(f"special token {value!r}: a token is 1-64 printable characters")
        extra = list(self.extra_special_tokens or [])
        if len(set(extra)) != len(extra):
            raise ValueError("extra_special_tokens: each token once")
        if not values:
            raise ValueError("special_tokens: name at least one token")
        return self


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

    special_tokens: SpecialTokens | None = Field(
        default=None,
        description=(
            "Tokens to set or add before training, e.g. {pad_token: '<|pad|>', extra_special_tokens: ['<|tool|>']} "
            "(tokenizer.add_special_tokens keys). The embedding is resized; with LoRA, embed_tokens and lm_head are "
            "trained and saved with the adapter. The saved tokenizer carries the tokens."
        ),
    )

    @field_validator("modules_to_save")
    @classmethod
    def _module_names(cls, value: list[str] | None) -> list[str] | None:
        import re

        for name in value or []:
            if not re.fullmatch(r"[A-Za-z0-9_.]{1,128}", name):
                raise ValueError(f"modules_to_save: {name!r} is not a module name (letters, digits, _ and .)")
        return value

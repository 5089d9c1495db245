"""Step 5c: adapter and kernel settings of a plan — DoRA, rsLoRA, modules saved with the adapter, QLoRA's
quantisation type, the attention implementation and Liger kernels — resolved once, each with its source.

Why apart from :mod:`specc.plan.hyperparameters`: these are library switches a practitioner names by the
library's own argument (peft ``LoraConfig``, ``BitsAndBytesConfig``, ``from_pretrained``,
``TrainingArguments``); the stage builder copies them into ``CONFIG["peft"]``, ``CONFIG["quantization"]``,
``CONFIG["model"]`` and ``CONFIG["train"]`` unchanged. A setting that cannot apply to the plan's budget (DoRA
on a full fine-tune, a 4-bit quant type with 8-bit QLoRA) is a finding, never silently dropped.
"""

from __future__ import annotations

from typing import Any

from specc.plan.trace import Trace

__all__ = ["resolve_adapter_settings", "check_adapter_settings", "ADAPTER_KEYS", "NEW_TOKEN_MODULES", "QUANT_4BIT_DEFAULTS"]

ADAPTER_KEYS = ("use_dora", "use_rslora", "modules_to_save")
"""LoraConfig arguments a spec may set (with an adapter budget)."""

NEW_TOKEN_MODULES = ("embed_tokens", "lm_head")
"""Where new tokens' rows live (the Llama/Qwen/Mistral/Gemma names peft matches by suffix)."""

QUANT_4BIT_DEFAULTS: dict[str, Any] = {"bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True}
"""QLoRA's 4-bit defaults (the QLoRA paper's NF4 with double quantisation), shown in the plan."""


def resolve_adapter_settings(r: Any, spec: Any, budget: str | None) -> None:
    """Resolve into ``r`` (a :class:`specc.plan.hyperparameters._Resolved`)."""
    m = spec.method
    if budget in ("lora", "qlora"):
        r.pick("use_dora", False)
        r.pick("use_rslora", False)
        if m.modules_to_save is not None:
            r.pick("modules_to_save", None)
        if m.special_tokens is not None:  # new rows must be trained and saved with the adapter
            saved = list(m.modules_to_save or [])
            saved += [name for name in NEW_TOKEN_MODULES if name not in saved]
            r.set("modules_to_save", saved, "rule:ADAPTER-NEW-TOKENS-SAVED")
    if m.special_tokens is not None:
        r.set("special_tokens", m.special_tokens.model_dump(exclude_none=True), "spec")
    if budget == "qlora" and int(r.values.get("quant_bits", 4)) == 4:
        for key, default in QUANT_4BIT_DEFAULTS.items():
            r.pick(key, default)
    if m.attn_implementation is not None:
        r.pick("attn_implementation", None)
    if m.use_liger_kernel is not None:
        r.pick("use_liger_kernel", False)


def check_adapter_settings(spec: Any, budget: str | None, t: Trace) -> None:
    """Settings the plan's budget has no use for are errors (a silently unused key is a lie in the plan)."""
    m = spec.method
    if m.special_tokens is not None and budget in ("lora", "qlora"):
        t.decide("ADAPTER-NEW-TOKENS-SAVED",
                 "method.special_tokens is given: the tokenizer gets the tokens and the embedding is resized; "
                 f"{' and '.join(NEW_TOKEN_MODULES)} are trained in full and saved with the adapter "
                 "(method.modules_to_save), so the merged model has the same rows for them.")
    if budget not in ("lora", "qlora"):
        given = [k for k in ADAPTER_KEYS if getattr(m, k) not in (None, False)]
        if given:
            t.find("ADAPTER-SETTINGS-UNUSED",
                   f"method.{', method.'.join(given)} configure a LoRA adapter, but the plan's parameter budget is "
                   f"{budget or 'none'}", "set method.parameter_budget: lora (or qlora), or drop them", level="error")
    quant = [k for k in QUANT_4BIT_DEFAULTS if getattr(m, k) is not None]
    if quant and (budget != "qlora" or (m.quant_bits or 4) != 4):
        t.find("ADAPTER-SETTINGS-UNUSED",
               f"method.{', method.'.join(quant)} configure 4-bit QLoRA, but the plan "
               + ("quantises to 8 bits" if budget == "qlora" else f"has parameter budget {budget or 'none'}"),
               "set method.parameter_budget: qlora with quant_bits 4, or drop them", level="error")

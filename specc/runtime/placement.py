"""Where each rank puts a quantised model, and which dtype 4-bit weights are stored in.

Why this module: QLoRA on several GPUs fails quietly without it. bitsandbytes places a 4-bit model on "the current
CUDA device" when no ``device_map`` is given; unless every rank names its own GPU, all ranks can load onto GPU 0.
And FSDP shards a model by flattening its parameters, which needs every parameter in one dtype: 4-bit weights must
be *stored* in the compute dtype (``bnb_4bit_quant_storage``), not the default uint8. The launcher tells a process
how it was started through environment variables (accelerate launch sets ``ACCELERATE_USE_FSDP`` /
``ACCELERATE_USE_DEEPSPEED`` and ``ACCELERATE_DEEPSPEED_ZERO_STAGE``; torchrun and accelerate set ``LOCAL_RANK``),
so the decisions here read them at run time. Pure functions of the environment: tested on CPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["sharded_launch", "quantized_device_map", "quant_storage_for"]

_TRUE = ("1", "true", "yes", "on")


def sharded_launch(env: Mapping[str, str] | None = None) -> str | None:
    """``"fsdp"`` or ``"zero3"`` when the launcher shards parameters, ``"zero2"`` for ZeRO-2, else None."""
    env = os.environ if env is None else env
    if env.get("ACCELERATE_USE_FSDP", "").lower() in _TRUE:
        return "fsdp"
    if env.get("ACCELERATE_USE_DEEPSPEED", "").lower() in _TRUE:
        return "zero3" if env.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3" else "zero2"
    return None


def quantized_device_map(env: Mapping[str, str] | None = None, *, cuda: bool | None = None) -> dict[str, Any] | None:
    """The ``device_map`` of a quantised load: this rank's own GPU (``{"": LOCAL_RANK}``) when several processes
    run on a machine with GPUs; None for a single process or without CUDA (transformers' default placement)."""
    env = os.environ if env is None else env
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    if not cuda or int(env.get("WORLD_SIZE", "1")) <= 1:
        return None
    return {"": int(env.get("LOCAL_RANK", "0"))}


def quant_storage_for(quant: Mapping[str, Any], dtype: Any) -> dict[str, Any]:
    """BitsAndBytesConfig arguments with ``bnb_4bit_quant_storage`` matched to the run-time compute ``dtype``.

    The plan asks for a storage dtype when it launches QLoRA sharded (FSDP/ZeRO-3); the compute dtype is only known
    at run time (bf16, or fp16 on older GPUs), and FSDP needs both to be the same, so the storage follows it.
    """
    out = dict(quant)
    if out.get("load_in_4bit") and "bnb_4bit_quant_storage" in out:
        out["bnb_4bit_quant_storage"] = dtype
    return out

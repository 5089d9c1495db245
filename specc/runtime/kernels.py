"""Checks, at a stage's start, that the installed stack can honour the plan's kernels and adapter variants.

Why: a spec may name flash attention, Liger kernels or DoRA on a machine (or an install) that cannot run
them. transformers and peft then fail deep inside model loading or trainer construction, or quietly fall
back. Each check here is one line naming what is missing and how to fix it, then exit 1
(``specc.exit_codes.ExitCode.INVALID``), before any weights are loaded. The availability tests are
transformers' own (``transformers.utils.is_flash_attn_2_available`` ...), so specc and the library agree.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from specc.exit_codes import ExitCode

__all__ = ["check_attention", "check_liger", "check_lora_features"]


def _refuse(message: str) -> None:
    from specc.runtime.common import log

    log(message)
    raise SystemExit(int(ExitCode.INVALID))


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def check_attention(name: str | None) -> None:
    """``attn_implementation`` (method.attn_implementation) the installed stack can run, or exit 1."""
    if name in (None, "eager", "sdpa"):
        return
    import importlib.util

    from transformers.utils import import_utils as iu

    if name == "flash_attention_2":
        if importlib.util.find_spec("flash_attn") is None:
            _refuse("method.attn_implementation flash_attention_2 needs the flash_attn package, which is not "
                    "installed: pip install flash-attn --no-build-isolation (CUDA GPU), or use sdpa")
        if not iu.is_flash_attn_2_available():
            _refuse("method.attn_implementation flash_attention_2 needs a CUDA GPU (and flash_attn >= 2.3.3); "
                    + ("none is visible" if not _cuda() else "the installed flash_attn is too old")
                    + ": use sdpa")
    elif name == "flash_attention_3":
        if not iu.is_flash_attn_3_available():
            _refuse("method.attn_implementation flash_attention_3 needs flash-attn-3 (flash_attn_interface) and a "
                    "CUDA GPU" + ("" if _cuda() else ", and none is visible") + ": use sdpa or flash_attention_2")
    elif name == "flex_attention":
        if not iu.is_torch_flex_attn_available():
            _refuse("method.attn_implementation flex_attention is not available with the installed torch: use sdpa")


def check_liger(train: dict[str, Any]) -> None:
    """``use_liger_kernel`` needs liger_kernel (transformers patches the model with it), or exit 1."""
    if not train.get("use_liger_kernel"):
        return
    from transformers.utils import is_liger_kernel_available

    if not is_liger_kernel_available():
        _refuse("method.use_liger_kernel needs the liger_kernel package (>= 0.3.0), which is not installed: "
                "pip install liger-kernel, or set use_liger_kernel: false")


def check_lora_features(peft_cfg: dict[str, Any]) -> dict[str, Any]:
    """Every LoraConfig argument the plan sets exists in the installed peft (DoRA came in peft 0.9), or exit 1.
    Returns the arguments to pass: a switch left off that an older peft does not know is dropped."""
    from peft import LoraConfig

    known = {f.name for f in dataclasses.fields(LoraConfig)}
    missing = sorted(k for k, v in peft_cfg.items() if k not in known and v not in (False, None))
    if missing:
        import peft

        _refuse(f"method.{', method.'.join(missing)} {'is' if len(missing) == 1 else 'are'} not supported by the "
                f"installed peft {peft.__version__}: pip install -U peft")
    return {k: v for k, v in peft_cfg.items() if k in known}

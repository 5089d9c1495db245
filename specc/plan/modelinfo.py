"""Model facts: how big a base model is and what shape it has, without downloading anything.

The planner needs the parameter count (and, for a good memory estimate, the hidden size, layer count,
head layout and vocabulary) of the model a spec names. specc must answer in code review and CI, where
there is no network and no model hub, so the facts come from three places, most trusted first:

1. a local directory holding a ``config.json`` (the parameter count is computed from the config);
2. a table of common hub models, with architecture numbers copied from their public ``config.json``;
3. a size hint in the name ("...-7B", "135M"), which gives the parameter count and nothing else.

Stdlib only: this module runs in light commands.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ModelFacts", "model_facts", "facts_from_config", "count_params", "KNOWN_MODELS"]


@dataclass(frozen=True)
class ModelFacts:
    """What specc knows about a model. Architecture fields are None when only the size is known.

    ``source`` says how the facts were obtained: "config.json" (local directory), "table" (known hub
    model) or "name" (a size hint parsed from the id; params only). ``embedding_params`` counts the
    input embedding, the learned position embedding and an untied output head: the parts QLoRA does
    not quantize. ``active_params`` differs from ``params`` only for mixture-of-experts models.
    """

    ref: str
    params: int
    source: str
    model_type: str | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    num_kv_heads: int | None = None
    head_dim: int | None = None
    intermediate_size: int | None = None
    vocab_size: int | None = None
    max_position_embeddings: int | None = None
    tie_word_embeddings: bool | None = None
    gated_mlp: bool = True
    num_experts: int | None = None
    experts_per_token: int | None = None
    active_params: int | None = None
    embedding_params: int | None = None
    license: str | None = None

    @property
    def has_architecture(self) -> bool:
        """True when the shape numbers needed for LoRA and activation estimates are all known."""
        return None not in (self.hidden_size, self.num_layers, self.num_heads, self.intermediate_size)


# --------------------------------------------------------------------------------------------------
# Parameter counting from a Hugging Face config
# --------------------------------------------------------------------------------------------------

# Decoder families whose q/k/v projections carry a bias although ``attention_bias`` is absent.
_QKV_BIAS_TYPES = frozenset({"qwen2", "qwen2_moe"})
# Gemma 2 and 3 put a norm both before and after attention and the MLP: four norms per layer.
_FOUR_NORM_TYPES = frozenset({"gemma2", "gemma3", "gemma3_text"})


def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Multimodal configs nest the language model under ``text_config``; the decoder is what we train."""
    nested = config.get("text_config")
    if isinstance(nested, Mapping) and "hidden_size" not in config:
        merged = dict(nested)
        merged.setdefault("model_type", nested.get("model_type", config.get("model_type")))
        return merged
    return config


def _count(value: Any, key: str) -> int:
    """A config number that must be a positive whole number (a size, a count of heads or layers).

    Why: a hand-written or damaged config.json can say 0 heads (a division by zero), ``Infinity``
    (JSON readers accept it), a list or a string; the caller falls back to the name-based lookups.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is not a number")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"{key} is not a whole number")
    if value <= 0 or value > 10**15:
        raise ValueError(f"{key} is out of range")
    return int(value)


def _gpt2_numbers(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """GPT-2 style configs name things differently; normalise them to the decoder vocabulary."""
    hidden = _count(cfg.get("n_embd", 768), "n_embd")
    heads = _count(cfg.get("n_head", 12), "n_head")
    return {
        "model_type": "gpt2",
        "hidden_size": hidden,
        "num_layers": _count(cfg.get("n_layer", 12), "n_layer"),
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": _count(hidden // heads, "head_dim"),
        "intermediate_size": _count(cfg.get("n_inner") or 4 * hidden, "n_inner"),
        "vocab_size": _count(cfg.get("vocab_size", 50257), "vocab_size"),
        "max_position_embeddings": _count(cfg.get("n_positions", 1024), "n_positions"),
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", True)),
        "gated_mlp": False,
    }


def _decoder_numbers(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Read the Llama/Mistral/Qwen2/Gemma/Phi-3 style keys, filling the documented HF defaults."""
    hidden = _count(cfg["hidden_size"], "hidden_size")
    heads = _count(cfg["num_attention_heads"], "num_attention_heads")
    kv_heads = _count(cfg.get("num_key_value_heads") or heads, "num_key_value_heads")
    head_dim = _count(cfg.get("head_dim") or hidden // heads, "head_dim")
    experts = cfg.get("num_local_experts") or cfg.get("num_experts")
    experts = _count(experts, "num_experts") if experts else None
    return {
        "model_type": cfg.get("model_type"),
        "hidden_size": hidden,
        "num_layers": _count(cfg["num_hidden_layers"], "num_hidden_layers"),
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": head_dim,
        "intermediate_size": _count(cfg.get("moe_intermediate_size") or cfg["intermediate_size"], "intermediate_size")
        if experts
        else _count(cfg["intermediate_size"], "intermediate_size"),
        "vocab_size": _count(cfg["vocab_size"], "vocab_size"),
        "max_position_embeddings": _count(cfg["max_position_embeddings"], "max_position_embeddings")
        if cfg.get("max_position_embeddings") else None,
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        "gated_mlp": True,
        "num_experts": experts,
        "experts_per_token": _count(cfg["num_experts_per_tok"], "num_experts_per_tok")
        if cfg.get("num_experts_per_tok") else None,
        "attention_bias": bool(cfg.get("attention_bias", False)),
    }


def _architecture(config: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise ValueError("config.json is not a JSON object")
    cfg = _text_config(config)
    if cfg.get("model_type") == "gpt2" or ("n_embd" in cfg and "hidden_size" not in cfg):
        return _gpt2_numbers(cfg)
    return _decoder_numbers(cfg)


def count_params(config: Mapping[str, Any]) -> tuple[int, int, int]:
    """Return ``(total, active, embedding)`` parameter counts for a decoder config.

    Counts embeddings, attention (grouped-query aware: k and v have ``num_key_value_heads`` heads),
    the MLP (three matrices when gated, two when not), norms, optional biases, an untied output head,
    and mixture-of-experts layers (all experts in ``total``, only the routed ones in ``active``).
    Raises KeyError when a required key is missing.
    """
    a = _architecture(config)
    h, layers, v = a["hidden_size"], a["num_layers"], a["vocab_size"]
    q_dim = a["num_heads"] * a["head_dim"]
    kv_dim = a["num_kv_heads"] * a["head_dim"]
    model_type = a.get("model_type") or ""

    if not a["gated_mlp"]:  # GPT-2: fused qkv with bias, two-matrix MLP with bias, LayerNorm with bias
        i = a["intermediate_size"]
        per_layer = (h * 3 * h + 3 * h) + (h * h + h) + (h * i + i) + (i * h + h) + 2 * (2 * h)
        positions = (a["max_position_embeddings"] or 0) * h
        embedding = v * h + positions + (0 if a["tie_word_embeddings"] else v * h)
        total = embedding + layers * per_layer + 2 * h
        return total, total, embedding

    attention = h * q_dim + 2 * h * kv_dim + q_dim * h
    if a.get("attention_bias"):
        attention += q_dim + 2 * kv_dim + h
    elif model_type in _QKV_BIAS_TYPES:
        attention += q_dim + 2 * kv_dim
    norms = (4 if model_type in _FOUR_NORM_TYPES else 2) * h
    expert = 3 * h * a["intermediate_size"]
    experts = a.get("num_experts") or 1
    routed = a.get("experts_per_token") or experts
    router = h * experts if experts > 1 else 0
    embedding = v * h + (0 if a["tie_word_embeddings"] else v * h)
    total = embedding + layers * (attention + norms + router + experts * expert) + h
    active = embedding + layers * (attention + norms + router + routed * expert) + h
    return total, active, embedding


def facts_from_config(config: Mapping[str, Any], *, ref: str, source: str, license: str | None = None) -> ModelFacts:
    """Build ModelFacts from a config mapping (a parsed ``config.json`` or a table entry)."""
    total, active, embedding = count_params(config)
    a = _architecture(config)
    experts = a.get("num_experts")
    return ModelFacts(
        ref=ref,
        params=total,
        source=source,
        model_type=a.get("model_type"),
        hidden_size=a["hidden_size"],
        num_layers=a["num_layers"],
        num_heads=a["num_heads"],
        num_kv_heads=a["num_kv_heads"],
        head_dim=a["head_dim"],
        intermediate_size=a["intermediate_size"],
        vocab_size=a["vocab_size"],
        max_position_embeddings=a["max_position_embeddings"],
        tie_word_embeddings=a["tie_word_embeddings"],
        gated_mlp=a["gated_mlp"],
        num_experts=experts if experts and experts > 1 else None,
        experts_per_token=a.get("experts_per_token") if experts and experts > 1 else None,
        active_params=active,
        embedding_params=embedding,
        license=license,
    )


# --------------------------------------------------------------------------------------------------
# Known hub models. Numbers are those of each model's public config.json; ``published`` is the size
# the model card or paper states, kept so a test can check the parameter formula against it.
# --------------------------------------------------------------------------------------------------


def _llama(h: int, layers: int, heads: int, kv: int, inter: int, vocab: int, pos: int, tied: bool = False,
           model_type: str = "llama", **extra: Any) -> dict[str, Any]:
    cfg = {
        "model_type": model_type,
        "hidden_size": h,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "intermediate_size": inter,
        "vocab_size": vocab,
        "max_position_embeddings": pos,
        "tie_word_embeddings": tied,
    }
    cfg.update(extra)
    return cfg


@dataclass(frozen=True)
class _KnownModel:
    hub_id: str
    config: Mapping[str, Any]
    published: float  # parameters as stated by the model card / paper
    aliases: tuple[str, ...] = ()


_L2_7B = _llama(4096, 32, 32, 32, 11008, 32000, 4096)
_L3_8B = _llama(4096, 32, 32, 8, 14336, 128256, 8192)
_L31_8B = _llama(4096, 32, 32, 8, 14336, 128256, 131072)
_L3_70B = _llama(8192, 80, 64, 8, 28672, 128256, 8192)
_L31_70B = _llama(8192, 80, 64, 8, 28672, 128256, 131072)
_GPT2 = {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "vocab_size": 50257}

KNOWN_MODELS: tuple[_KnownModel, ...] = (
    # LLaMA 1 (Touvron et al. 2023): the 65B model is the QLoRA paper's headline case.
    _KnownModel("huggyllama/llama-7b", _llama(4096, 32, 32, 32, 11008, 32000, 2048), 6.7e9),
    _KnownModel("huggyllama/llama-13b", _llama(5120, 40, 40, 40, 13824, 32000, 2048), 13.0e9),
    _KnownModel("huggyllama/llama-30b", _llama(6656, 60, 52, 52, 17920, 32000, 2048), 32.5e9),
    _KnownModel("huggyllama/llama-65b", _llama(8192, 80, 64, 64, 22016, 32000, 2048), 65.2e9),
    # Llama 2
    _KnownModel("meta-llama/Llama-2-7b-hf", _L2_7B, 6.74e9),
    _KnownModel("meta-llama/Llama-2-13b-hf", _llama(5120, 40, 40, 40, 13824, 32000, 4096), 13.0e9),
    _KnownModel("meta-llama/Llama-2-70b-hf", _llama(8192, 80, 64, 8, 28672, 32000, 4096), 69.0e9),
    # Llama 3.x
    _KnownModel("meta-llama/Meta-Llama-3-8B", _L3_8B, 8.03e9),
    _KnownModel("meta-llama/Meta-Llama-3-70B", _L3_70B, 70.6e9),
    _KnownModel("meta-llama/Llama-3.1-8B", _L31_8B, 8.03e9),
    _KnownModel("meta-llama/Llama-3.1-70B", _L31_70B, 70.6e9),
    _KnownModel("meta-llama/Llama-3.1-405B", _llama(16384, 126, 128, 8, 53248, 128256, 131072), 405.9e9),
    _KnownModel("meta-llama/Llama-3.2-1B", _llama(2048, 16, 32, 8, 8192, 128256, 131072, tied=True), 1.24e9),
    _KnownModel("meta-llama/Llama-3.2-3B", _llama(3072, 28, 24, 8, 8192, 128256, 131072, tied=True), 3.21e9),
    _KnownModel("meta-llama/Llama-3.3-70B-Instruct", _L31_70B, 70.6e9),
    # Mistral
    _KnownModel("mistralai/Mistral-7B-v0.1", _llama(4096, 32, 32, 8, 14336, 32000, 32768, model_type="mistral"),
                7.24e9, aliases=("mistralai/Mistral-7B-v0.2",)),
    _KnownModel("mistralai/Mistral-7B-v0.3", _llama(4096, 32, 32, 8, 14336, 32768, 32768, model_type="mistral"),
                7.25e9),
    _KnownModel("mistralai/Mixtral-8x7B-v0.1",
                _llama(4096, 32, 32, 8, 14336, 32000, 32768, model_type="mixtral",
                       num_local_experts=8, num_experts_per_tok=2), 46.7e9),
    # Qwen2.5 (qkv projections carry biases)
    _KnownModel("Qwen/Qwen2.5-0.5B", _llama(896, 24, 14, 2, 4864, 151936, 32768, tied=True, model_type="qwen2"),
                0.49e9),
    _KnownModel("Qwen/Qwen2.5-1.5B", _llama(1536, 28, 12, 2, 8960, 151936, 32768, tied=True, model_type="qwen2"),
                1.54e9),
    _KnownModel("Qwen/Qwen2.5-3B", _llama(2048, 36, 16, 2, 11008, 151936, 32768, tied=True, model_type="qwen2"),
                3.09e9),
    _KnownModel("Qwen/Qwen2.5-7B", _llama(3584, 28, 28, 4, 18944, 152064, 131072, model_type="qwen2"), 7.61e9),
    _KnownModel("Qwen/Qwen2.5-14B", _llama(5120, 48, 40, 8, 13824, 152064, 131072, model_type="qwen2"), 14.7e9),
    _KnownModel("Qwen/Qwen2.5-32B", _llama(5120, 64, 40, 8, 27648, 152064, 131072, model_type="qwen2"), 32.5e9),
    _KnownModel("Qwen/Qwen2.5-72B", _llama(8192, 80, 64, 8, 29568, 152064, 131072, model_type="qwen2"), 72.7e9),
    # Gemma and Gemma 2 (head_dim is not hidden/heads; embeddings tied)
    _KnownModel("google/gemma-2b", _llama(2048, 18, 8, 1, 16384, 256000, 8192, tied=True, model_type="gemma",
                                          head_dim=256), 2.51e9),
    _KnownModel("google/gemma-7b", _llama(3072, 28, 16, 16, 24576, 256000, 8192, tied=True, model_type="gemma",
                                          head_dim=256), 8.54e9),
    _KnownModel("google/gemma-2-2b", _llama(2304, 26, 8, 4, 9216, 256000, 8192, tied=True, model_type="gemma2",
                                            head_dim=256), 2.61e9),
    _KnownModel("google/gemma-2-9b", _llama(3584, 42, 16, 8, 14336, 256000, 8192, tied=True, model_type="gemma2",
                                            head_dim=256), 9.24e9),
    _KnownModel("google/gemma-2-27b", _llama(4608, 46, 32, 16, 36864, 256000, 8192, tied=True,
                                             model_type="gemma2", head_dim=128), 27.2e9),
    # Phi-3 (fused qkv and gate_up projections: same counts as separate matrices)
    _KnownModel("microsoft/Phi-3-mini-4k-instruct", _llama(3072, 32, 32, 32, 8192, 32064, 4096, model_type="phi3"),
                3.82e9, aliases=("microsoft/Phi-3.5-mini-instruct", "microsoft/Phi-3-mini-128k-instruct")),
    # SmolLM2
    _KnownModel("HuggingFaceTB/SmolLM2-135M", _llama(576, 30, 9, 3, 1536, 49152, 8192, tied=True), 135e6),
    _KnownModel("HuggingFaceTB/SmolLM2-360M", _llama(960, 32, 15, 5, 2560, 49152, 8192, tied=True), 362e6),
    _KnownModel("HuggingFaceTB/SmolLM2-1.7B", _llama(2048, 24, 32, 32, 8192, 49152, 8192, tied=True), 1.71e9),
    # TinyLlama
    _KnownModel("TinyLlama/TinyLlama-1.1B-Chat-v1.0", _llama(2048, 22, 32, 4, 5632, 32000, 2048), 1.1e9,
                aliases=("TinyLlama/TinyLlama_v1.1", "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T")),
    # GPT-2 family
    _KnownModel("openai-community/gpt2", _GPT2, 124e6, aliases=("gpt2",)),
    _KnownModel("openai-community/gpt2-medium", {**_GPT2, "n_embd": 1024, "n_layer": 24, "n_head": 16}, 355e6,
                aliases=("gpt2-medium",)),
    _KnownModel("openai-community/gpt2-large", {**_GPT2, "n_embd": 1280, "n_layer": 36, "n_head": 20}, 774e6,
                aliases=("gpt2-large",)),
    _KnownModel("openai-community/gpt2-xl", {**_GPT2, "n_embd": 1600, "n_layer": 48, "n_head": 25}, 1.56e9,
                aliases=("gpt2-xl",)),
)

# Name parts that mark a variant (chat/instruct tuning, repo format) but not a different shape.
_VARIANT_PARTS = frozenset({"instruct", "chat", "hf", "it", "base", "sft", "dpo"})


def _normalise_name(name: str) -> str:
    """Lowercase the last path component, drop variant parts and the "meta-" prefix.

    "Meta-Llama-3.1-8B-Instruct" and "Llama-3.1-8B" both become "llama-3.1-8b";
    "Mistral-7B-Instruct-v0.3" becomes "mistral-7b-v0.3".
    """
    base = name.strip().rstrip("/").split("/")[-1].lower().replace("_", "-")
    base = "-".join(part for part in base.split("-") if part not in _VARIANT_PARTS)
    if base.startswith("meta-llama-"):
        base = base[len("meta-") :]
    return base


def _build_index() -> dict[str, _KnownModel]:
    index: dict[str, _KnownModel] = {}
    for model in KNOWN_MODELS:
        for name in (model.hub_id, *model.aliases):
            index.setdefault(_normalise_name(name), model)
    return index


_INDEX = _build_index()

# A size in the id: "7B", "70b", "1.5B", "135M", also "8x7B". Not preceded by a letter or digit, so
# the "3B" inside "A3B" (active params of an MoE) or the "1" in "v0.1" are not read as sizes.
_SIZE_HINT = re.compile(r"(?<![a-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)([bm])(?![a-z])")


def parse_size_hint(ref: str) -> int | None:
    """Parameters implied by the id ("Qwen2.5-7B" → 7e9), or None. The largest hint wins (conservative)."""
    name = ref.strip().rstrip("/").split("/")[-1].lower().replace("_", "-")
    best: int | None = None
    for experts, number, unit in _SIZE_HINT.findall(name):
        value = float(number) * (1e9 if unit == "b" else 1e6) * (int(experts) if experts else 1)
        if value >= 1e6 and (best is None or value > best):
            best = int(value)
    return best


def _readme_license(directory: Path) -> str | None:
    """The ``license:`` key of a model card's YAML front matter, if present (no YAML parser needed)."""
    readme = directory / "README.md"
    if not readme.is_file():
        return None
    lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        match = re.match(r"^license:\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$", line)
        if match:
            return match.group(1).strip()
    return None


def _local_directory(ref: str, base_dir: Path | None) -> Path | None:
    """The local model directory ``ref`` names, if it holds a config.json.

    No ``~`` expansion: spec paths are relative to the spec file, and a hub id may legitimately start
    with characters a shell would expand. An unusable path (too long, bad characters) is simply not local.
    """
    path = Path(ref)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    try:
        return path if (path / "config.json").is_file() else None
    except (OSError, ValueError):
        return None


_MAX_CONFIG_BYTES = 4 * 1024 * 1024


def _read_small(path: Path) -> str:
    """A config file's text; a huge one is not a model config (and is not read into memory)."""
    with open(path, "rb") as handle:
        raw = handle.read(_MAX_CONFIG_BYTES + 1)
    if len(raw) > _MAX_CONFIG_BYTES:
        raise ValueError(f"{path} is larger than {_MAX_CONFIG_BYTES} bytes")
    return raw.decode("utf-8")


def model_facts(ref: str, base_dir: Path | None = None) -> ModelFacts | None:
    """Facts for a model reference: a local directory with config.json, a known hub id, or a sized name.

    Never touches the network. Returns None when nothing is known. A directory whose config.json is
    unreadable or lacks the decoder keys falls through to the name-based lookups.
    """
    from specc.plan.registry.lookup import licence_for_model  # local import: registry imports nothing from here

    directory = _local_directory(ref, base_dir)
    if directory is not None:
        try:
            config = json.loads(_read_small(directory / "config.json"))
            return facts_from_config(config, ref=ref, source="config.json", license=_readme_license(directory))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError, RecursionError):
            pass  # a damaged config says nothing reliable: the name-based lookups below still may
    known = _INDEX.get(_normalise_name(ref))
    if known is not None:
        return facts_from_config(known.config, ref=ref, source="table",
                                 license=licence_for_model(ref) or licence_for_model(known.hub_id))
    size = parse_size_hint(ref)
    if size is not None:
        return ModelFacts(ref=ref, params=size, source="name", license=licence_for_model(ref))
    return None

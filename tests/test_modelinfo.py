"""Model facts: parameter counts from configs, the known-model table, and size hints in names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specc.plan.modelinfo import KNOWN_MODELS, count_params, facts_from_config, model_facts, parse_size_hint


@pytest.mark.parametrize("known", KNOWN_MODELS, ids=lambda m: m.hub_id)
def test_table_formula_matches_published_size_within_one_percent(known):
    total, _, _ = count_params(known.config)
    assert abs(total / known.published - 1) < 0.01, (known.hub_id, total, known.published)


def test_mixtral_active_params_are_the_routed_experts_only():
    facts = model_facts("mistralai/Mixtral-8x7B-Instruct-v0.1") or model_facts("mistralai/Mixtral-8x7B-v0.1")
    assert facts is not None and facts.num_experts == 8 and facts.experts_per_token == 2
    assert abs(facts.params / 46.7e9 - 1) < 0.01
    assert abs(facts.active_params / 12.9e9 - 1) < 0.02  # Mistral AI: 12.9B active per token


@pytest.mark.parametrize(
    "ref, params_b, source",
    [
        ("meta-llama/Llama-2-7b-hf", 6.74, "table"),
        ("META-LLAMA/LLAMA-2-7B-CHAT-HF", 6.74, "table"),
        ("Llama-2-70b-chat-hf", 69.0, "table"),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", 8.03, "table"),
        ("unsloth/Llama-3.2-1B-Instruct", 1.24, "table"),
        ("Qwen2.5-7B-Instruct", 7.62, "table"),
        ("google/gemma-2-9b-it", 9.24, "table"),
        ("gpt2", 0.124, "table"),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", 0.135, "table"),
        ("someone/my-finetune-13B", 13.0, "name"),
        ("org/Qwen3-30B-A3B", 30.0, "name"),
        ("tiny-135m", 0.135, "name"),
    ],
)
def test_lookup_by_hub_id_is_case_insensitive_and_org_optional(ref, params_b, source):
    facts = model_facts(ref)
    assert facts is not None
    assert facts.source == source
    assert abs(facts.params / (params_b * 1e9) - 1) < 0.01
    if source == "name":
        assert facts.hidden_size is None and not facts.has_architecture
    else:
        assert facts.has_architecture


def test_table_entries_carry_architecture_numbers_from_the_public_config():
    facts = model_facts("meta-llama/Llama-3.1-8B")
    assert (facts.hidden_size, facts.num_layers, facts.num_heads, facts.num_kv_heads) == (4096, 32, 32, 8)
    assert (facts.intermediate_size, facts.vocab_size, facts.max_position_embeddings) == (14336, 128256, 131072)
    assert facts.tie_word_embeddings is False and facts.license == "llama3.1"


@pytest.mark.parametrize("ref", ["", "not-a-model", "mistralai/Mistral-7B-v0.1-but-renamed-v0.2x", "v0.1"])
def test_unknown_or_unsized_names(ref):
    if ref == "mistralai/Mistral-7B-v0.1-but-renamed-v0.2x":
        assert model_facts(ref).source == "name"  # the 7B hint survives, v0.1 is not a size
    else:
        assert model_facts(ref) is None


def test_size_hints():
    assert parse_size_hint("Mixtral-8x7B") == 56_000_000_000  # upper bound: experts share attention
    assert parse_size_hint("Qwen2.5-1.5B") == 1_500_000_000
    assert parse_size_hint("model-v0.1") is None
    assert parse_size_hint("llama-7b-teacher-70b") == 70_000_000_000  # the largest hint wins


def _write(directory: Path, config: dict, readme: str | None = None) -> None:
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(config))
    if readme is not None:
        (directory / "README.md").write_text(readme)


def test_local_directory_relative_to_base_dir_wins_over_the_name(tmp_path):
    config = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 500,
              "max_position_embeddings": 256, "tie_word_embeddings": True}
    _write(tmp_path / "models" / "tiny-7B", config, "---\nlicense: apache-2.0\ntags: [x]\n---\n# card\n")
    facts = model_facts("models/tiny-7B", base_dir=tmp_path)
    assert facts.source == "config.json" and facts.license == "apache-2.0"
    assert facts.params < 1e6 and facts.num_kv_heads == 2 and facts.tie_word_embeddings is True
    # without the base dir the same ref is only a name with a size hint
    assert model_facts("models/tiny-7B").source == "name"


def test_unreadable_config_falls_back_to_name(tmp_path):
    _write(tmp_path / "broken-1B", {"model_type": "mystery"})
    facts = model_facts(str(tmp_path / "broken-1B"))
    assert facts.source == "name" and facts.params == 1_000_000_000


def test_multimodal_text_config_is_used(tmp_path):
    text = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
            "intermediate_size": 128, "vocab_size": 100}
    facts = facts_from_config({"model_type": "llava", "text_config": text}, ref="x", source="config.json")
    assert facts.hidden_size == 64 and facts.num_kv_heads == 4


# ---- exact agreement with transformers' own parameter count ------------------------------------------

transformers = pytest.importorskip("transformers")


def _hf_count(config) -> int:
    import torch

    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t.LlamaConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=8, num_key_value_heads=2,
                                intermediate_size=96, vocab_size=300, tie_word_embeddings=False),
        lambda t: t.LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                                intermediate_size=96, vocab_size=300, tie_word_embeddings=True, attention_bias=True),
        lambda t: t.Qwen2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                intermediate_size=96, vocab_size=300, tie_word_embeddings=True),
        lambda t: t.MistralConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                                  intermediate_size=96, vocab_size=300, head_dim=32),
        lambda t: t.Gemma2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                 intermediate_size=96, vocab_size=300, head_dim=32),
        lambda t: t.MixtralConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  intermediate_size=96, vocab_size=300, num_local_experts=4, num_experts_per_tok=2),
        lambda t: t.Phi3Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                               intermediate_size=96, vocab_size=300, pad_token_id=0),
        lambda t: t.GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=300, n_positions=128),
    ],
    ids=["llama-gqa-untied", "llama-bias-tied", "qwen2", "mistral-headdim", "gemma2", "mixtral", "phi3", "gpt2"],
)
def test_count_matches_transformers_exactly(make):
    config = make(transformers)
    ours, _, _ = count_params(config.to_dict())
    assert ours == _hf_count(config)


# ------------------------------------------------- issue 17: a damaged config.json never crashes `plan`

DAMAGED_CONFIGS = {
    "zero heads": lambda c: {**c, "num_attention_heads": 0},
    "zero layers": lambda c: {**c, "num_hidden_layers": 0},
    "more heads than hidden": lambda c: {**c, "num_attention_heads": c["hidden_size"] * 2},
    "Infinity": lambda c: json.dumps({**c, "hidden_size": "INF"}).replace('"INF"', "Infinity"),
    "NaN": lambda c: json.dumps({**c, "vocab_size": "NAN"}).replace('"NAN"', "NaN"),
    "1e400": lambda c: json.dumps({**c, "vocab_size": "BIG"}).replace('"BIG"', "1e400"),
    "a list": lambda c: [c],
    "a list value": lambda c: {**c, "hidden_size": [64]},
    "a string value": lambda c: {**c, "num_hidden_layers": "two"},
    "a bool value": lambda c: {**c, "num_hidden_layers": True},
    "negative": lambda c: {**c, "intermediate_size": -5},
    "a fraction": lambda c: {**c, "hidden_size": 64.5},
    "text_config a list": lambda c: {"text_config": [c], "model_type": "x"},
    "null": lambda c: None,
    "deeply nested": lambda c: "[" * 100_000 + "]" * 100_000,
    "not UTF-8": lambda c: b'{"hidden_size": "caf\xe9"}',
    "experts a string": lambda c: {**c, "num_local_experts": "8"},
}


@pytest.mark.parametrize("case", sorted(DAMAGED_CONFIGS))
def test_a_damaged_config_json_never_crashes_plan(tmp_path, case):
    import subprocess
    import sys

    from strategies import light_spec

    spec = light_spec(tmp_path)
    config_path = spec.parent / "model" / "config.json"
    made = DAMAGED_CONFIGS[case](json.loads(config_path.read_text()))
    if isinstance(made, bytes):
        config_path.write_bytes(made)
    else:
        config_path.write_text(made if isinstance(made, str) else json.dumps(made))
    # the facts fall through to the other lookups (here: nothing known), never raise
    assert model_facts("model", spec.parent) is None
    proc = subprocess.run([sys.executable, "-m", "specc", "plan", str(spec)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr[-2000:]

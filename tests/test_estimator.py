"""Estimator: validated against published figures and against a measured CPU training run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from specc.plan.estimator import (
    GIB, DeviceBudget, TrainingShape, choose_budget, estimate_compute, estimate_memory, lora_trainable_params,
)
from specc.plan.modelinfo import ModelFacts, facts_from_config, model_facts

L2_7B = model_facts("meta-llama/Llama-2-7b-hf")
L2_70B = model_facts("meta-llama/Llama-2-70b-hf")
L31_8B = model_facts("meta-llama/Llama-3.1-8B")
L31_70B = model_facts("meta-llama/Llama-3.1-70B")
LLAMA_65B = model_facts("huggyllama/llama-65b")

# ---- published figures ------------------------------------------------------------------------------

# LLaMA-Factory README, "Hardware Requirement" table (estimated GPU memory; GB), for 7B and 70B models.
# Our assumptions (the README states none): seq_len 512, micro_batch 1, gradient checkpointing on,
# LoRA r=16 on all linear layers, AdamW. "Full AMP" = mixed_bf16; "Full 16" = pure bf16; LoRA 16-bit
# base in bf16; QLoRA 8/4-bit. Tolerance: within a factor of 1.5 either way.
LLAMA_FACTORY = [
    (L2_7B, "full", "mixed_bf16", 4, 120), (L2_7B, "full", "bf16", 4, 60), (L2_7B, "lora", "bf16", 4, 16),
    (L2_7B, "qlora", "bf16", 8, 10), (L2_7B, "qlora", "bf16", 4, 6),
    (L2_70B, "full", "mixed_bf16", 4, 1200), (L2_70B, "lora", "bf16", 4, 160),
    (L2_70B, "qlora", "bf16", 8, 80), (L2_70B, "qlora", "bf16", 4, 48),
]
PUBLISHED_SHAPE = TrainingShape(seq_len=512, micro_batch=1, gradient_checkpointing=True, lora_r=16)


@pytest.mark.parametrize("facts, budget, precision, bits, published_gb", LLAMA_FACTORY,
                         ids=[f"{f.ref.split('/')[-1]}-{b}-{p}-{q}" for f, b, p, q, _ in LLAMA_FACTORY])
def test_llama_factory_table_within_factor_1_5(facts, budget, precision, bits, published_gb):
    shape = replace(PUBLISHED_SHAPE, budget=budget, precision=precision, quant_bits=bits)
    ratio = estimate_memory(facts, shape).total_gib / published_gb
    assert 1 / 1.5 <= ratio <= 1.5, ratio


def test_qlora_paper_65b_fits_one_48gb_gpu_but_16bit_lora_does_not():
    # Dettmers et al. 2023 (QLoRA), abstract: a 65B model finetuned on a single 48GB GPU.
    # Assumed: seq_len 512, micro_batch 1, checkpointing on, LoRA r=16 on all linear layers.
    choice = choose_budget(LLAMA_65B, DeviceBudget(gpus=1, gpu_memory_gb=48), PUBLISHED_SHAPE)
    assert choice.budget == "qlora" and choice.fits
    assert not choice.option("lora").fits and not choice.option("full").fits
    assert choice.option("qlora").needed_gib <= 48 * 0.95


def test_8b_lora_fits_a_24gb_card():
    shape = TrainingShape(seq_len=512, micro_batch=1, gradient_checkpointing=True)
    choice = choose_budget(L31_8B, DeviceBudget(gpus=1, gpu_memory_gb=24), shape)
    assert choice.budget == "lora" and choice.fits
    assert not choice.option("full").fits


def test_8b_at_2048_tokens_micro_batch_2_on_24gb_falls_back_to_qlora_with_numbers():
    # (At micro batch 1 8B LoRA fits 24 GB at 2k tokens, as published: tests/test_calibration.py.)
    choice = choose_budget(L31_8B, DeviceBudget(gpus=1, gpu_memory_gb=24), TrainingShape(seq_len=2048, micro_batch=2))
    assert choice.budget == "qlora"
    assert any("frozen base does not fit at 16 bits" in r for r in choice.reasons)
    assert "GiB" in choice.option("lora").reason


def test_70b_on_one_24gb_card_nothing_fits_and_suggestions_are_given():
    choice = choose_budget(L31_70B, DeviceBudget(gpus=1, gpu_memory_gb=24), TrainingShape())
    assert choice.budget is None and not choice.fits
    assert all(not o.fits for o in choice.options)
    text = " ".join(choice.suggestions)
    assert "GPUs" in text and "FSDP" in text and "smaller model" in text


# ---- choice rules ---------------------------------------------------------------------------------

def test_full_only_when_goal_needs_it():
    facts = model_facts("Qwen/Qwen2.5-0.5B")
    hardware = DeviceBudget(gpus=1, gpu_memory_gb=80)
    assert choose_budget(facts, hardware, TrainingShape()).budget == "lora"
    assert choose_budget(facts, hardware, TrainingShape(), goal_needs_full=True).budget == "full"
    assert choose_budget(facts, hardware, TrainingShape(), goal_needs_full=True, allow=("lora", "qlora")).budget == "lora"


def test_goal_needs_full_but_it_does_not_fit_falls_back_to_lora():
    choice = choose_budget(L31_8B, DeviceBudget(gpus=1, gpu_memory_gb=40), TrainingShape(), goal_needs_full=True)
    assert choice.budget == "lora" and any("does not fit" in r for r in choice.reasons)


def test_forced_budget_that_does_not_fit_is_reported_with_numbers():
    choice = choose_budget(L31_8B, DeviceBudget(gpus=1, gpu_memory_gb=24), TrainingShape(), forced="full")
    assert choice.forced and choice.budget == "full" and not choice.fits
    assert choice.option("full").needed_gib > 24


def test_multi_gpu_full_uses_sharding():
    shape = TrainingShape(seq_len=2048)
    one = estimate_memory(L31_8B, replace(shape, budget="full"))
    eight = estimate_memory(L31_8B, replace(shape, budget="full", num_gpus=8, sharding="fsdp"))
    zero2 = estimate_memory(L31_8B, replace(shape, budget="full", num_gpus=8, sharding="zero2"))
    assert eight.per_gpu < zero2.per_gpu < one.per_gpu
    assert eight.weights < one.weights / 4 and zero2.weights == one.weights
    choice = choose_budget(L31_8B, DeviceBudget(gpus=8, gpu_memory_gb=80), shape, goal_needs_full=True)
    assert choice.budget == "full" and choice.option("full").sharding in ("ddp", "zero2", "fsdp")
    assert choice.option("full").sharding != "ddp"  # 8B full does not fit unsharded on 80 GB


def test_cpu_only_hardware_says_only_tiny_models_are_realistic():
    small = choose_budget(model_facts("HuggingFaceTB/SmolLM2-135M"), DeviceBudget(gpus=0, cpu_memory_gb=24), TrainingShape())
    assert small.budget == "lora" and small.option("lora").estimate.runtime_overhead == 0
    assert any("only tiny models" in n for n in small.notes)
    big = choose_budget(L31_8B, DeviceBudget(gpus=0, cpu_memory_gb=24), TrainingShape())
    assert any("days" in n for n in big.notes)


# ---- components -----------------------------------------------------------------------------------

def test_bytes_per_parameter_follow_the_documented_rules():
    tiny = TrainingShape(seq_len=1, micro_batch=1, fragmentation=0.0, cuda_context_gib=0.0)
    n = L2_7B.params
    mixed = estimate_memory(L2_7B, replace(tiny, budget="full", precision="mixed_bf16"))
    assert (mixed.weights, mixed.gradients, mixed.optimizer_state) == (6 * n, 4 * n, 8 * n)  # HF anatomy: 18 B
    fp32 = estimate_memory(L2_7B, replace(tiny, budget="full", precision="fp32"))
    assert fp32.model_states == 16 * n  # ZeRO paper's 16 bytes/param counts fp16 grads; fp32 is 4+4+8 too
    pure = estimate_memory(L2_7B, replace(tiny, budget="full", precision="bf16"))
    assert pure.model_states == 8 * n
    eight_bit = estimate_memory(L2_7B, replace(tiny, budget="full", precision="fp32", optimizer="adamw_8bit"))
    assert eight_bit.optimizer_state == 2 * n


def test_lora_trainable_params_llama2_7b():
    # r=8 on q and v only is PEFT's classic 4,194,304 for Llama-2-7B; all four attention projections double it.
    assert lora_trainable_params(L2_7B, 8, "attention") == 2 * 4_194_304
    assert lora_trainable_params(L2_7B, 16, "all-linear") == 39_976_960


def test_qlora_4bit_base_is_about_a_quarter_of_16bit():
    shape = TrainingShape(seq_len=256)
    lora = estimate_memory(L2_70B, replace(shape, budget="lora"))
    q4 = estimate_memory(L2_70B, replace(shape, budget="qlora", quant_bits=4))
    assert 0.24 < q4.weights / lora.weights < 0.30


def test_method_extras():
    base = TrainingShape(seq_len=1024)
    sft = estimate_memory(L31_8B, replace(base, budget="full", num_gpus=8, sharding="ddp"))
    dpo_full = estimate_memory(L31_8B, replace(base, budget="full", method="dpo", num_gpus=8, sharding="ddp"))
    assert dpo_full.extra_models == 2 * L31_8B.params  # a frozen 16-bit reference
    assert dpo_full.activations == 2 * sft.activations  # chosen and rejected
    dpo_lora = estimate_memory(L31_8B, replace(base, method="dpo"))
    assert dpo_lora.extra_models == 0  # the base with adapters disabled is the reference
    rl = estimate_memory(L31_8B, replace(base, method="rlhf", reward_model=model_facts("Qwen/Qwen2.5-1.5B")))
    assert rl.extra_models > 2 * 1.5e9
    teacher = L31_70B
    distil = estimate_memory(L31_8B, replace(base, method="distill_logit", teacher=teacher))
    assert distil.extra_models > 2 * teacher.params
    reward = estimate_memory(L31_8B, replace(base, method="reward"))
    assert reward.logits == 0
    with pytest.raises(ValueError):
        estimate_memory(L31_8B, replace(base, method="distill_logit"))


def test_name_only_facts_still_estimate():
    facts = model_facts("someone/custom-13B")
    estimate = estimate_memory(facts, TrainingShape())
    assert 20 * GIB < estimate.per_gpu < 40 * GIB
    assert any("guessed" in a for a in estimate.assumptions)


def test_invalid_shape_is_rejected():
    with pytest.raises(ValueError):
        TrainingShape(budget="adapters")
    with pytest.raises(ValueError):
        TrainingShape(quant_bits=3)


# ---- compute --------------------------------------------------------------------------------------

def test_compute_full_is_6NT_and_lora_is_about_two_thirds():
    hardware = DeviceBudget(gpus=8, gpu_memory_gb=80)
    full = estimate_compute(L31_8B, train_tokens=1_000_000_000, epochs=2, budget="full", hardware=hardware,
                            effective_batch_tokens=1_000_000, gpu_tflops=1000, mfu=0.5)
    assert full.tokens == 2_000_000_000 and full.optimizer_steps == 2000
    assert full.flops == pytest.approx(6 * L31_8B.params * 2e9)
    assert full.gpu_hours == pytest.approx(full.flops / (1000e12 * 0.5) / 3600)
    assert full.wall_hours == pytest.approx(full.gpu_hours / 8)
    lora = estimate_compute(L31_8B, train_tokens=1_000_000_000, epochs=2, budget="lora", hardware=hardware)
    assert 0.66 < lora.flops / full.flops < 0.70 and "4·N·T" in lora.formula
    assert any("assumed" in n for n in lora.notes)


def test_compute_moe_uses_active_params():
    mixtral = model_facts("mistralai/Mixtral-8x7B-v0.1")
    est = estimate_compute(mixtral, train_tokens=1000, epochs=1, budget="full", hardware=DeviceBudget(gpus=1))
    assert est.flops == pytest.approx(6 * mixtral.active_params * 1000)


# ---- measured on CPU -------------------------------------------------------------------------------

_PROBE = r"""
import json, resource, sys
import torch
from transformers import LlamaConfig, LlamaForCausalLM
mode, hidden, layers, heads, kv, inter, vocab, seq, batch = sys.argv[1], *map(int, sys.argv[2:])
torch.manual_seed(0)
torch.set_num_threads(1)
cfg = LlamaConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                  intermediate_size=inter, vocab_size=vocab, max_position_embeddings=seq, tie_word_embeddings=False)
model = LlamaForCausalLM(cfg)
if mode == "lora":
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(model, LoraConfig(r=16, target_modules="all-linear", lora_dropout=0.0))
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
ids = torch.randint(0, vocab, (batch, seq))
for _ in range(2):  # two optimizer steps of two accumulated micro-batches, as a Trainer would run
    for _ in range(2):
        model(input_ids=ids, labels=ids).loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
# VmHWM is this process's own peak: ru_maxrss would also count the parent's RSS at fork time (Linux keeps the
# larger of the two across exec), so a probe started from a big pytest worker would look big whatever it did.
try:
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"maxrss_bytes": peak_kb * 1024}))
"""
# hidden, layers, heads, kv_heads, intermediate, vocab, seq_len, micro_batch
_MODEL = (256, 4, 4, 2, 688, 8000, 128, 4)
_BASELINE = (16, 1, 2, 2, 32, 64, 256, 4)  # same imports and code path, negligible model


def _peak_rss(mode: str, dims: tuple[int, ...]) -> int:
    # A fixed mmap threshold makes glibc hand freed tensors straight back to the OS, so peak RSS tracks
    # live memory instead of heap high-water marks; offline hub access keeps imports from waiting on it.
    # A clean environment, so nothing the test worker picked up changes what the probe imports.
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env = {**keep, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "2", "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _PROBE, mode, *map(str, dims)], capture_output=True, text=True,
                         timeout=240, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])["maxrss_bytes"]


@pytest.fixture(scope="module")
def measured():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    # Each mode gets its own baseline: wrapping a model with peft loads ~60 MB of extra code and state.
    jobs = [("full", _MODEL), ("full", _BASELINE), ("lora", _MODEL), ("lora", _BASELINE)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        full, full_base, lora, lora_base = pool.map(lambda job: _peak_rss(*job), jobs)
    return {"full": full - full_base, "lora": lora - lora_base}


def _tiny_facts() -> ModelFacts:
    h, layers, heads, kv, inter, vocab, seq, _ = _MODEL
    return facts_from_config({"model_type": "llama", "hidden_size": h, "num_hidden_layers": layers,
                              "num_attention_heads": heads, "num_key_value_heads": kv, "intermediate_size": inter,
                              "vocab_size": vocab, "max_position_embeddings": seq}, ref="tiny", source="config.json")


@pytest.mark.parametrize("budget", ["full", "lora"])
def test_measured_cpu_peak_within_35_percent(measured, budget):
    # Peak RSS of two AdamW steps (two accumulated micro-batches each) in fp32 on CPU, minus a baseline process that runs the same code on a
    # negligible model, against the estimate of model states + activations + logits (no fragmentation).
    *_, seq, batch = _MODEL
    shape = TrainingShape(budget=budget, precision="fp32", device="cpu", seq_len=seq, micro_batch=batch,
                          gradient_checkpointing=False, fragmentation=0.0, lora_r=16)
    estimate = estimate_memory(_tiny_facts(), shape)
    ratio = estimate.per_gpu / measured[budget]
    print(f"{budget}: estimate {estimate.per_gpu / 2**20:.0f} MiB, measured {measured[budget] / 2**20:.0f} MiB, "
          f"ratio {ratio:.2f}")
    assert 0.65 <= ratio <= 1.35, ratio


def test_gpu_type_sets_the_throughput_of_the_gpu_hour_estimate():
    from specc.plan.estimator import gpu_peak_tflops

    assert gpu_peak_tflops("A100-80GB") == 312.0
    assert gpu_peak_tflops("NVIDIA H100 SXM") == 989.0
    assert gpu_peak_tflops("rtx 4090") == 165.0
    assert gpu_peak_tflops("L40S") == 362.0 and gpu_peak_tflops("L4") == 121.0  # longest key wins
    assert gpu_peak_tflops("mystery-gpu") is None and gpu_peak_tflops(None) is None
    facts = model_facts("meta-llama/Llama-3.1-8B")
    a100 = estimate_compute(facts, train_tokens=10**8, epochs=1, budget="lora", hardware=DeviceBudget(gpus=1),
                            gpu_tflops=gpu_peak_tflops("A100"))
    h100 = estimate_compute(facts, train_tokens=10**8, epochs=1, budget="lora", hardware=DeviceBudget(gpus=1),
                            gpu_tflops=gpu_peak_tflops("H100"))
    assert h100.gpu_hours == pytest.approx(a100.gpu_hours * 312 / 989)

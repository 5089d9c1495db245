"""Measured peak GPU memory next to the estimator's figure, for bf16 full tuning, LoRA and real 4-bit QLoRA.

Why: the estimator is calibrated against published tables (docs/ESTIMATOR.md); this measures it. Each run loads
the model with specc's own loader (``specc.runtime.common.load_model``, the one every stage uses), trains a few
steps with TRL's SFTTrainer on the arguments specc's stages pass (``common.trainer_args``), and reads
``torch.cuda.max_memory_allocated()`` (reset before the model loads). The estimate is
``estimate_memory(...)`` for the same shape, less the CUDA context and fragmentation (which
``max_memory_allocated`` does not see). Run by ``benchmarks/device_check.sh``; prints a table and writes JSON.

Models: specc's tiny test model (as the issue asks) and a randomly initialised ~0.2B Llama (no download) whose
figures are large enough for the ratio to mean something.

    python benchmarks/device_check.py [--out results.json] [--device cpu]   # cpu: a dry run, no measurement
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

SEQ, MICRO, STEPS = 512, 4, 4
BUDGETS = ("full", "lora", "qlora")


def _llama_200m(root: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    out = root / "llama-200m"
    if not (out / "config.json").is_file():
        cfg = LlamaConfig(hidden_size=1024, num_hidden_layers=12, num_attention_heads=16, num_key_value_heads=16,
                          intermediate_size=2816, vocab_size=32000, max_position_embeddings=2048,
                          tie_word_embeddings=False)
        LlamaForCausalLM(cfg).save_pretrained(out)
    return out


def _dataset(vocab: int, rows: int):
    import random

    from datasets import Dataset

    rng = random.Random(0)
    ids = [[rng.randrange(3, vocab) for _ in range(SEQ)] for _ in range(rows)]
    return Dataset.from_dict({"input_ids": ids})


def _estimate(model_dir: Path, budget: str) -> dict[str, float]:
    from specc.plan.estimator import GIB, TrainingShape, estimate_memory
    from specc.plan.modelinfo import facts_from_config

    cfg = json.loads((model_dir / "config.json").read_text())
    facts = facts_from_config(cfg, ref=str(model_dir), source="config.json")
    est = estimate_memory(facts, TrainingShape(budget=budget, precision="bf16", quant_bits=4, seq_len=SEQ,
                                               micro_batch=MICRO, gradient_checkpointing=True, lora_r=16))
    allocated = est.per_gpu - est.runtime_overhead - est.fragmentation
    return {"estimate_gib": allocated / GIB, "estimate_with_overheads_gib": est.per_gpu_gib}


def _train(model_dir: Path, budget: str, device: str, work: Path) -> float | None:
    import torch
    from trl import SFTConfig, SFTTrainer

    from specc.runtime import common

    precision = common.pick_precision("bf16" if device == "cuda" else "fp32")
    tokenizer = None
    quant = ({"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True}
             if budget == "qlora" else None)
    peft = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"} if budget != "full" else None
    train = {"per_device_train_batch_size": MICRO, "gradient_accumulation_steps": 1, "max_steps": STEPS,
             "activation_checkpointing": True, "max_length": SEQ, "learning_rate": 1e-4, "logging_steps": 1,
             "save_steps": 10_000, "seed": 0, "packing": False, "num_train_epochs": 1.0}
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    args = SFTConfig(**common.trainer_args(train, precision, output_dir=work / f"{model_dir.name}-{budget}",
                                           report_to=[], run_name=budget))
    model = common.load_model({"source": "local", "path": str(model_dir), "ref": str(model_dir), "revision": None}, None, precision, quantization=quant)
    vocab = model.config.vocab_size
    trainer = SFTTrainer(model=model, args=args, train_dataset=_dataset(vocab, MICRO * STEPS),
                         processing_class=tokenizer or _tokenizer(model_dir),
                         peft_config=common.lora_config(peft) if peft else None)
    trainer.train()
    peak = torch.cuda.max_memory_allocated() / 1024**3 if device == "cuda" else None
    del trainer, model
    return peak


def _tokenizer(model_dir: Path):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir))
    except Exception:  # the random Llama has no tokenizer: SFTTrainer only needs its pad/eos ids
        from tokenizers import Tokenizer, models

        tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<pad>": 0, "</s>": 1,
                                                                                    "<unk>": 2}, unk_token="<unk>")))
        tok.pad_token, tok.eos_token, tok.unk_token = "<pad>", "</s>", "<unk>"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--models", default="tiny,llama-200m")
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --device cpu for a dry run (no measurement)", file=sys.stderr)
        return 2
    from specc.demo.tinymodel import ensure_tiny_base

    work = Path(tempfile.mkdtemp(prefix="specc-device-check-"))
    models = {"tiny": lambda: Path(ensure_tiny_base("test")), "llama-200m": lambda: _llama_200m(work)}
    rows = []
    for name in args.models.split(","):
        model_dir = models[name]()
        for budget in BUDGETS:
            if budget == "qlora" and args.device == "cpu" and name != "tiny":
                continue
            start = time.time()
            peak = _train(model_dir, budget, args.device, work)
            row = {"model": name, "budget": budget, "seq_len": SEQ, "micro_batch": MICRO,
                   "measured_gib": peak, **_estimate(model_dir, budget), "seconds": round(time.time() - start, 1)}
            row["ratio"] = (row["estimate_gib"] / peak) if peak else None
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| model | budget | measured max_memory_allocated (GiB) | estimate (GiB) | estimate / measured |")
    print("|---|---|---|---|---|")
    for r in rows:
        measured = f"{r['measured_gib']:.3f}" if r["measured_gib"] is not None else "n/a"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "n/a"
        print(f"| {r['model']} | {r['budget']} | {measured} | {r['estimate_gib']:.3f} | {ratio} |")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

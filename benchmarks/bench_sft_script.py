#!/usr/bin/env python
"""Benchmark: specc's emitted LoRA SFT script against the plainest hand-written TRL SFT script.

Question answered: does the code specc wraps around the trainer (lock and firewall checks, progress
callback, tracking context, resume logic, conversational data shaping) cost training throughput or memory?
Both scripts train the same model on the same file with the same steps, batch, sequence length, LoRA
shape and precision, each in a fresh subprocess; runs alternate (emitted, hand-written, ...) so machine
drift hits both alike. Reported per script, median over repeats:

* train-loop throughput in tokens/s = the trainer's ``num_tokens`` / ``train_runtime`` (import and load
  time excluded: it is the same libraries in both), and samples/s as the trainer reports it;
* peak resident memory of the subprocess (``ru_maxrss`` from ``os.wait4``).

Targets: emitted/hand-written throughput >= 0.95 and peak memory <= 1.05.

The model is a freshly initialised Llama (hidden 256, 4 layers; the tiny test tokenizer), bigger than the
test model so the training loop, not Python overhead, dominates. Run:

    .venv/bin/python benchmarks/bench_sft_script.py --repeats 3 --steps 30
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEC = """
specc: 1
name: bench-sft
goal: {{behaviours: [format], consistency_required: true}}
evidence: {{prompting: {{score: 0.1}}}}
constraints: {{hardware: {{gpus: 0, cpu_memory_gb: 24}}}}
base_model: {{path: models/bench, licence: apache-2.0}}
data:
  train: {{path: data/train.jsonl, format: messages}}
  golden: {{path: data/golden.jsonl}}
  general_suites:
    - {{name: arithmetic, kind: exact_match, path: data/suite.jsonl}}
method: {{method: sft, parameter_budget: lora, lora_r: {r}, max_seq_length: {seq}, max_steps: {steps},
          micro_batch_size: {batch}, gradient_accumulation: 1}}
eval: {{metric: exact_match}}
tracking: {{mode: disabled}}
"""


def build_workspace(root: Path, *, steps: int, batch: int, seq: int, r: int, rows: int) -> Path:
    """Spec directory: the bench model, narrow-task data (train/golden) and a suite file."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from specc.demo import corpus
    from specc.demo.tinymodel import ensure_tiny_base

    tok = AutoTokenizer.from_pretrained(ensure_tiny_base("test"))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=256, intermediate_size=768, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    model_dir = root / "models" / "bench"
    LlamaForCausalLM(cfg).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    examples = list(corpus.narrow_task_examples(rows + 20, seed=5))
    corpus.write_chat(root / "data" / "train.jsonl", examples[:rows])
    corpus.write_prompt_completion(root / "data" / "golden.jsonl", examples[rows:])
    corpus.write_prompt_completion(root / "data" / "suite.jsonl", corpus.held_out_split(5)[:10])
    spec = root / "spec.yaml"
    spec.write_text(SPEC.format(steps=steps, batch=batch, seq=seq, r=r), encoding="utf-8")
    return spec


def compile_build(spec: Path) -> tuple[Path, str]:
    from specc.build import emitter
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(spec)
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    build = spec.parent / "build"
    emitter.compile_plan(plan, spec.parent, build)
    return build, plan.stage("sft").script


def _env() -> dict[str, str]:
    env = dict(os.environ, SPECC_WANDB_MODE="disabled", WANDB_MODE="disabled", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.pop("WANDB_API_KEY", None)
    return env


def measure(cmd: list[str], cwd: Path) -> tuple[str, float, float]:
    """(stdout, wall seconds, peak RSS in MiB) of one subprocess, its own rusage via wait4."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read()[-3000:]}")
    return stdout, wall, usage.ru_maxrss / 1024


def run_emitted(build: Path, script: str) -> dict[str, float]:
    shutil.rmtree(build / "artifacts" / "sft", ignore_errors=True)
    stdout, wall, rss = measure([sys.executable, script, "--no-resume"], build)
    events = [json.loads(line[8:]) for line in stdout.splitlines() if line.startswith("@@specc ")]
    final = next(e for e in reversed(events) if "train_runtime" in e)
    tokens = max(e.get("num_tokens", 0) for e in events)
    return {"tokens_per_s": tokens / final["train_runtime"], "samples_per_s": final["train_samples_per_second"],
            "rss_mib": rss, "wall_s": wall, "num_tokens": tokens}


def run_handwritten(root: Path, *, steps: int, batch: int, seq: int, r: int) -> dict[str, float]:
    out = root / "hand"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, str(ROOT / "benchmarks" / "handwritten_sft.py"), "--model", str(root / "models/bench"),
           "--data", str(root / "data/train.jsonl"), "--output-dir", str(out), "--max-steps", str(steps),
           "--batch-size", str(batch), "--grad-accum", "1", "--max-length", str(seq), "--lora-r", str(r)]
    stdout, wall, rss = measure(cmd, root)
    m = json.loads(stdout.strip().splitlines()[-1])
    return {"tokens_per_s": m["num_tokens"] / m["train_runtime"], "samples_per_s": m["train_samples_per_second"],
            "rss_mib": rss, "wall_s": wall, "num_tokens": m["num_tokens"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="specc-bench-sft-"))
    try:
        spec = build_workspace(root, steps=args.steps, batch=args.batch, seq=args.seq, r=args.lora_r,
                               rows=args.rows)
        build, script = compile_build(spec)
        fw = subprocess.run([sys.executable, "stages/01_firewall.py"], cwd=build, env=_env(), capture_output=True,
                            text=True)
        if fw.returncode != 0:
            raise SystemExit(f"firewall stage failed:\n{fw.stderr}")
        runs: dict[str, list[dict[str, float]]] = {"emitted": [], "handwritten": []}
        for i in range(args.repeats):
            order = ("emitted", "handwritten") if i % 2 == 0 else ("handwritten", "emitted")
            for name in order:
                res = (run_emitted(build, script) if name == "emitted" else
                       run_handwritten(root, steps=args.steps, batch=args.batch, seq=args.seq, r=args.lora_r))
                runs[name].append(res)
                print(f"  run {i + 1} {name:11s} {res['tokens_per_s']:9.1f} tok/s {res['samples_per_s']:7.2f} "
                      f"samples/s  peak {res['rss_mib']:7.1f} MiB  wall {res['wall_s']:5.1f} s", flush=True)
        med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
        thr = med["emitted"]["tokens_per_s"] / med["handwritten"]["tokens_per_s"]
        mem = med["emitted"]["rss_mib"] / med["handwritten"]["rss_mib"]
        print(f"\nmedian of {args.repeats} (steps {args.steps}, batch {args.batch}, seq {args.seq}, LoRA r{args.lora_r}):")
        for name in ("emitted", "handwritten"):
            m = med[name]
            print(f"  {name:11s} {m['tokens_per_s']:9.1f} tok/s  {m['samples_per_s']:7.2f} samples/s  "
                  f"peak RSS {m['rss_mib']:7.1f} MiB  wall {m['wall_s']:5.1f} s  tokens {m['num_tokens']:.0f}")
        print(f"  throughput ratio emitted/handwritten: {thr:.3f}  (target >= 0.95: {'PASS' if thr >= 0.95 else 'FAIL'})")
        print(f"  peak-memory ratio emitted/handwritten: {mem:.3f}  (target <= 1.05: {'PASS' if mem <= 1.05 else 'FAIL'})")
        print(json.dumps({"throughput_ratio": round(thr, 4), "memory_ratio": round(mem, 4), "median": med}))
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

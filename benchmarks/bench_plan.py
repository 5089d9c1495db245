"""Cold-start cost of `specc plan SPEC` against the floor of `python -c "import pydantic, yaml"`.

Why cold processes: `specc plan` runs once per CI job or review, so what users feel is interpreter start
plus imports plus planning, not a warm loop. Both commands run alternately in fresh subprocesses in the
same session (so machine noise hits both alike); the median of the repeats is reported, with the ratio
(target < 1.5x).

Usage: python benchmarks/bench_plan.py [--repeats N] [SPEC]
Without SPEC, a representative spec (SFT on an 8B hub model, retrieval for monthly facts, golden set
and a general suite, a few thousand data rows) is written to a temporary directory.
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

SPEC = """\
specc: 1
name: bench
goal: {behaviours: [style, knowledge], consistency_required: true, summary: House style.}
evidence: {prompting: {score: 0.4}}
constraints: {knowledge_change: monthly}
base_model: {id: meta-llama/Llama-3.1-8B-Instruct}
data:
  train: {path: train.jsonl}
  golden: {path: golden.jsonl}
  general_suites: [{name: gen, kind: exact_match, path: suite.jsonl}]
eval: {bar: 0.8}
"""


def write_example(root: Path, rows: int = 5000) -> Path:
    with open(root / "train.jsonl", "w", encoding="utf-8") as fh:
        for i in range(rows):
            fh.write(json.dumps({"messages": [{"role": "user", "content": f"question {i} " * 20},
                                              {"role": "assistant", "content": f"answer {i} " * 40}]}) + "\n")
    for name in ("golden.jsonl", "suite.jsonl"):
        with open(root / name, "w", encoding="utf-8") as fh:
            for i in range(200):
                fh.write(json.dumps({"prompt": f"p{i}", "completion": f"c{i}"}) + "\n")
    spec = root / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


def plan_command(spec: Path) -> list[str]:
    script = Path(sys.executable).parent / "specc"
    return [str(script), "plan", str(spec)] if script.exists() else [sys.executable, "-m", "specc", "plan", str(spec)]


# Bytecode caching on, as on an installed machine: with PYTHONDONTWRITEBYTECODE set (as in some sandboxes)
# every cold start recompiles specc's sources, which measures the compiler, not specc.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_ENV)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    tmp = None
    spec = args.spec
    if spec is None:
        tmp = Path(tempfile.mkdtemp(prefix="specc-bench-"))
        spec = write_example(tmp)
    floor_cmd = [sys.executable, "-c", "import pydantic, yaml"]
    models_cmd = [sys.executable, "-c", "import yaml, specc.spec.language, specc.plan.model"]
    plan_cmd = plan_command(spec)
    try:
        for cmd in (floor_cmd, models_cmd, plan_cmd):  # warm the OS file cache and bytecode once; not counted
            timed(cmd)
        floor, models, plan = [], [], []
        for _ in range(args.repeats):
            floor.append(timed(floor_cmd))
            models.append(timed(models_cmd))
            plan.append(timed(plan_cmd))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    f, m, p = statistics.median(floor), statistics.median(models), statistics.median(plan)
    print(f"floor   python -c 'import pydantic, yaml':               median {f * 1000:4.0f} ms ({args.repeats} runs)")
    print(f"models  python -c 'import yaml, specc.spec.language, specc.plan.model': median {m * 1000:4.0f} ms ({m / f:.2f}x floor)")
    print(f"plan    specc plan SPEC:                                 median {p * 1000:4.0f} ms")
    print(f"ratio   plan / floor = {p / f:.2f}x (target < 1.5x); plan / models = {p / m:.2f}x")


if __name__ == "__main__":
    main()

"""Do two fresh clones print the same base scores and the same conclusion?

The issue's test is two clones on two different machines. One machine can only vary what it can: this
script clones the repository twice into different directories and runs ``specc demo`` in each, the first
with the demo's defaults (two runs at a time, one torch thread each) on whatever load the machine has,
the second with two torch threads per run, one run at a time, beside ``--load`` busy-looping processes.
It then compares what the demo prints that must not depend on the machine: the shipped model's recorded
scores, the base scores every run measured, the side-by-side table and the conclusion. Exit 0 when they
are identical, 1 (with a diff) when they are not.

The second clone also runs on the kernels another CPU family would get: the libraries pick their code path
by the CPU's instruction set at run time, and the same variables that let a user cap it make this CPU take
an older family's path (``ATEN_CPU_CAPABILITY=default``: torch's own kernels without AVX2 vectorisation;
``DNNL_MAX_CPU_ISA=SSE41``: oneDNN; ``MKL_ENABLE_INSTRUCTIONS=SSE4_2`` and ``MKL_CBWR=COMPATIBLE``: MKL's BLAS).
Different kernels sum in a different order, which is where two machines' floating-point results part.

What this does NOT prove: it is still one torch build, one compiler's code and one CPU, and a newer
family's kernels (AVX-512, AMX) cannot be emulated on a CPU without them; that the tuned numbers agree here
is evidence, not proof, that they agree on another machine. The base scores are the firmer claim:
the same shipped bytes, greedy decoding in a fixed order, and a test that scoring with one and two threads
gives identical results (tests/test_tinymodel.py).

    python benchmarks/demo_repro.py [--load 2] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import difflib
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Run-time kernel selection capped at an older CPU family's instruction set (see the module docstring).
OLDER_CPU_KERNELS = {"ATEN_CPU_CAPABILITY": "default", "DNNL_MAX_CPU_ISA": "SSE41",
                     "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "MKL_CBWR": "COMPATIBLE"}


def comparable(output: str) -> tuple[list[str], list[str]]:
    """The lines of a demo's output that must not depend on the machine (no paths, no timings), as (firm, table).

    Firm: the shipped model's recorded scores, the base scores every run measured, each arm's verdict (bar met and
    gate passed, in runs), the conclusion and the LoRA-vs-full line: the issue's "same base scores and the same
    conclusion". Table: the side-by-side means ± spreads of the tuned models, whose last digit may move with
    floating-point summation order (another CPU's kernels); a difference there is shown, not failed."""
    firm, table, in_table = [], [], False
    for line in output.splitlines():
        s = line.strip()
        if s.startswith("[4/5]"):
            in_table = True
        elif s.startswith("[5/5]"):
            in_table = False
        if s.startswith(("general suite ", "Base scores measured ", "Conclusion:")) or (
                in_table and s.startswith(("(a) ", "(b) ", "(c) ", "bar met", "gate passed"))):
            firm.append(s)
        elif in_table and s and not s.startswith("["):
            table.append(s)
    return firm, table


def busy(stop_at: float) -> None:
    """One core's worth of load: a Python busy loop until ``stop_at``."""
    x = 0
    while time.time() < stop_at:
        x += 1


def run_clone(where: Path, extra_env: dict[str, str], extra_args: list[str],
              load: int) -> tuple[str, float, float]:
    """Clone, run the demo there; (its output, wall seconds, CPU seconds of the demo and all its runs)."""
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(where)], check=True)
    env = {**os.environ, "PYTHONPATH": str(where), "PYTHONUNBUFFERED": "1", **extra_env}
    env.pop("WANDB_API_KEY", None)
    loaders = [multiprocessing.Process(target=busy, args=(time.time() + 3600,), daemon=True) for _ in range(load)]
    for p in loaders:
        p.start()
    t0 = time.perf_counter()
    log = where / "demo.log"
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "specc", "demo", "--workdir",
                                     str(where / "out" / "demo"), *extra_args],
                                    cwd=where, env=env, stdout=out, stderr=subprocess.STDOUT)
            _pid, status, usage = os.wait4(proc.pid, 0)  # rusage covers the runs and stages it waited for
    finally:
        for p in loaders:
            p.terminate()
    seconds = time.perf_counter() - t0
    text = log.read_text(encoding="utf-8", errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"demo in {where} failed ({code}):\n{text[-4000:]}")
    return text, seconds, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", type=int, default=2, help="busy-looping processes beside the second clone's demo")
    ap.add_argument("--quick", action="store_true", help="a reduced demo (few steps, 2 seeds) to check the script")
    ap.add_argument("--keep", type=Path, default=None, help="clone under DIR and keep the clones")
    args = ap.parse_args(argv)
    extra = ["--max-steps", "4", "--seeds", "2"] if args.quick else []
    root = Path(args.keep or tempfile.mkdtemp(prefix="specc-repro-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    a, ta, ca = run_clone(root / "clone-a", {}, extra, 0)
    print(f"clone A (defaults: 2 runs at a time, 1 torch thread): {ta:.0f} s wall, {ca:.0f} s CPU; "
          f"load average now {os.getloadavg()[0]:.2f}", flush=True)
    b, tb, cb = run_clone(root / "elsewhere" / "clone-b", {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
                                                           **OLDER_CPU_KERNELS}, [*extra, "--jobs", "1"], args.load)
    print(f"clone B (1 run at a time, 2 torch threads, an older CPU family's kernels, {args.load} busy loops "
          f"beside it): {tb:.0f} s wall, "
          f"{cb:.0f} s CPU; "
          f"load average now {os.getloadavg()[0]:.2f}", flush=True)
    (fa, ta_lines), (fb, tb_lines) = comparable(a), comparable(b)
    if not fa:
        print("the demo printed none of the lines this script compares", file=sys.stderr)
        return 1
    if ta_lines != tb_lines:
        print("the tuned models' table differs in these digits (floating-point order; not failed):")
        print("\n".join(difflib.unified_diff(ta_lines, tb_lines, "clone A", "clone B", lineterm="", n=0)))
    else:
        print(f"the tuned models' table is identical too ({len(ta_lines)} lines)")
    if fa == fb:
        print(f"identical: {len(fa)} lines (recorded and measured base scores, each arm's verdict, the conclusion):")
        print("\n".join("  " + line for line in fa))
        return 0
    print("DIFFERENT:")
    print("\n".join(difflib.unified_diff(fa, fb, "clone A", "clone B", lineterm="")))
    return 1

if __name__ == "__main__":
    sys.exit(main())

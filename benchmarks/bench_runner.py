"""Runner overhead: ``specc run BUILD --only STAGE`` vs running the same emitted script by hand.

Why: the runner promises to add bookkeeping only (lock, hashing, manifest, log tee, progress parsing),
not time. Both commands run in one process tree of this benchmark, interleaved (by hand, runner, by hand,
runner, ...) so machine drift hits both equally, with the same environment (the runner's tracking env,
so W&B does the same work in both). Prints each repeat, the medians and their ratio (target <= 1.05x).

    python benchmarks/bench_runner.py BUILD_DIR --stage baseline --repeats 5

The stage's needs must have completed already (``specc run BUILD_DIR`` once); with ``--prepare`` the
benchmark runs the stages before STAGE itself first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", type=Path)
    ap.add_argument("--stage", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--prepare", action="store_true", help="run the stages before STAGE first")
    args = ap.parse_args(argv)

    from specc.run.runner import load_plan, stage_env  # light: no training stack

    build = args.build.resolve()
    plan = load_plan(build)
    stage = plan.stage(args.stage)
    if stage.launcher != "python":
        raise SystemExit(f"stage {stage.id} uses {stage.launcher}; the by-hand baseline here is `python script`")
    env = stage_env(build, plan)
    specc = [sys.executable, "-m", "specc", "run", str(build), "--only", stage.id]
    by_hand = [sys.executable, stage.script]
    if args.prepare:
        for earlier in plan.stages[: [s.id for s in plan.stages].index(stage.id)]:
            subprocess.run([sys.executable, "-m", "specc", "run", str(build), "--only", earlier.id], check=True)

    runner_s, hand_s = [], []
    for i in range(args.repeats):
        hand_s.append(_time(by_hand, build, env))
        runner_s.append(_time(specc, Path.cwd(), env))
        print(f"repeat {i + 1}: by hand {hand_s[-1]:.3f}s  specc run --only {runner_s[-1]:.3f}s", flush=True)
    med_r, med_h = statistics.median(runner_s), statistics.median(hand_s)
    result = {"stage": stage.id, "repeats": args.repeats, "median_by_hand_s": round(med_h, 3),
              "median_specc_run_s": round(med_r, 3), "ratio": round(med_r / med_h, 4),
              "min_ratio": round(min(runner_s) / min(hand_s), 4), "target": 1.05}
    print(json.dumps(result))
    print(f"ratio specc run / by hand = {med_r / med_h:.3f}x (target <= 1.05x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cold-start cost of `specc validate`, as a ratio against the import floor measured in the same run.

Baselines (each a fresh interpreter, like the command itself):
  floor      python -c "import pydantic, yaml"              (the issue's named baseline)
  floor+     python -c "from pydantic import BaseModel; import yaml"
             (`import pydantic` is lazy; any pydantic model needs BaseModel, so this is the real floor
              for a pydantic-based validator)
Measured:
  one spec   specc validate specs/sft-lora-tiny.yaml
  200 specs  specc validate <200 copies>   (one process)

Usage: python benchmarks/bench_validate.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Bytecode caching on, as on an installed machine (some sandboxes set PYTHONDONTWRITEBYTECODE, which makes
# every cold start recompile specc's sources: that measures the compiler, not specc).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(cmd: list[str], repeats: int) -> float:
    """Median wall time of a command over `repeats` runs (after one warm-up for the OS file cache)."""
    subprocess.run(cmd, check=False, capture_output=True, env=ENV)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=ENV)
        times.append(time.perf_counter() - t0)
        if proc.returncode not in (0,):
            raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout.decode()}{proc.stderr.decode()}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    specc = [py, "-m", "specc"]
    spec = REPO / "specs" / "sft-lora-tiny.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        many = []
        for i in range(200):
            target = Path(tmp) / f"spec{i:03d}.yaml"
            shutil.copy(spec, target)
            many.append(str(target))
        floor = wall([py, "-c", "import pydantic, yaml"], args.repeats)
        floor_model = wall([py, "-c", "from pydantic import BaseModel; import yaml"], args.repeats)
        one = wall(specc + ["validate", str(spec)], args.repeats)
        two_hundred = wall(specc + ["validate", *many], max(3, args.repeats // 3))
    print(f"floor  `import pydantic, yaml`                 {floor * 1000:7.1f} ms")
    print(f"floor+ `from pydantic import BaseModel; yaml`  {floor_model * 1000:7.1f} ms")
    print(f"specc validate, 1 spec                       {one * 1000:7.1f} ms   "
          f"{one / floor:5.2f}x floor   {one / floor_model:5.2f}x floor+   (target < 1.5x floor)")
    print(f"specc validate, 200 specs                    {two_hundred * 1000:7.1f} ms   "
          f"{two_hundred / floor:5.2f}x floor   {two_hundred / floor_model:5.2f}x floor+   "
          f"({(two_hundred - one) / 199 * 1000:.2f} ms per extra spec)")


if __name__ == "__main__":
    main()

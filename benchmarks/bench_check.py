"""Benchmark: `specc check` end to end against a bare `json.loads` pass over the same data (issue 11).

Why: `specc check` runs in CI on every pull request over the whole training set, so its cost must stay a
small multiple of merely reading the data. Target: at most 3x the `json.loads` pass for short and for long
rows, in one process, with peak memory independent of the training-data size.

Generates, deterministically (fixed seeds) into a temporary directory (never the repository):

* ``short.jsonl``  single-turn chats of about 300 bytes (a user question, an assistant answer);
* ``long.jsonl``   multi-turn chats of about 2-4 KB (a system prompt and 2-4 exchanges);
* ``golden.jsonl`` 1,000 prompt/completion rows, a few of them planted (re-cased, re-punctuated) in both
  training files so the firewall does real verification work;
* each training file also in a quarter-size copy (its first quarter), to show peak memory at two sizes.

The text is Zipf-distributed words with punctuation, capitals, numbers (some with digit groups), and the
non-ASCII characters real chat data is full of (curly quotes, dashes, accented words) in a few percent of
sentences; an email address or phone number shows up in about one row in a thousand (PII scan work).

For each row size it times, each in a fresh process, the baseline ``for line in f: json.loads(line)`` and
``python -m specc check SPEC`` (the real CLI: row validation, firewall scan and PII scan), and reports both
times, the ratio and check's peak RSS (from ``wait4``), at the full and the quarter size.
``--repeat`` runs each measurement that many times and keeps the fastest (shared machines are noisy).
``specc check`` runs with the C extension when it is built (``pip install -e .`` builds it,
:mod:`specc.contract.native`); the first line says which; ``SPECC_NATIVE=0`` measures the pure-Python fallback.

Usage: ``python benchmarks/bench_check.py [--mb 1000] [--repeat 1] [--keep DIR]``
(``--mb`` is the total over both row sizes: half each.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261130
GOLDEN_ROWS = 1000
PLANTED = 20
_EXTRA = ["caf\u00e9", "na\u00efve", "\u2014", "it\u2019s", "\u201cquoted\u201d", "M\u00fcller", "r\u00e9sum\u00e9",
          "\u2026", "se\u00f1or", "\u00bd"]
_PII = ["write to jane.doe@mailhost.org today", "call (415) 555-0132 after six", "ring +44 20 7946 0958 now"]


class _Text:
    """Zipf-ish words and sentences, deterministic per seed."""

    def __init__(self, seed: int, vocab_size: int = 30000):
        self.rng = random.Random(seed)
        letters = "abcdefghijklmnopqrstuvwxyz"
        words: set[str] = set()
        while len(words) < vocab_size:
            words.add("".join(self.rng.choices(letters, k=self.rng.randint(2, 10))))
        self.vocab = sorted(words)
        total, self.cum = 0.0, []
        for rank in range(1, vocab_size + 1):
            total += 1.0 / rank
            self.cum.append(total)

    def sentence(self, low: int = 6, high: int = 20) -> str:
        rng = self.rng
        words = rng.choices(self.vocab, cum_weights=self.cum, k=rng.randint(low, high))
        words[0] = words[0].capitalize()
        roll = rng.random()
        if roll < 0.05:
            words.insert(rng.randrange(len(words)), rng.choice(_EXTRA))
        elif roll < 0.12:
            words.insert(rng.randrange(len(words)), str(rng.choice((rng.randint(0, 99), rng.randint(1000, 99999)))))
        elif roll < 0.14:
            words.insert(rng.randrange(len(words)), f"{rng.randint(1, 999)},{rng.randint(0, 999):03d}")
        return " ".join(words) + rng.choice(".....?!:")

    def paragraph(self, chars: int) -> str:
        out, size = [], 0
        while size < chars:
            out.append(self.sentence())
            size += len(out[-1]) + 1
        return " ".join(out)


def _short_row(text: _Text) -> dict:
    return {"messages": [{"role": "user", "content": text.paragraph(70)},
                         {"role": "assistant", "content": text.paragraph(150)}]}


def _long_row(text: _Text) -> dict:
    rng = text.rng
    turns = [{"role": "system", "content": text.paragraph(120)}]
    for _ in range(rng.randint(2, 4)):
        turns.append({"role": "user", "content": text.paragraph(rng.randint(100, 300))})
        turns.append({"role": "assistant", "content": text.paragraph(rng.randint(300, 700))})
    return {"messages": turns}


def generate(directory: Path, megabytes: float) -> dict[str, Path]:
    """Write golden.jsonl and, per row size, the training file and its first-quarter copy."""
    gold = _Text(SEED + 1)
    golden = [{"prompt": gold.paragraph(rng_len), "completion": gold.paragraph(120)}
              for rng_len in (gold.rng.randint(60, 200) for _ in range(GOLDEN_ROWS))]
    paths = {"golden": directory / "golden.jsonl"}
    paths["golden"].write_text("".join(json.dumps(row) + "\n" for row in golden), encoding="utf-8")
    for kind, make in (("short", _short_row), ("long", _long_row)):
        text = _Text(SEED)
        target = int(megabytes * 1_000_000 / 2)
        plant_every = max(1, target // (300 if kind == "short" else 3000) // (PLANTED + 1))
        paths[kind] = directory / f"{kind}.jsonl"
        paths[kind + "_quarter"] = directory / f"{kind}_quarter.jsonl"
        written = rows = 0
        with open(paths[kind], "w", encoding="utf-8") as out, \
                open(paths[kind + "_quarter"], "w", encoding="utf-8") as quarter:
            while written < target:
                row = make(text)
                rows += 1
                if rows % plant_every == 0 and rows // plant_every <= PLANTED:
                    source = golden[(rows // plant_every) * 37 % GOLDEN_ROWS]["prompt"]
                    row["messages"][-2 if kind == "long" else 0]["content"] = \
                        "Note: " + source.upper().replace(".", " ;")
                elif rows % 997 == 0:
                    row["messages"][-1]["content"] += " " + _PII[rows % len(_PII)]
                line = json.dumps(row, ensure_ascii=False) + "\n"
                out.write(line)
                if written < target // 4:
                    quarter.write(line)
                written += len(line.encode("utf-8"))
    return paths


SPEC = """\
specc: 1
name: bench-check
goal: {{behaviours: [style], summary: Bench.}}
evidence: {{prompting: {{score: 0.1}}}}
base_model: {{id: meta-llama/Llama-3.1-8B-Instruct}}
data:
  train: {{path: {train}}}
  golden: {{path: golden.jsonl}}
eval: {{bar: 0.8}}
"""

BASELINE = "import json, sys\nwith open(sys.argv[1], encoding='utf-8') as f:\n    for line in f:\n        json.loads(line)\n"


def _timed(cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS (MB) of one fresh process, and its output."""
    # Bytecode caching on, as on an installed machine (a sandbox's PYTHONDONTWRITEBYTECODE would make every
    # run recompile specc's sources: that measures the compiler, not specc).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    output = proc.stdout.read().decode("utf-8", "replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{output[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output


def _best(repeat: int, cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, float, float, str]:
    runs = [_timed(cmd, ok) for _ in range(max(1, repeat))]
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs), runs[-1][3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1000.0, help="total training data in MB, half per row size")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest counts")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory instead of a temp dir")
    parser.add_argument("--sizes", default="short,long", help="row sizes to measure (short,long)")
    args = parser.parse_args()
    py = sys.executable
    tmp = None
    directory = args.keep
    if directory is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_check_")
        directory = Path(tmp.name)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        if (directory / "long_quarter.jsonl").exists() and args.keep:
            paths = {name: directory / f"{name}.jsonl" for name in
                     ("golden", "short", "short_quarter", "long", "long_quarter")}
            print(f"reusing data in {directory}")
        else:
            paths = generate(directory, args.mb)
            print(f"generated {args.mb:.0f} MB in {time.perf_counter() - start:.1f} s")
        (directory / "baseline.py").write_text(BASELINE, encoding="utf-8")
        sys.path.insert(0, str(ROOT))  # the checkout being measured (the child processes get it too)
        from specc.contract import native

        print(f"specc check: {'C extension' if native.ENABLED else 'pure Python (no C extension, or SPECC_NATIVE=0)'}")
        print("times: wall seconds, and CPU seconds (user+sys; steadier than wall on a shared machine)")
        print(f"{'rows':<7}{'size':>8}{'MB':>7}{'loads wall':>11}{'check wall':>11}{'ratio':>7}"
              f"{'loads CPU':>10}{'check CPU':>10}{'ratio':>7}{'check RSS MB':>13}{'loads RSS MB':>13}")
        for kind in args.sizes.split(","):
            for suffix, label in (("", "full"), ("_quarter", "quarter")):
                data = paths[kind + suffix]
                spec = directory / f"spec_{kind}{suffix}.yaml"
                spec.write_text(SPEC.format(train=data.name), encoding="utf-8")
                base_s, base_cpu, base_rss, _ = _best(args.repeat, [py, str(directory / "baseline.py"), str(data)])
                check_s, check_cpu, check_rss, out = _best(args.repeat, [py, "-m", "specc", "check", str(spec)],
                                                           ok=(0, 3))
                mb = data.stat().st_size / 1e6
                print(f"{kind:<7}{label:>8}{mb:>7.1f}{base_s:>11.2f}{check_s:>11.2f}{check_s / base_s:>6.2f}x"
                      f"{base_cpu:>10.2f}{check_cpu:>10.2f}{check_cpu / base_cpu:>6.2f}x{check_rss:>13.1f}"
                      f"{base_rss:>13.1f}", flush=True)
                if suffix == "":
                    verdict = [line for line in out.splitlines() if "golden set" in line or "personal data" in line]
                    print("        " + " | ".join(line.strip() for line in verdict[:3]))
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()

"""Benchmark: golden-set firewall throughput and peak memory vs lm-evaluation-harness.

Generates (deterministically, under a temp dir) a JSONL training corpus of chat and
prompt/completion rows over a varied synthetic vocabulary, plus a golden set of
~1.5k rows, a few of which are planted (re-cased, re-punctuated) in the corpus so
the scan does real verification work. Then measures, each in a fresh subprocess
(so peak RSS is that stage's alone):

* specc exact stage only, specc exact + n-gram stages (13-grams), single process;
* the same n-gram scan at a quarter of the corpus size, to show peak memory does
  not grow with the training set;
* the baseline: lm-evaluation-harness's ``Janitor`` (13-grams, pure-Python mode),
  contaminants registered from the golden rows, ``clean_python`` over every text
  field of the same corpus (the first ``--baseline-mb`` MB of it, since it is slow;
  throughput is per MB either way).

Prints MB/s (scan time includes reading and indexing the golden set), peak RSS
and the ratio against the baseline measured in this run; each measurement runs
``--repeat`` times and the fastest counts, since shared machines are noisy.
Usage: ``python benchmarks/bench_firewall.py [--mb 100] [--baseline-mb 10] [--repeat 3]``.
``lm_eval`` must be installed (``pip install --no-deps lm_eval``); only its
``decontamination/janitor.py`` module is loaded, by file, to avoid its heavy imports.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOLDEN_ROWS = 1500
PLANTED = 40
SEED = 20261129


def _vocabulary(rng: random.Random, size: int = 30000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set()
    while len(words) < size:
        words.add("".join(rng.choices(letters, k=rng.randint(2, 11))))
    return sorted(words)


class _Text:
    """Zipf-ish sentences with punctuation and casing, deterministic per seed."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        vocab = _vocabulary(self.rng)
        self.vocab = vocab
        self.cum = []
        total = 0.0
        for rank in range(1, len(vocab) + 1):
            total += 1.0 / rank
            self.cum.append(total)

    def sentence(self, low: int, high: int) -> str:
        words = self.rng.choices(self.vocab, cum_weights=self.cum, k=self.rng.randint(low, high))
        words[0] = words[0].capitalize()
        return " ".join(words) + self.rng.choice(".?!")

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.sentence(6, 22) for _ in range(sentences))


def _row(text: _Text) -> dict:
    rng = text.rng
    if rng.random() < 0.5:
        return {
            "messages": [
                {"role": "system", "content": text.sentence(5, 12)},
                {"role": "user", "content": text.paragraph(rng.randint(1, 4))},
                {"role": "assistant", "content": text.paragraph(rng.randint(2, 8))},
            ]
        }
    return {"prompt": text.paragraph(rng.randint(1, 3)), "completion": text.paragraph(rng.randint(2, 8))}


def generate(directory: Path, megabytes: float) -> tuple[Path, Path, Path]:
    """Write golden.jsonl, train.jsonl (``megabytes`` MB) and train_quarter.jsonl (first quarter)."""
    golden_text = _Text(SEED + 1)
    golden = [
        {"prompt": golden_text.paragraph(2), "completion": golden_text.paragraph(golden_text.rng.randint(1, 3))}
        for _ in range(GOLDEN_ROWS)
    ]
    golden_path = directory / "golden.jsonl"
    golden_path.write_text("".join(json.dumps(row) + "\n" for row in golden), encoding="utf-8")
    text = _Text(SEED)
    target = int(megabytes * 1_000_000)
    plant_every = max(1, target // 1200 // (PLANTED + 1))
    train_path = directory / "train.jsonl"
    quarter_path = directory / "train_quarter.jsonl"
    written = 0
    rows = 0
    with open(train_path, "w", encoding="utf-8") as out, open(quarter_path, "w", encoding="utf-8") as quarter:
        while written < target:
            row = _row(text)
            rows += 1
            if rows % plant_every == 0 and rows // plant_every <= PLANTED:
                source = golden[(rows // plant_every) * 37 % GOLDEN_ROWS]["prompt"]
                row = {"prompt": "Note: " + source.upper().replace(".", " ;"), "completion": text.paragraph(2)}
            line = json.dumps(row) + "\n"
            out.write(line)
            if written < target // 4:
                quarter.write(line)
            written += len(line)
    return golden_path, train_path, quarter_path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _worker_specc(golden: str, train: str, stage: str) -> dict:
    from specc.contract.firewall import FirewallSettings, InputFile, scan

    settings = FirewallSettings(ngrams=stage == "ngram")
    start = time.perf_counter()
    report = scan(InputFile(golden, "golden.jsonl", "golden"), [InputFile(train, "train.jsonl")], settings)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "bytes": os.path.getsize(train),
        "contaminated": report.contaminated_rows,
        "hits": report.total_hits,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _load_janitor():
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("lm_eval is not installed: pip install --no-deps lm_eval")
    path = Path(list(spec.submodule_search_locations)[0]) / "decontamination" / "janitor.py"
    module_spec = importlib.util.spec_from_file_location("lm_eval_janitor", path)
    module = importlib.util.module_from_spec(module_spec)
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        module_spec.loader.exec_module(module)  # prints a warning when its C++ helper is absent
    return module.Janitor


def _worker_janitor(golden: str, train: str, limit_mb: float) -> dict:
    from specc.contract.fields import text_values

    janitor = _load_janitor()(ngram_n=13)
    with open(golden, encoding="utf-8") as handle:
        for line in handle:
            for text in text_values(json.loads(line), []):
                janitor.register_contaminant(text)
    limit = int(limit_mb * 1_000_000)
    read = 0
    dirty = 0
    start = time.perf_counter()
    with open(train, "rb") as handle:
        for raw in handle:
            read += len(raw)
            for text in text_values(json.loads(raw), []):
                if len(janitor.clean_python(text)) != 1:
                    dirty += 1
            if read >= limit:
                break
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": read, "dirty_fields": dirty, "peak_rss_mb": _peak_rss_mb()}


def _run_worker(repeat: int, *args: str) -> dict:
    """Run one measurement ``repeat`` times in fresh processes; keep the fastest (least
    disturbed by other load on the machine) and the largest peak RSS."""
    runs = []
    for _ in range(max(1, repeat)):
        output = subprocess.run(
            [sys.executable, __file__, "--worker", *args], check=True, capture_output=True, text=True
        ).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    best = min(runs, key=lambda run: run["seconds"])
    best["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="training corpus size in MB (default 100)")
    parser.add_argument("--baseline-mb", type=float, default=10.0, help="MB of the corpus the baseline scans")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest counts (default 3)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, golden, train, extra = args.worker
        result = (
            _worker_janitor(golden, train, float(extra)) if kind == "janitor" else _worker_specc(golden, train, extra)
        )
        print(json.dumps(result, sort_keys=True))
        return

    with tempfile.TemporaryDirectory(prefix="bench_firewall_") as tmp:
        start = time.perf_counter()
        golden, train, quarter = generate(Path(tmp), args.mb)
        size = train.stat().st_size / 1e6
        print(f"corpus: {size:.1f} MB training JSONL, {GOLDEN_ROWS} golden rows, {PLANTED} planted "
              f"(generated in {time.perf_counter() - start:.1f} s)")
        results = {}
        for label, train_path, stage in (
            ("specc exact", train, "exact"),
            ("specc exact+ngram", train, "ngram"),
            ("specc exact+ngram (1/4 corpus)", quarter, "ngram"),
        ):
            results[label] = _run_worker(args.repeat, "specc", str(golden), str(train_path), stage)
        results["lm-eval Janitor (13-gram)"] = _run_worker(
            args.repeat, "janitor", str(golden), str(train), str(args.baseline_mb)
        )
        baseline = results["lm-eval Janitor (13-gram)"]
        base_rate = baseline["bytes"] / 1e6 / baseline["seconds"]
        print(f"{'stage':<34}{'MB':>8}{'seconds':>10}{'MB/s':>9}{'peak RSS MB':>13}{'x baseline':>12}")
        for label, result in results.items():
            rate = result["bytes"] / 1e6 / result["seconds"]
            print(f"{label:<34}{result['bytes'] / 1e6:>8.1f}{result['seconds']:>10.2f}{rate:>9.1f}"
                  f"{result['peak_rss_mb']:>13.1f}{rate / base_rate:>12.1f}")
        full, part = results["specc exact+ngram"], results["specc exact+ngram (1/4 corpus)"]
        print(f"contaminated golden rows found: {full['contaminated']} (planted {PLANTED}); "
              f"peak RSS full/quarter corpus: {full['peak_rss_mb']:.1f}/{part['peak_rss_mb']:.1f} MB")


if __name__ == "__main__":
    main()

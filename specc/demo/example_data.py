"""The small data shipped with the example specs (``specs/data/``), generated deterministically.

Why generated rather than hand-written: the demo's numbers only mean something if the narrow task, the
golden set, the preference pairs and the general suites are disjoint by construction and match the tiny
base model's synthetic world (``specc.demo.corpus``). The files are committed so a reviewer can read
them and ``specc plan`` works on a fresh checkout; a test regenerates them and compares bytes.

Run ``python -m specc.demo.example_data specs/data`` to rewrite them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from specc.demo import corpus, suite_data

N_TRAIN, N_GOLDEN, N_PREFERENCE, N_PROMPTS = 400, 60, 200, 120
N_REPLAY = 400
"""General examples for the replay remedy (rule CONTRACT-FORGETTING-REMEDY), written to ``general.jsonl``: as
many as the task's rows (the remedy spec replays them at ``data.replay.ratio: 0.5``), drawn like the base
model's pretraining data, never a suite's row."""


def general_examples(n_replay: int = N_REPLAY) -> list[corpus.Example]:
    """``n_replay`` general examples (another seed than pretraining); the file is byte-identical on every machine.

    Drawn like pretraining, so replay rehearses what the base model learned (the remedy's mechanism), but no
    example holds a suite's prompt, not even inside a longer one: excluding only the suites' exact prompts let
    "What is the capital of Thvetor?" carry the heldout-nll row "capital of Thvetor?" (found by ``specc
    check``'s suite-overlap scan), and training on a suite's own row would flatter the gate of the arm that
    replays. The same fact under a phrasing that does not contain a suite row stays: that is rehearsal.
    """
    held = corpus.held_out_split(seed=0)
    asked = [ex.prompt.casefold() for ex in held]
    pool = corpus.pretraining_split(n_replay * 4, seed=1, held_out=held)
    kept = [ex for ex in pool if not any(prompt in ex.prompt.casefold() for prompt in asked)]
    if len(kept) < n_replay:
        raise RuntimeError(f"only {len(kept)} general examples avoid the suites' prompts; {n_replay} wanted")
    return kept[:n_replay]


def _rejected(example: corpus.Example) -> str:
    """A plausible wrong answer: the right content without the house format (what DPO learns to avoid)."""
    return example.prompt[len("ticket: "):]


def write_example_data(out_dir: str | Path) -> dict[str, Path]:
    """Write every data file the example specs name. Returns name → path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    examples = list(corpus.narrow_task_examples(N_TRAIN + N_GOLDEN + N_PREFERENCE + N_PROMPTS, seed=0))
    train = examples[:N_TRAIN]
    golden = examples[N_TRAIN : N_TRAIN + N_GOLDEN]
    preference = examples[N_TRAIN + N_GOLDEN : N_TRAIN + N_GOLDEN + N_PREFERENCE]
    prompts = examples[N_TRAIN + N_GOLDEN + N_PREFERENCE :]
    paths = {
        "narrow_train": corpus.write_chat(out / "narrow_train.jsonl", train),
        "general": corpus.write_chat(out / "general.jsonl", general_examples()),
        "narrow_golden": corpus.write_chat(out / "narrow_golden.jsonl", golden),
        "preference": corpus.write_jsonl(
            out / "preference.jsonl",
            ({"prompt": ex.prompt, "chosen": ex.completion, "rejected": _rejected(ex)} for ex in preference),
        ),
        # the golden examples as pairs: a reward model's held-out pairwise accuracy (method: reward)
        "preference_golden": corpus.write_jsonl(
            out / "preference_golden.jsonl",
            ({"prompt": ex.prompt, "chosen": ex.completion, "rejected": _rejected(ex)} for ex in golden),
        ),
        "prompts": corpus.write_jsonl(out / "prompts.jsonl", ({"prompt": ex.prompt} for ex in prompts)),
        # prompts with their expected answer, for GRPO's exact-answer reward
        "prompts_with_answers": corpus.write_jsonl(
            out / "prompts_with_answers.jsonl", ({"prompt": ex.prompt, "answer": ex.completion} for ex in prompts)),
        # the same judgements unpaired (KTO): each answer alone, labelled good or bad
        "labelled_answers": corpus.write_jsonl(
            out / "labelled_answers.jsonl",
            (row for ex in preference for row in ({"prompt": ex.prompt, "completion": ex.completion, "label": True},
                                                  {"prompt": ex.prompt, "completion": _rejected(ex), "label": False})),
        ),
    }
    paths.update(suite_data.write_general_suites(out))
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "specs/data")
    for name, path in sorted(write_example_data(target).items()):
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

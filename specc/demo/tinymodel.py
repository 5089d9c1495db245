"""The built-in tiny base model: a small Llama pretrained locally on the synthetic corpus.

specc's demo and CI cannot download a model, yet the pipeline they exercise (baseline suites → SFT →
forgetting gate) only means something if the base model *has* abilities that a tune can preserve or
destroy. So we train one: a byte-level BPE tokenizer and a Llama-style decoder, pretrained on
:mod:`specc.demo.corpus` rendered through the same chat template that TRL later uses.

The output directory loads with ``AutoModelForCausalLM`` / ``AutoTokenizer`` exactly like a hub model,
so emitted scripts need no special case for it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from specc.demo import corpus

BOS, EOS, PAD, USER, ASSISTANT = "<s>", "<|end|>", "<pad>", "<|user|>", "<|assistant|>"

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|assistant|>{% generation %}{{ message['content'] }}<|end|>{% endgeneration %}"
    "{% else %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
"""Role markers are special tokens, so a prompt rendered with ``add_generation_prompt`` always ends on
a token boundary and prompt + completion tokenises as prompt tokens + completion tokens (what TRL's
prompt/completion path requires). ``{% generation %}`` marks what assistant-only loss trains on; the
end token is inside it so the model learns to stop."""


@dataclass(frozen=True)
class TinyRecipe:
    """Everything that determines the built model; its hash names the cache directory."""

    size: str
    seed: int
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    n_examples: int
    steps: int
    batch_size: int
    lr: float
    corpus_version: str = corpus.CORPUS_VERSION

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def recipe_for(size: str, seed: int = 0) -> TinyRecipe:
    """``test``: seconds, for CI (abilities barely above chance). ``demo``: about two minutes on two
    cores, and real abilities on the general suites."""
    if size == "test":
        return TinyRecipe(size, seed, vocab_size=400, hidden_size=64, num_layers=2, num_heads=4,
                          intermediate_size=128, n_examples=4000, steps=60, batch_size=32, lr=3e-3)
    if size == "demo":
        return TinyRecipe(size, seed, vocab_size=512, hidden_size=128, num_layers=4, num_heads=4,
                          intermediate_size=384, n_examples=100000, steps=1600, batch_size=64, lr=3e-3)
    raise ValueError(f"unknown tiny model size {size!r}; use 'test' or 'demo'")


def _train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE with digits split one per token (arithmetic must not hinge on merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS, USER, ASSISTANT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   unk_token=None, additional_special_tokens=[USER, ASSISTANT])
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "right"
    return fast


def _encode(tokenizer, examples: list[corpus.Example]) -> list[list[int]]:
    rendered = [tokenizer.apply_chat_template(ex.as_messages()["messages"], tokenize=False) for ex in examples]
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]


def _pretrain(model, sequences: list[list[int]], recipe: TinyRecipe, pad_id: int,
              progress: Callable[[str], None] | None) -> float:
    """Plain torch loop: for a model this small, Trainer's overhead costs more than the maths.
    Loss covers every token (this is pretraining); padding is masked out."""
    import torch

    g = torch.Generator().manual_seed(recipe.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = max(1, recipe.steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, recipe.steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    ema = None
    for step in range(recipe.steps):
        idx = torch.randint(len(sequences), (recipe.batch_size,), generator=g).tolist()
        batch = [sequences[i] for i in idx]
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        for row, s in enumerate(batch):
            ids[row, : len(s)] = torch.tensor(s)
        mask = (ids != pad_id).long()
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        ema = loss.item() if ema is None else 0.9 * ema + 0.1 * loss.item()
        if progress and (step % 100 == 0 or step == recipe.steps - 1):
            progress(f"step {step + 1}/{recipe.steps} loss {ema:.3f}")
    model.eval()
    return float(ema if ema is not None else float("nan"))


def build_tiny_base(out_dir: str | Path, *, size: str = "demo", seed: int = 0,
                    progress: Callable[[str], None] | None = None, score_suites: bool = True) -> Path:
    """Train tokenizer + model from scratch and save them (and ``specc_tiny.json``) to ``out_dir``.

    Deterministic for a given recipe on a given machine (seeded data, init and batch order).
    ``specc_tiny.json`` records the recipe, corpus hash, final loss and, when ``score_suites``, the
    general-suite scores, so a reviewer can see what the base model can do without loading it.
    """
    import torch

    recipe = recipe_for(size, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(_build_threads())
    try:
        return _build(out, recipe, seed, progress, score_suites)
    finally:
        torch.set_num_threads(previous_threads)


def _build_threads() -> int:
    """One intra-op thread unless ``SPECC_THREADS`` says otherwise. Measured on a shared 2-core box
    under load: the test-size pretraining took 2.9 s on 1 thread and 48 s on 2 (OpenMP threads spin
    when cores are oversubscribed), and matrices this small gain little from a second thread. A fixed
    count also keeps the float results, hence the saved weights, reproducible."""
    return max(1, int(os.environ.get("SPECC_THREADS", "1")))


def _build(out: Path, recipe: TinyRecipe, seed: int, progress: Callable[[str], None] | None,
           score_suites: bool) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    started = time.perf_counter()

    held_out = corpus.held_out_split(seed=seed)
    examples = corpus.pretraining_split(recipe.n_examples, seed=seed, held_out=held_out)
    texts = [f"{ex.prompt} {ex.completion}" for ex in examples]
    tokenizer = _train_tokenizer(texts, recipe.vocab_size)
    sequences = _encode(tokenizer, examples)

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=recipe.hidden_size, intermediate_size=recipe.intermediate_size,
        num_hidden_layers=recipe.num_layers, num_attention_heads=recipe.num_heads,
        num_key_value_heads=recipe.num_heads, max_position_embeddings=128, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, rope_theta=10000.0,
    )
    model = LlamaForCausalLM(config)
    final_loss = _pretrain(model, sequences, recipe, tokenizer.pad_token_id, progress)
    train_seconds = time.perf_counter() - started

    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)

    info: dict = {
        "recipe": asdict(recipe),
        "recipe_digest": recipe.digest(),
        "corpus_sha256": corpus.corpus_hash(examples),
        "held_out_sha256": corpus.corpus_hash(held_out),
        "final_loss": round(final_loss, 4),
        "n_parameters": sum(p.numel() for p in model.parameters()),
    }
    if score_suites:
        info["general_suites"] = score_general_suites(model, tokenizer, seed=seed)
    if progress:
        progress(f"pretrained in {train_seconds:.1f}s, final loss {final_loss:.3f}")
    (out / "specc_tiny.json").write_text(json.dumps(info, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return out


def score_general_suites(model, tokenizer, seed: int = 0) -> dict[str, dict]:
    """Score ``model`` on the tiny world's general suites (held out from pretraining): name -> result dict."""
    from specc.demo import suite_data
    from specc.runtime import suites

    with tempfile.TemporaryDirectory() as tmp:
        paths = suite_data.write_general_suites(tmp, seed=seed)
        return {spec.name: suites.evaluate_suite(model, tokenizer, spec).to_dict()
                for spec in suite_data.general_suite_specs(paths)}


def rescore(model_dir: str | Path) -> dict[str, dict]:
    """Load a saved tiny model and score its general suites on this machine (one thread, as when built)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    previous = torch.get_num_threads()
    torch.set_num_threads(_build_threads())
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        model.eval()
        return score_general_suites(model, AutoTokenizer.from_pretrained(model_dir))
    finally:
        torch.set_num_threads(previous)


def default_cache_dir() -> Path:
    return Path(os.environ.get("SPECC_CACHE") or Path.home() / ".cache" / "specc")


def ensure_tiny_base(size: str = "demo", cache_dir: str | Path | None = None, *, seed: int = 0,
                     progress: Callable[[str], None] | None = None) -> Path:
    """Return the cached tiny base model for ``size``, building it on first use.

    Builders work in a private temp dir and publish with an atomic rename, so concurrent builders
    (pytest-xdist workers, parallel CI jobs) never see or leave a half-written model; the loser of
    the race discards its copy.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / f"tiny-base-{size}-{recipe_for(size, seed).digest()}"
    if (final / "specc_tiny.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".building-{final.name}-", dir=root))
    try:
        build_tiny_base(tmp, size=size, seed=seed, progress=progress)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "specc_tiny.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


SHIPPED_DIR = Path(__file__).resolve().parent / "tiny_base"
"""The demo-size base model shipped inside the package: weights, tokenizer and ``specc_tiny.json``.

Why ship weights: float results differ across machines even with fixed seeds and one thread (the same
recipe scored arithmetic 0.438 on one machine and 0.562 on another), so a model rebuilt per machine tells a
different story on each. Shipping the bytes makes every machine start from the same model; ``specc
tiny-model --rebuild`` still rebuilds it from the recipe, and a test compares the rebuilt scores with the
shipped ones within :data:`REBUILD_TOLERANCE`."""

SHIPPED_FILES = ("chat_template.jinja", "config.json", "generation_config.json", "model.safetensors", "specc_tiny.json",
                 "tokenizer.json", "tokenizer_config.json")

REBUILD_TOLERANCE = {"exact_match": 0.15, "multiple_choice": 0.15, "perplexity_rel": 0.10}
"""How far a rebuilt model's suite scores may sit from the shipped ones: the same recipe on another CPU
gave arithmetic 0.438 vs 0.562 (suites of 48-80 rows, standard error about 0.06), so ±0.15 absolute for
accuracy suites; held-out perplexity within 10%."""


def shipped_tiny_base(size: str = "demo") -> Path | None:
    """The shipped model for ``size`` when it is present and was built from today's recipe and corpus."""
    card = SHIPPED_DIR / "specc_tiny.json"
    if not card.is_file():
        return None
    info = json.loads(card.read_text(encoding="utf-8"))
    if info.get("recipe_digest") != recipe_for(size).digest():
        return None
    return SHIPPED_DIR


def tiny_base(size: str = "demo", *, progress: Callable[[str], None] | None = None) -> Path:
    """The model the demo uses: the shipped one when it matches ``size``'s recipe, else the cached build."""
    return shipped_tiny_base(size) or ensure_tiny_base(size, progress=progress)


def compare_scores(shipped: dict, rebuilt: dict) -> list[str]:
    """Suites whose rebuilt score is outside :data:`REBUILD_TOLERANCE` of the shipped one (empty: agree)."""
    problems = []
    for name, s in sorted(shipped.items()):
        r = rebuilt.get(name)
        if r is None:
            problems.append(f"{name}: missing from the rebuilt model")
            continue
        a, b = float(s["score"]), float(r["score"])
        if s.get("kind") == "perplexity" or s.get("metric") in ("perplexity", "nll"):
            ok = abs(b - a) <= REBUILD_TOLERANCE["perplexity_rel"] * abs(a)
            limit = f"{REBUILD_TOLERANCE['perplexity_rel']:.0%} relative"
        else:
            ok = abs(b - a) <= REBUILD_TOLERANCE.get(str(s.get("kind")), 0.15)
            limit = f"{REBUILD_TOLERANCE.get(str(s.get('kind')), 0.15)} absolute"
        if not ok:
            problems.append(f"{name}: shipped {a:.3f}, rebuilt {b:.3f} (tolerance {limit})")
    return problems


def rebuild(out: str | Path | None = None, *, size: str = "demo", seed: int = 0,
            progress: Callable[[str], None] | None = None) -> tuple[Path, list[str]]:
    """Rebuild the model from its recipe (into ``out``, default the cache) and compare its suite scores
    with the shipped model's; returns the directory and the suites outside tolerance."""
    if out is None:
        out = default_cache_dir() / f"tiny-base-{size}-{recipe_for(size, seed).digest()}-rebuilt"
    path = build_tiny_base(out, size=size, seed=seed, progress=progress)
    shipped = shipped_tiny_base(size)
    if shipped is None or seed != 0:
        return path, []
    ship = json.loads((shipped / "specc_tiny.json").read_text(encoding="utf-8")).get("general_suites") or {}
    built = json.loads((path / "specc_tiny.json").read_text(encoding="utf-8")).get("general_suites") or {}
    return path, compare_scores(ship, built)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m specc.demo.tinymodel",
                                     description="Build specc's tiny local base model.")
    parser.add_argument("--size", choices=("test", "demo"), default="demo")
    parser.add_argument("--out", help="output directory (default: the shared cache)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    say = lambda msg: print(msg, flush=True)  # noqa: E731
    if args.out:
        path = build_tiny_base(args.out, size=args.size, seed=args.seed, progress=say)
    else:
        path = ensure_tiny_base(args.size, seed=args.seed, progress=say)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

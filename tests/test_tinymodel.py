"""The synthetic corpus and the built-in tiny base model (test size, built once per module)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specc.demo import corpus

from specc.demo.tinymodel import CHAT_TEMPLATE, build_tiny_base, ensure_tiny_base, recipe_for

try:  # the corpus tests below run without the training stack; the model tests need it
    import torch
    import transformers  # noqa: F401
except ImportError:  # pragma: no cover - exercised on light CI images
    torch = None
needs_stack = pytest.mark.skipif(torch is None, reason="needs the train extra (torch, transformers, trl)")

MESSAGES = [{"role": "user", "content": "copy: a b c"}, {"role": "assistant", "content": "a b c"}]


# ---------------------------------------------------------------- corpus (light)

def test_corpus_same_seed_same_bytes(tmp_path):
    a = corpus.write_prompt_completion(tmp_path / "a.jsonl", corpus.pretraining_split(500, seed=3))
    b = corpus.write_prompt_completion(tmp_path / "b.jsonl", corpus.pretraining_split(500, seed=3))
    c = corpus.write_prompt_completion(tmp_path / "c.jsonl", corpus.pretraining_split(500, seed=4))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert corpus.dumps_jsonl([{"b": 1, "a": 2}]) == '{"a": 2, "b": 1}\n'


def test_corpus_covers_every_skill_and_formats(tmp_path):
    examples = corpus.pretraining_split(2000, seed=0)
    assert {ex.skill for ex in examples} == set(corpus.SKILLS)
    chat = corpus.write_chat(tmp_path / "chat.jsonl", examples[:3]).read_text().splitlines()
    row = json.loads(chat[0])
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    mc = corpus.capital_choice_rows([ex for ex in corpus.held_out_split() if ex.skill == "capital"])
    assert all(r["choices"][r["answer"]] == corpus.fact_table()[_country(r["prompt"])] for r in mc)
    assert all(len(set(r["choices"])) == 4 for r in mc)


def _country(prompt: str) -> str:
    return next(c for c in corpus.fact_table() if c in prompt)


def test_pretraining_and_held_out_share_no_rows():
    held = corpus.held_out_split(seed=0)
    pre = corpus.pretraining_split(20000, seed=0, held_out=held)
    assert not {ex.prompt for ex in held} & {ex.prompt for ex in pre}
    assert len({ex.prompt for ex in held}) == len(held)
    # every fact is still taught, under other phrasings
    taught = {_country(ex.prompt) for ex in pre if ex.skill == "capital"}
    assert taught == set(corpus.fact_table())
    narrow = {ex.prompt for ex in corpus.narrow_task_examples(100, seed=0)}
    assert not narrow & ({ex.prompt for ex in held} | {ex.prompt for ex in pre})


def test_corpus_module_is_light():
    code = ("import sys, specc.demo.corpus, specc.demo.tinymodel; heavy = {'torch', 'transformers', "
            "'tokenizers', 'trl', 'peft', 'datasets', 'wandb', 'bitsandbytes'} & set(sys.modules); "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_size_is_rejected():
    with pytest.raises(ValueError, match="unknown tiny model size"):
        recipe_for("huge")


# ---------------------------------------------------------------- the model

@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("specc-cache")


@pytest.fixture(scope="module")
def tiny(cache_dir) -> Path:
    return ensure_tiny_base("test", cache_dir=cache_dir)


@needs_stack
def test_saves_and_loads_like_a_hub_model(tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny)
    tok = AutoTokenizer.from_pretrained(tiny)
    assert model.config.model_type == "llama"
    assert tok.pad_token and tok.eos_token and tok.bos_token and tok.pad_token_id != tok.eos_token_id
    assert tok.chat_template == CHAT_TEMPLATE
    ids = tok("12+7=", add_special_tokens=False)["input_ids"]
    assert [tok.decode([i]) for i in ids][:2] == ["1", "2"]  # digits are one token each
    out = model(**tok(["copy: a b"], return_tensors="pt"))
    assert out.logits.shape[-1] == len(tok)


@needs_stack
def test_build_record_is_deterministic_and_path_free(tiny):
    info_text = (tiny / "specc_tiny.json").read_text()
    info = json.loads(info_text)
    assert info["recipe"]["size"] == "test" and info["final_loss"] > 0
    assert set(info["general_suites"]) == {"arithmetic", "copy_reverse", "formatting", "capitals", "heldout_nll"}
    assert str(tiny) not in info_text and "/tmp" not in info_text
    assert info_text == json.dumps(info, sort_keys=True, indent=2) + "\n"


@needs_stack
def test_build_is_reproducible(tmp_path):
    from safetensors.torch import load_file

    a = build_tiny_base(tmp_path / "a", size="test", seed=1, score_suites=False)
    b = build_tiny_base(tmp_path / "b", size="test", seed=1, score_suites=False)
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()


@needs_stack
def test_cache_hit_does_not_rebuild(tiny, cache_dir):
    stamp = (tiny / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_base("test", cache_dir=cache_dir) == tiny
    assert (tiny / "model.safetensors").stat().st_mtime_ns == stamp
    assert tiny.name.startswith("tiny-base-test-")
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".building")]


@needs_stack
def test_chat_template_marks_assistant_tokens(tiny):
    from transformers import AutoTokenizer
    from trl.chat_template_utils import is_chat_template_stop_token_trained

    tok = AutoTokenizer.from_pretrained(tiny)
    enc = tok.apply_chat_template(MESSAGES, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    masked = [i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tok.decode(masked) == "a b c<|end|>"
    assert is_chat_template_stop_token_trained(tok)
    # prompt and completion meet on a token boundary
    prompt = tok.apply_chat_template(MESSAGES[:1], tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(MESSAGES, tokenize=False)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    f_ids = tok(full, add_special_tokens=False)["input_ids"]
    assert f_ids[: len(p_ids)] == p_ids


@needs_stack
@pytest.mark.parametrize("fmt", ["messages", "prompt_completion"])
def test_trl_sft_runs_on_the_tiny_model(tiny, tmp_path, fmt):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    examples = list(corpus.narrow_task_examples(24, seed=0))
    if fmt == "messages":
        rows = [ex.as_messages() for ex in examples]
        extra = {"assistant_only_loss": True}
    else:  # conversational prompt/completion: loss on the completion only
        rows = [{"prompt": [{"role": "user", "content": ex.prompt}],
                 "completion": [{"role": "assistant", "content": ex.completion}]} for ex in examples]
        extra = {}
    model = AutoModelForCausalLM.from_pretrained(tiny)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = SFTConfig(output_dir=str(tmp_path / "out"), max_steps=3, per_device_train_batch_size=8,
                     learning_rate=1e-3, bf16=False, use_cpu=True, report_to=[], save_strategy="no",
                     logging_steps=1, max_length=64, **extra)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=AutoTokenizer.from_pretrained(tiny))
    batch = next(iter(trainer.get_train_dataloader()))
    labels = batch["labels"][0]
    trained = labels[labels != -100].tolist()
    tok = trainer.processing_class
    assert tok.decode(trained) == examples_completion_for(batch, tok) + "<|end|>"
    result = trainer.train()
    assert result.global_step == 3 and torch.isfinite(torch.tensor(result.training_loss))
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())


def examples_completion_for(batch, tok) -> str:
    """The completion of the first row in a collated batch, recovered from its (unmasked) input."""
    text = tok.decode([i for i in batch["input_ids"][0].tolist() if i != tok.pad_token_id])
    return text.split("<|assistant|>", 1)[1].removesuffix("<|end|>")


@needs_stack
@pytest.mark.slow
def test_concurrent_builders_share_one_cache_entry(tmp_path):
    env = {**os.environ, "SPECC_CACHE": str(tmp_path)}
    cmd = [sys.executable, "-m", "specc.demo.tinymodel", "--size", "test", "--seed", "5"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    paths = {o.strip().splitlines()[-1] for o, _ in outs}
    assert len(paths) == 1
    assert [p.name for p in tmp_path.iterdir()] == [Path(paths.pop()).name]


# ---------------------------------------------------------------- the shipped demo model

from specc.demo import tinymodel  # noqa: E402


def test_shipped_model_is_complete_small_and_from_todays_recipe_and_corpus():
    """Every machine starts from these bytes; they must be the recipe and corpus the code would rebuild."""
    assert tinymodel.shipped_tiny_base("demo") == tinymodel.SHIPPED_DIR
    assert tinymodel.shipped_tiny_base("test") is None  # the test size is built, in seconds
    for name in tinymodel.SHIPPED_FILES:
        assert (tinymodel.SHIPPED_DIR / name).is_file(), name
    assert sum(p.stat().st_size for p in tinymodel.SHIPPED_DIR.iterdir()) < 6_000_000
    info = json.loads((tinymodel.SHIPPED_DIR / "specc_tiny.json").read_text())
    recipe = recipe_for("demo")
    assert info["recipe"]["size"] == "demo" and info["recipe_digest"] == recipe.digest()
    held = corpus.held_out_split(seed=0)
    assert info["held_out_sha256"] == corpus.corpus_hash(held)
    assert info["corpus_sha256"] == corpus.corpus_hash(corpus.pretraining_split(recipe.n_examples, seed=0,
                                                                                held_out=held))
    assert set(info["general_suites"]) == {"arithmetic", "copy_reverse", "formatting", "capitals", "heldout_nll"}


def test_tiny_model_command_names_the_shipped_model_without_training():
    code = ("import sys; from specc.cli.main import main\n"
            "try:\n    main(['tiny-model'])\nexcept SystemExit:\n    pass\n"
            "print('HEAVY:' + ' '.join(sorted(m for m in ('torch', 'transformers') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == str(tinymodel.SHIPPED_DIR)
    assert out.splitlines()[-1] == "HEAVY:"


@needs_stack
def test_shipped_model_scores_as_recorded_on_this_machine():
    """Same bytes, same suites: the recorded scores are what this machine measures (a greedy flip on a
    row or two at most, hence the small tolerance)."""
    info = json.loads((tinymodel.SHIPPED_DIR / "specc_tiny.json").read_text())
    now = tinymodel.rescore(tinymodel.SHIPPED_DIR)
    for name, rec in info["general_suites"].items():
        tol = 0.01 * abs(rec["score"]) if rec["kind"] == "perplexity" else 2.5 / rec["n"]
        assert abs(now[name]["score"] - rec["score"]) <= tol, (name, rec["score"], now[name]["score"])


def test_score_comparison_flags_only_what_is_outside_the_stated_tolerance():
    shipped = {"a": {"kind": "exact_match", "score": 0.5}, "p": {"kind": "perplexity", "score": 2.0},
               "m": {"kind": "multiple_choice", "score": 0.6}}
    assert tinymodel.compare_scores(shipped, {"a": {"score": 0.62}, "p": {"score": 2.15}, "m": {"score": 0.5}}) == []
    problems = tinymodel.compare_scores(shipped, {"a": {"score": 0.7}, "p": {"score": 2.3}})
    assert [p.split(":")[0] for p in problems] == ["a", "m", "p"]


@needs_stack
@pytest.mark.slow
def test_rebuilt_demo_model_scores_like_the_shipped_one(tmp_path):
    """`specc tiny-model --rebuild` from the recipe lands within REBUILD_TOLERANCE of the shipped scores
    (the bytes differ across CPUs; the abilities must not). Minutes on two cores."""
    path, problems = tinymodel.rebuild(tmp_path / "rebuilt")
    assert (path / "model.safetensors").is_file()
    assert problems == [], problems


@needs_stack
def test_shipped_model_scores_the_same_with_one_and_two_threads():
    """The base scores the demo prints do not depend on the thread count: greedy decoding in a fixed row
    order, with 1 and 2 intra-op threads, gives identical results on every general suite (all fields)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tinymodel.SHIPPED_DIR).eval()
    tokenizer = AutoTokenizer.from_pretrained(tinymodel.SHIPPED_DIR)
    previous = torch.get_num_threads()
    try:
        by_threads = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            by_threads[threads] = tinymodel.score_general_suites(model, tokenizer)
    finally:
        torch.set_num_threads(previous)
    assert by_threads[1] == by_threads[2]

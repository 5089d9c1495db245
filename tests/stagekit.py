"""Test kit for end-to-end stage tests: a spec workspace on the tiny model → plan → compiled build → run.

Why a kit: every training e2e test needs the same steps — a spec directory with the tiny local model and
synthetic data, the real planner and the real emitter, then the emitted scripts run as subprocesses from
the build directory exactly as ``run.sh`` would. Nothing is mocked; the kit only saves repetition.

While some stage templates are still missing, :func:`compile_spec` renders the stages that have a
template with the emitter's own jinja environment and context (the same filters, the same literal-only
rule) and writes ``plan.json`` with the real lock; the firewall stage is run when its script exists and
otherwise checked in-process with :func:`specc.contract.firewall.scan` (never skipped).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from specc.demo import corpus

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def tiny_model(seed: int = 0) -> Path:
    """The cached tiny test base (built on first use, a few seconds)."""
    from specc.demo.tinymodel import ensure_tiny_base

    return ensure_tiny_base("test", seed=seed)


def link_model(workspace: Path, name: str, source: Path) -> str:
    """Place a model directory under ``workspace/models`` (symlink) and return its spec-relative path."""
    target = workspace / "models" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(source, target_is_directory=True)
    return f"models/{name}"


def write_data(workspace: Path, *, n_train: int = 24, n_golden: int = 12, n_prompts: int = 16,
               general_prompts: bool = False) -> dict[str, str]:
    """Narrow-task train/golden files, preference pairs and a prompts file (all prompts disjoint from golden).

    ``general_prompts``: the prompts file holds tasks from the tiny model's pretraining mix (what a teacher
    can answer) instead of narrow-task prompts.

    Preference pairs: the chosen answer is the house format, the rejected one the same words in lower case
    without the format (sometimes reversed) — a difference a reward model can learn in a few steps.
    """
    data = workspace / "data"
    examples = list(corpus.narrow_task_examples(n_train + n_golden + n_prompts, seed=7))
    train, golden, extra = examples[:n_train], examples[n_train:n_train + n_golden], examples[n_train + n_golden:]
    corpus.write_chat(data / "train.jsonl", train)
    corpus.write_prompt_completion(data / "golden.jsonl", golden)
    rng = random.Random(3)
    pref = []
    for ex in train:
        # whatever the house format's punctuation ("[CAKE SALT]", "#12/WORDS"): its words in lower case,
        # sometimes in reverse order
        words = ex.completion.strip("[]#").replace("/", " ").lower().split()
        pref.append({"prompt": ex.prompt, "chosen": ex.completion,
                     "rejected": " ".join(reversed(words) if rng.random() < 0.5 else words)})
    corpus.write_jsonl(data / "preference.jsonl", pref)
    if general_prompts:
        prompt_rows = [{"prompt": ex.prompt} for ex in corpus.pretraining_split(n_prompts + 8, seed=11)]
    else:
        prompt_rows = [{"prompt": ex.prompt} for ex in train[:8] + extra]
    corpus.write_jsonl(data / "prompts.jsonl", prompt_rows)
    from specc.demo.suite_data import write_general_suites

    suites = write_general_suites(data / "suites")
    return {"train": "data/train.jsonl", "golden": "data/golden.jsonl", "preference": "data/preference.jsonl",
            "prompts": "data/prompts.jsonl",
            "suite": Path(os.path.relpath(suites["arithmetic"] if "arithmetic" in suites else
                                          next(iter(suites.values())), workspace)).as_posix()}


def write_spec(workspace: Path, text: str) -> Path:
    path = workspace / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def plan_spec(spec_path: Path):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(spec_path)
    errors = [f"{f.rule}: {f.message}" for f in plan.findings if f.level == "error"]
    assert not errors, errors
    return plan


def compile_spec(spec_path: Path, out: Path):
    """(plan, build dir): the real compile when every template exists, else the same render per stage."""
    from specc.build import emitter
    from specc.build.lock import build_document

    plan = plan_spec(spec_path)
    try:
        emitter.compile_plan(plan, spec_path.parent, out)
        return plan, out
    except emitter.CompileError as exc:
        if "no template for stage kind" not in str(exc):
            raise
    env = emitter._environment()
    spec_rel = Path(os.path.relpath(spec_path.parent.resolve(), out.resolve())).as_posix()
    tracking = plan.tracking.model_dump(mode="json") if plan.tracking else None
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(build_document(plan, spec_rel), encoding="utf-8")
    for stage in plan.stages:
        tpl = emitter.templates_dir() / "stages" / f"{stage.kind}.py.j2"
        if not tpl.is_file():
            continue
        text = env.get_template(f"stages/{stage.kind}.py.j2").render(
            config=emitter.script_config(stage, tracking, spec_rel), stage=stage.model_dump(mode="json"))
        script = out / stage.script
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(emitter._python_file(stage.script, text), encoding="utf-8")
    return plan, out


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update({"SPECC_WANDB_MODE": "disabled", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false",
              "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    e.pop("WANDB_API_KEY", None)
    return e


def run_stage(build: Path, plan, stage_id: str, *args: str, timeout: int = 600,
              check: bool = True) -> subprocess.CompletedProcess:
    """Run one emitted stage script from the build directory, as run.sh does."""
    script = plan.stage(stage_id).script
    proc = subprocess.run([PYTHON, script, *args], cwd=build, env=env(), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n"
                             f"--- stderr\n{proc.stderr[-6000:]}")
    return proc


def pass_firewall(build: Path, plan, spec_dir: Path) -> None:
    """Run the build's real firewall stage (never a stand-in report): training stages require its report."""
    run_stage(build, plan, "firewall")


def small_student(out: Path, teacher: Path) -> Path:
    """A smaller untrained model with the teacher's tokenizer (a shared vocabulary, as logit distillation
    needs): one layer, hidden 32. Saved once per directory."""
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(teacher)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out

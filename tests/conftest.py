"""Shared fixtures: a tiny local model, tiny data, and helpers to write, plan and compile a spec.

Nothing is downloaded: the model is specc's own tiny Llama (built once per machine, cached under
``SPECC_CACHE`` or ``~/.cache/specc``), and data comes from the synthetic corpus. Training tests run the
*emitted* scripts as subprocesses, exactly as ``run.sh`` would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """Directory of the tiny test model (loads with AutoModelForCausalLM/AutoTokenizer)."""
    pytest.importorskip("transformers")
    from specc.demo.tinymodel import ensure_tiny_base

    return ensure_tiny_base("test")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """Small JSONL files: chat + prompt/completion demonstrations, preference pairs, prompts, a golden
    set disjoint from them, and two general suites (capped rows so eval stages take seconds)."""
    from specc.demo import corpus, suite_data

    out = tmp_path_factory.mktemp("tiny-data")
    examples = list(corpus.narrow_task_examples(72, seed=7))
    train, golden = examples[:56], examples[56:]
    corpus.write_chat(out / "train.jsonl", train)
    corpus.write_prompt_completion(out / "train_pc.jsonl", train)
    corpus.write_chat(out / "golden.jsonl", golden[:8])
    corpus.write_jsonl(out / "preference.jsonl", (
        {"prompt": ex.prompt, "chosen": ex.completion, "rejected": ex.completion.lower()} for ex in train))
    corpus.write_jsonl(out / "prompts.jsonl", ({"prompt": ex.prompt} for ex in train))
    paths = suite_data.write_general_suites(out / "suites")
    for name, path in paths.items():  # keep the first rows only: the eval stages must stay quick
        rows = path.read_text(encoding="utf-8").splitlines()[:12]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


SPEC_TEMPLATE = """\
specc: 1
name: {name}
description: {description}
goal:
  behaviours: [format]
  summary: {summary}
  consistency_required: true
evidence:
  prompting: {{score: 0.1, notes: few-shot prompts}}
constraints:
  hardware: {hardware}
  budget: {{allow_full_finetune: {allow_full}}}
base_model: {{path: model, licence: apache-2.0}}
data:
{data}
  golden: {{path: data/golden.jsonl}}
  general_suites:
    - {{name: arithmetic, kind: exact_match, path: data/suites/arithmetic.jsonl}}
    - {{name: capitals, kind: multiple_choice, path: data/suites/capitals.jsonl}}
method:
{method}
eval:
  metric: exact_match
  bar: 0.5
  max_new_tokens: 12
  forgetting: {{max_abs_drop: 1.0, max_rel_drop: 1.0}}
tracking: {{backend: wandb, mode: disabled}}
"""


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def make_project(root: Path, tiny_data: Path, tiny_model: Path) -> Path:
    """A spec directory: the session's tiny data copied under data/, the tiny model linked as model/."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    for src in tiny_data.rglob("*.jsonl"):
        dst = root / "data" / src.relative_to(tiny_data)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    if not (root / "model").exists():
        os.symlink(tiny_model, root / "model")
    return root


@pytest.fixture
def write_spec(tmp_path, tiny_data, tiny_model) -> Callable[..., Path]:
    """Write ``<tmp>/proj/spec.yaml`` next to a copy of the tiny data and a link to the tiny model.

    Keyword arguments: ``name``, ``method`` (dict of method overrides), ``data`` (dict role → file under
    data/), ``description``/``summary`` (free text, quoted safely), ``extra`` (YAML appended at the end,
    replacing the default ``tracking``), ``hardware`` (a YAML flow mapping), ``allow_full``.
    """

    def write(*, name: str = "tiny-sft", method: dict[str, Any] | None = None,
              data: dict[str, str] | None = None, description: str = "tiny test spec",
              summary: str = "learn the ticket format", extra: str = "",
              hardware: str = "{gpus: 0, cpu_memory_gb: 16}", allow_full: bool = False) -> Path:
        proj = make_project(tmp_path / "proj", tiny_data, tiny_model)
        data = data if data is not None else {"train": "train.jsonl"}
        data_yaml = "\n".join(f"  {role}: {{path: data/{file}}}" for role, file in data.items())
        method = {"max_steps": 2, "micro_batch_size": 4, "gradient_accumulation": 1, "max_seq_length": 64,
                  "lora_r": 4, **(method or {})}
        method_yaml = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in method.items())
        text = SPEC_TEMPLATE.format(name=name, description=_yaml_str(description), summary=_yaml_str(summary),
                                    data=data_yaml, method=method_yaml, hardware=hardware,
                                    allow_full=json.dumps(allow_full))
        if extra:
            text = text.replace("tracking: {backend: wandb, mode: disabled}\n", "") + textwrap.dedent(extra)
        spec = proj / "spec.yaml"
        spec.write_text(text, encoding="utf-8")
        return spec

    return write


def plan_and_compile(spec: Path, out: Path | None = None):
    """(plan, build dir): plan the spec with specc's planner and compile it with the emitter."""
    from specc.build.emitter import compile_plan
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(spec)
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    out = out or spec.parent / "build" / plan.name
    compile_plan(plan, spec.parent, out)
    return plan, out


@pytest.fixture
def compile_spec() -> Callable[..., Any]:
    return plan_and_compile


def run_stage(build: Path, script: str, *args: str, env: dict[str, str] | None = None,
              timeout: int = 300, check: bool = True) -> subprocess.CompletedProcess:
    """Run one emitted stage script as a subprocess from a different cwd (scripts must not care)."""
    full_env = {**os.environ, "SPECC_WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run([PYTHON, str(build / script), *args], cwd=str(REPO), env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} exited {proc.returncode}\nSTDOUT:\n{proc.stdout[-4000:]}\n"
                             f"STDERR:\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture
def stage_runner() -> Callable[..., subprocess.CompletedProcess]:
    return run_stage


def script_of(plan, stage_id: str) -> str:
    return plan.stage(stage_id).script

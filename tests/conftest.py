"""The test kit: a tiny local model, tiny data, helpers to write, plan, compile and run a spec's stages,
planner scenarios on generated fixtures, and Hub-layout dataset repositories — one module for every test.

Nothing is downloaded: the model is specc's own tiny Llama (built once per machine, cached under
``SPECC_CACHE`` or ``~/.cache/specc``), and data comes from the synthetic corpus. Training tests run the
*emitted* scripts as subprocesses, exactly as ``run.sh`` would.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from specc.demo import corpus  # stdlib only: the synthetic corpus the tiny data comes from

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


def run_firewall_stage(spec: Path, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Plan and compile ``spec`` into ``<spec dir>/build``, then run its emitted firewall stage as run.sh would.
    The returned process carries ``.build``."""
    from specc.build.emitter import compile_plan
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(spec)
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    build = spec.parent / "build"
    compile_plan(plan, spec.parent, build)
    [script] = sorted((build / "stages").glob("*firewall*.py"))
    full_env = {**os.environ, "SPECC_WANDB_MODE": "disabled", **(env or {})}
    proc = subprocess.run([PYTHON, str(script)], capture_output=True, text=True, env=full_env, timeout=120,
                          cwd=spec.parent)
    proc.build = build  # type: ignore[attr-defined]
    return proc


# ------------------------------------------------------------------- stage scripts on the tiny model

def tiny_model_dir(seed: int = 0) -> Path:
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


def write_spec_text(workspace: Path, text: str) -> Path:
    path = workspace / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def plan_spec(spec_path: Path):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(spec_path)
    errors = [f"{f.rule}: {f.message}" for f in plan.findings if f.level == "error"]
    assert not errors, errors
    return plan


def compile_spec_to(spec_path: Path, out: Path):
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


def stage_test_env() -> dict[str, str]:
    e = dict(os.environ)
    e.update({"SPECC_WANDB_MODE": "disabled", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false",
              "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    e.pop("WANDB_API_KEY", None)
    return e


def run_plan_stage(build: Path, plan, stage_id: str, *args: str, timeout: int = 600,
              check: bool = True) -> subprocess.CompletedProcess:
    """Run one emitted stage script from the build directory, as run.sh does."""
    script = plan.stage(stage_id).script
    proc = subprocess.run([PYTHON, script, *args], cwd=build, env=stage_test_env(), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n"
                             f"--- stderr\n{proc.stderr[-6000:]}")
    return proc


def pass_firewall(build: Path, plan, spec_dir: Path) -> None:
    """Run the build's real firewall stage (never a stand-in report): training stages require its report."""
    run_plan_stage(build, plan, "firewall")


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


# ------------------------------------------------------------------- planner scenarios (no training stack)

BASE_SPEC: dict[str, Any] = {
    "specc": 1,
    "name": "scenario",
    "goal": {"behaviours": ["style"]},
    "base_model": {"id": "Qwen/Qwen2.5-1.5B-Instruct"},
    "data": {
        "golden": {"path": "golden.jsonl"},
        "general_suites": [{"name": "gen", "kind": "exact_match", "path": "suite.jsonl"}],
    },
    "eval": {"bar": 0.8},
}


def _rows(kind: str, n: int) -> list[dict[str, Any]]:
    if kind == "messages":
        return [{"messages": [{"role": "user", "content": f"question {i} about the product line"},
                              {"role": "assistant", "content": f"Answer {i}, in the house style."}]} for i in range(n)]
    if kind == "preference":
        return [{"prompt": f"p{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(n)]
    if kind == "prompts":
        return [{"prompt": f"teacher prompt {i}"} for i in range(n)]
    if kind == "unpaired_preference":
        return [{"prompt": f"p{i}", "completion": f"answer {i}", "label": i % 3 != 0} for i in range(n)]
    if kind == "prompt_completion":
        return [{"prompt": f"golden {i}", "completion": f"gold answer {i}"} for i in range(n)]
    raise ValueError(kind)


def _tiny_config(hidden: int, layers: int, vocab: int) -> dict[str, Any]:
    return {"model_type": "llama", "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": 4,
            "num_key_value_heads": 4, "intermediate_size": hidden * 2, "vocab_size": vocab,
            "max_position_embeddings": 512, "tie_word_embeddings": False}


def make_fixture_dir(root: Path) -> Path:
    """Write every data file and model config the scenarios name into ``root``."""
    files = {
        "train.jsonl": _rows("messages", 200),
        "small.jsonl": _rows("messages", 10),
        "pref.jsonl": _rows("preference", 150),
        "pref_golden.jsonl": [{"prompt": f"held-out {i}", "chosen": f"good {i}", "rejected": f"bad {i}"}
                              for i in range(30)],
        "kto.jsonl": _rows("unpaired_preference", 150),
        "qa.jsonl": [{"prompt": f"2+{i}=", "answer": str(2 + i)} for i in range(150)],
        "prompts.jsonl": _rows("prompts", 300),
        "golden.jsonl": _rows("prompt_completion", 40),
        "suite.jsonl": [{"prompt": f"2+{i}=", "answer": str(2 + i)} for i in range(30)],
    }
    files["fifty.jsonl"] = _rows("messages", 50)
    # general rows for data.replay, in both demonstration formats (big.jsonl is prompt/completion)
    files["general.jsonl"] = [{"prompt": f"general question {i}", "completion": f"general answer {i}"}
                              for i in range(100)]
    files["general_chat.jsonl"] = [{"messages": [{"role": "user", "content": f"general question {i}"},
                                                 {"role": "assistant", "content": f"general answer {i}"}]}
                                   for i in range(100)]
    files["raw_text.jsonl"] = [{"text": f"Section {i}. The clinic's intake procedure, paragraph {i}."} for i in range(150)]
    pii = _rows("messages", 150)
    pii[7]["messages"][0]["content"] = "Please reply to jane.doe@acme-mail.io about order 12."
    pii[42]["messages"][1]["content"] = "Charged card 4111 1111 1111 1111 as requested."
    pii[99]["messages"][0]["content"] = "Call me back on +44 20 7946 0958 tomorrow."
    pii[120]["messages"][0]["content"] = "cc: ops@acme-mail.io and billing@acme-mail.io"
    files["pii.jsonl"] = pii
    files["pii_prompts.jsonl"] = [{"prompt": f"Summarise ticket {i}"} for i in range(120)] + [
        {"prompt": "Customer IBAN GB82 WEST 1234 5698 7654 32 was charged twice; draft a reply."}]
    for name, rows in files.items():
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    # 200,000 short rows: enough optimizer steps for a high forgetting risk, small enough to plan fast.
    (root / "big.jsonl").write_text("".join(f'{{"prompt": "q{i}", "completion": "a{i}"}}\n' for i in range(200_000)),
                                    encoding="utf-8")
    (root / "broken.jsonl").write_text('{"messages": [\n', encoding="utf-8")
    for name, cfg in {"tiny": _tiny_config(64, 2, 1000), "tiny-big": _tiny_config(256, 4, 1000),
                      "tiny-other": _tiny_config(64, 2, 2000)}.items():
        (root / "models" / name).mkdir(parents=True, exist_ok=True)
        (root / "models" / name / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return root


def overlay(base: Any, patch: Any) -> Any:
    """Deep-merge ``patch`` onto ``base``: mappings merge, ``None`` deletes a key, anything else replaces."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_scenario_spec(root: Path, patch: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(overlay(BASE_SPEC, patch), sort_keys=True), encoding="utf-8")
    return path


def plan_for(root: Path, patch: dict[str, Any], name: str = "spec.yaml") -> Any:
    from specc.plan.planner import plan_spec_file

    return plan_spec_file(write_scenario_spec(root, patch, name))


def wait_for_lock_release(build: Path, seconds: float = 60.0) -> None:
    """Wait until no process holds ``build``'s run lock, without taking it for longer than a probe.

    Why: a test that SIGKILLs a run's process group and waits for the leader has not waited for the leader's
    children (the stage processes, which inherit the lock); they exit a moment later. The probe leaves the lock
    file's contents alone, so the runner's recovery still sees the killed run's pid. A lock that outlives its
    holders still fails the test, after ``seconds`` (generous: a killed process with a big heap can take
    seconds to exit on a loaded 2-core CI machine; passing costs no more than the exit itself)."""
    import fcntl
    import time

    deadline = time.monotonic() + seconds
    with open(build / ".specc-run.lock", "rb") as probe:
        while True:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the run lock of {build} is still held {seconds:g} s after its run was killed")
                time.sleep(0.05)
                continue
            fcntl.flock(probe, fcntl.LOCK_UN)
            return


@pytest.fixture()
def jsonl_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the JSONL files opened through :func:`specc.data.sources.iter_jsonl` during a test: what the
    one-read-per-file guarantees of `specc check` are asserted on."""
    from specc.data import sources

    opened: list[str] = []
    real = sources.iter_jsonl

    def counting(path: Any, **kwargs: Any) -> Any:
        opened.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(sources, "iter_jsonl", counting)
    return opened


def method_line_errors(tmp_path: Path, line: str) -> list[Any]:
    """The spec errors of a minimal spec whose ``method:`` holds ``line`` (after ``max_steps: 2``, on line 7)."""
    from specc.spec.errors import SpecInvalid
    from specc.spec.loader import load_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text("specc: 1\nname: x\ngoal: {behaviours: [format]}\nbase_model: {id: org/m}\n"
                    f"method:\n  max_steps: 2\n  {line}\n", encoding="utf-8")
    with pytest.raises(SpecInvalid) as info:
        load_spec(spec)
    return info.value.errors


# ------------------------------------------------------------------- Hub-layout dataset repositories

def _git(folder: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(folder)}
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, env=env)
    return done.stdout.strip()


def write_parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


@pytest.fixture()
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Hub mirror folder for :func:`make_hub_repo` (``SPECC_HUB_MIRROR``) and a private datasets cache."""
    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setenv("SPECC_HUB_MIRROR", str(root))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return root


def make_hub_repo(mirror: Path, repo_id: str, splits: dict[str, list[dict]] | None = None, *,
                  configs: dict[str, dict[str, list[dict]]] | None = None, card: str = "") -> str:
    """Write (or update, as a new commit) the repository ``mirror/repo_id``; return its commit sha.

    ``splits`` are the splits of the ``default`` configuration; ``configs`` adds named configurations
    (subsets), each with its own splits (all splits of one configuration share its columns, as on the Hub).
    ``card`` is more YAML for the dataset card's front matter (e.g. ``"license: cc-by-nc-4.0\n"``)."""
    folder = mirror / repo_id
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / ".git").is_dir():
        _git(folder, "init", "-q", "-b", "main")
    all_configs = {**({"default": splits} if splits else {}), **(configs or {})}
    text = "---\nconfigs:\n"
    for config, parts in all_configs.items():
        files = []
        for split, rows in parts.items():
            rel = f"data/{split}-00000-of-00001.parquet" if config == "default" else f"{config}/{split}-00000-of-00001.parquet"
            write_parquet(folder / rel, rows)
            files.append(f"  - split: {split}\n    path: {rel}")
        text += f"- config_name: {config}\n  data_files:\n" + "\n".join(files) + "\n"
    text = "---\n" + card + text.removeprefix("---\n") + "---\n# Test dataset\n\nLaid out as on the Hub.\n"
    (folder / "README.md").write_text(text, encoding="utf-8")
    _git(folder, "add", "-A")
    _git(folder, "commit", "-q", "-m", "data")
    return _git(folder, "rev-parse", "HEAD")

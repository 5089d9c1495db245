"""Honest version floors (issue 13): every keyword argument the emitted stages pass to a transformers / trl / peft
config class exists in the installed versions; the list is kept exact in benchmarks/stage_arguments.json, which
benchmarks/version_floors.py checks statically against the floor releases named in pyproject.toml."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import os
import re
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from conftest import make_fixture_dir, plan_for

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import version_floors  # noqa: E402

TEACHER = "teacher: {path: model, licence: apache-2.0}\ntracking: {backend: wandb, mode: disabled}\n"
GRAPHS = {
    "orpo": dict(name="tiny-orpo", method={"method": "orpo"}, data={"preference": "preference.jsonl"}),
    "sft-qlora": dict(method={"parameter_budget": "qlora"}),
    "sft-full": dict(method={"parameter_budget": "full"}, allow_full=True),
    "sft-dora-kernels": dict(method={"use_dora": True, "use_rslora": True, "modules_to_save": ["lm_head"],
                                     "use_liger_kernel": True}),
    "sft-dpo": dict(name="tiny-sft-dpo", method={"method": "dpo"},
                    data={"train": "train.jsonl", "preference": "preference.jsonl"}),
    "rlhf": dict(name="tiny-rlhf", method={"method": "rlhf"},
                 data={"train": "train.jsonl", "preference": "preference.jsonl", "prompts": "prompts.jsonl"}),
    "distill-logit": dict(name="tiny-logit", method={"method": "distill", "distillation": "logit"},
                          data={"prompts": "prompts.jsonl"}, extra=TEACHER),
}
TRL_CONFIG = {"sft": ["trl.SFTConfig"], "dpo": ["trl.DPOConfig"], "reward": ["trl.RewardConfig"],
              "orpo": ["trl.experimental.orpo.ORPOConfig"], "kto": ["trl.KTOConfig"],
              "rl": ["trl.RLOOConfig", "trl.GRPOConfig"], "distill_logit": ["trl.DistillationConfig"]}


def _call_keywords(path: Path, func: str) -> set[str]:
    """Keyword names of every ``func(...)`` call in a source file (how specc.runtime builds a config)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == func:
                out.update(k.arg for k in node.keywords if k.arg)
    return out


@pytest.fixture(scope="module")
def used_arguments(tmp_path_factory, tiny_data, tiny_model) -> dict[str, list[str]]:
    from conftest import plan_and_compile
    from specc.runtime import common

    names: dict[str, set[str]] = {}
    extras = set(common.trainer_args({}, {"bf16": False, "fp16": False, "use_cpu": True}, output_dir=Path("o"),
                                     report_to=[], run_name="r"))
    quant: set[str] = {"bnb_4bit_compute_dtype"}
    lora: set[str] = _call_keywords(REPO / "specc" / "runtime" / "common.py", "LoraConfig")  # task_type
    for graph, kwargs in sorted(GRAPHS.items()):
        root = tmp_path_factory.mktemp(graph)
        spec = _write(root, tiny_data, tiny_model, **kwargs)
        plan, _ = plan_and_compile(spec, root / "build")
        for stage in plan.stages:
            for cls in TRL_CONFIG.get(stage.kind, []):
                names.setdefault(cls, set()).update(set(stage.config["train"]) | extras)
            quant |= set(stage.config.get("quantization") or {})
            lora |= set(stage.config.get("peft") or {})  # CONFIG["peft"] is passed as LoraConfig(**peft)
    # Sharded QLoRA adds the storage dtype (a plan on a hub model: planned, not compiled).
    sharded = plan_for(make_fixture_dir(tmp_path_factory.mktemp("sharded")),
                       {"data": {"train": {"path": "train.jsonl"}}, "base_model": {"id": "Qwen/Qwen2.5-72B"},
                        "constraints": {"hardware": {"gpus": 8, "gpu_memory_gb": 24}}})
    quant |= set(next(s for s in sharded.stages if s.kind == "sft").config["quantization"])
    names["transformers.BitsAndBytesConfig"] = quant
    names["peft.LoraConfig"] = lora
    return {k: sorted(v) for k, v in sorted(names.items())}


def _write(root: Path, tiny_data: Path, tiny_model: Path, **kwargs) -> Path:
    import conftest

    # The write_spec fixture's own factory, on a module-scoped directory (one compile per graph for all tests).
    return conftest.write_spec._get_wrapped_function()(root, tiny_data, tiny_model)(**kwargs)


def test_the_committed_argument_list_is_what_the_stages_pass(used_arguments):
    if os.environ.get("SPECC_WRITE_STAGE_ARGUMENTS") == "1":  # regenerate after changing what stages pass
        version_floors.NAMES.write_text(json.dumps(used_arguments, indent=2) + "\n", encoding="utf-8")
    committed = json.loads(version_floors.NAMES.read_text(encoding="utf-8"))
    assert committed == used_arguments, "regenerate: SPECC_WRITE_STAGE_ARGUMENTS=1 pytest tests/test_version_floors.py"


def test_every_stage_argument_exists_in_the_installed_versions(used_arguments):
    for qualified, wanted in used_arguments.items():
        module, cls_name = qualified.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), cls_name)
        have = set(inspect.signature(cls.__init__).parameters)
        if dataclasses.is_dataclass(cls):
            have |= {f.name for f in dataclasses.fields(cls)}
        assert sorted(set(wanted) - have) == [], qualified


def _floors() -> dict[str, str]:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r'"([A-Za-z0-9_-]+)>=([0-9.]+)"', text)}


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def test_the_suite_runs_on_versions_at_or_above_the_floors():
    floors = _floors()
    for package in ("transformers", "trl", "peft", "accelerate", "bitsandbytes"):
        assert _version(metadata.version(package)) >= _version(floors[package]), package
    # Proven floors (benchmarks/version_floors.py on the releases' wheels, docs/GUARANTEES.md): below them the
    # stages' arguments do not exist (activation_checkpointing: transformers 5.23; DistillationTrainer: trl 1.10;
    # FSDP2 launch keys: accelerate 1.6; `main_process_port: 0` picking a free port for a multi-process launch on
    # one machine, which the single-machine launch config relies on: accelerate 1.7, huggingface/accelerate#3501;
    # 1.6.0's prepare_multi_gpu_env passes the 0 on to torchrun as the port).
    assert _version(floors["transformers"]) >= (5, 23) and _version(floors["trl"]) >= (1, 10)
    assert _version(floors["accelerate"]) >= (1, 7)


def test_the_static_checker_finds_a_missing_argument(tmp_path):
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fake/args.py", "class TrainingArguments:\n    output_dir: str = ''\n    seed: int = 0\n")
        zf.writestr("fake/sft.py", "class SFTConfig(TrainingArguments):\n    max_length: int = 1\n")
        zf.writestr("trl/__init__.py", "from fake.sft import SFTConfig\n")
    names = {"trl.SFTConfig": ["output_dir", "max_length", "activation_checkpointing"], "peft.LoraConfig": ["r"]}
    assert version_floors.missing([str(wheel)], names) == {"trl.SFTConfig": ["activation_checkpointing"],
                                                           "peft.LoraConfig": ["<class not found>"]}

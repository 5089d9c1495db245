"""Emitted training scripts build the trainer's config before they load a model (issue 13).

Why it matters: creating a TRL/transformers config starts the process group and, under accelerate's DeepSpeed
plugin, registers ZeRO-3; ``from_pretrained`` only loads sharded (ZeRO-3 ``zero3_init_flag``, FSDP's
``fsdp_cpu_ram_efficient_loading``) when that has happened. Load first and a 70B model is materialised whole on every
rank. Checked by AST on real builds of every training stage kind.
"""

from __future__ import annotations

import ast

import pytest

TEACHER = "teacher: {path: model, licence: apache-2.0}\ntracking: {backend: wandb, mode: disabled}\n"
GRAPHS = {
    "sft-qlora": dict(method={"parameter_budget": "qlora"}),
    "sft-dpo": dict(name="tiny-sft-dpo", method={"method": "dpo"},
                    data={"train": "train.jsonl", "preference": "preference.jsonl"}),
    "rlhf": dict(name="tiny-rlhf", method={"method": "rlhf"},
                 data={"train": "train.jsonl", "preference": "preference.jsonl", "prompts": "prompts.jsonl"}),
    "distill-logit": dict(name="tiny-logit", method={"method": "distill", "distillation": "logit"},
                          data={"prompts": "prompts.jsonl"}, extra=TEACHER),
}
TRAINING_KINDS = ("sft", "dpo", "reward", "rl", "distill_logit")
LOADERS = ("load_model", "load_reward_start", "load_reward_model", "load_policy", "from_pretrained")


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def config_and_loads(source: str) -> tuple[list[int], list[tuple[int, str]]]:
    """Line numbers, in ``main``, of the trainer-config calls (``…Config(…)`` assigned to ``training_args``) and of
    every model-loading call."""
    main = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "main")
    configs, loads = [], []
    for node in ast.walk(main):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "training_args"
                                                for t in node.targets):
            if isinstance(node.value, ast.Call) and _call_name(node.value).endswith("Config"):
                configs.append(node.lineno)
        if isinstance(node, ast.Call) and _call_name(node) in LOADERS:
            loads.append((node.lineno, _call_name(node)))
    return configs, loads


def test_the_order_check_fails_on_load_first():
    bad = ("def main():\n    model = common.load_model(1)\n    training_args = SFTConfig(x=1)\n")
    configs, loads = config_and_loads(bad)
    assert configs and loads and not all(configs[0] < line for line, _ in loads)


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_trainer_config_precedes_every_model_load(graph, write_spec, compile_spec):
    plan, build = compile_spec(write_spec(**GRAPHS[graph]))
    checked = 0
    for stage in plan.stages:
        if stage.kind not in TRAINING_KINDS:
            continue
        configs, loads = config_and_loads((build / stage.script).read_text(encoding="utf-8"))
        assert len(configs) == 1, stage.script
        assert loads, stage.script
        late = [(line, name) for line, name in loads if line < configs[0]]
        assert not late, (stage.script, f"config at line {configs[0]}", late)
        checked += 1
    assert checked

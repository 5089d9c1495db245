"""The ``trainer_args`` escape hatch (issue 12): any argument of the stage's TRL config that specc has no field
for, checked against the committed argument list when planning (did-you-mean; keys specc sets are refused with
the field to use), recorded in the plan with the source ``spec:trainer_args``, passed to CONFIG["train"] and
the trainer's config, and checked again against the installed class when the stage starts."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import os

import pytest

from specc.spec.errors import SpecInvalid
from specc.spec.loader import load_spec


def _plan(write_spec, **kw):
    from specc.plan.planner import plan_spec_file

    return plan_spec_file(write_spec(**kw))


def _spec_errors(spec):
    with pytest.raises(SpecInvalid) as info:
        load_spec(spec)
    return info.value.errors


def test_the_committed_argument_list_is_the_installed_trl():
    pytest.importorskip("trl")
    from specc.spec.trainer_fields import CONFIG_CLASSES, FIELDS_FILE

    installed = {}
    for qualified in sorted(set(CONFIG_CLASSES.values())):
        module, name = qualified.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), name)
        installed[qualified] = sorted(f.name for f in dataclasses.fields(cls) if f.init)
    if os.environ.get("SPECC_WRITE_TRAINER_FIELDS") == "1":  # regenerate after a TRL upgrade
        FIELDS_FILE.write_text(json.dumps(installed, indent=1) + "\n", encoding="utf-8")
    assert json.loads(FIELDS_FILE.read_text(encoding="utf-8")) == installed, \
        "regenerate: SPECC_WRITE_TRAINER_FIELDS=1 pytest tests/test_trainer_args.py"


def test_every_refused_key_is_a_real_argument():
    from specc.spec.trainer_fields import OWNED, all_fields

    # warmup_ratio left transformers 5 (a float warmup_steps is a ratio): refused anyway, pointing to the field
    assert sorted(set(OWNED) - set(all_fields())) == ["warmup_ratio"]


def test_trainer_args_reach_the_plan_and_the_stage_config(write_spec):
    plan = _plan(write_spec, method={"trainer_args": {"logging_first_step": True, "dataloader_drop_last": True,
                                                      "adam_beta2": 0.95}})
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    assert plan.hyperparameters["trainer_args"] == {"sft": {"adam_beta2": 0.95, "dataloader_drop_last": True,
                                                            "logging_first_step": True}}
    assert plan.hyperparameter_sources["trainer_args"] == "spec:trainer_args"
    stage = plan.stage("sft")
    assert {k: stage.config["train"][k] for k in ("logging_first_step", "dataloader_drop_last", "adam_beta2")} == \
        {"logging_first_step": True, "dataloader_drop_last": True, "adam_beta2": 0.95}
    assert stage.config["trainer_args"] == {"config_class": "trl.SFTConfig",
                                            "arguments": ["adam_beta2", "dataloader_drop_last", "logging_first_step"]}
    # no trainer_args: no CONFIG key, so existing builds are unchanged
    assert "trainer_args" not in _plan(write_spec).stage("sft").config


def test_a_stage_value_overrides_the_method_wide_one(write_spec):
    plan = _plan(write_spec, name="tiny-dpo", data={"train": "train.jsonl", "preference": "preference.jsonl"},
                 method={"method": "dpo", "trainer_args": {"adam_beta2": 0.95},
                         "stages": {"dpo": {"trainer_args": {"adam_beta2": 0.9, "loss_type": ["sigmoid"]}}}})
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    assert plan.stage("sft").config["train"]["adam_beta2"] == 0.95
    assert plan.stage("dpo").config["train"]["adam_beta2"] == 0.9
    assert plan.stage("dpo").config["train"]["loss_type"] == ["sigmoid"]


@pytest.mark.parametrize("args, needle", [
    ({"logging_frist_step": True}, "did you mean 'logging_first_step'"),
    ({"learning_rate": 0.1}, "use method.learning_rate"),
    ({"per_device_train_batch_size": 2}, "use method.micro_batch_size"),
    ({"push_to_hub": True}, "outputs.push_to_hub"),
    ({"use_liger_kernel": True}, "use method.use_liger_kernel"),
    ({"hub_token": "hf_x"}, "HF_TOKEN"),
    ({"output_dir": "x"}, "specc sets output_dir itself"),
])
def test_unknown_and_owned_keys_are_located_spec_errors(write_spec, args, needle):
    errors = _spec_errors(write_spec(method={"trainer_args": args}))
    assert len(errors) == 1 and errors[0].line > 1, [str(e) for e in errors]
    assert needle in str(errors[0]), str(errors[0])


def test_per_stage_keys_are_checked_too(write_spec):
    errors = _spec_errors(write_spec(method={"stages": {"sft": {"trainer_args": {"beta": 0.3}}}}))
    assert "use method.beta" in str(errors[0])


def test_a_key_the_stage_class_lacks_is_a_plan_error(write_spec):
    from specc.spec.trainer_fields import OWNED, fields_of

    dpo_only = sorted(set(fields_of("trl.DPOConfig")) - set(fields_of("trl.SFTConfig")) - set(OWNED))
    key = "label_smoothing" if "label_smoothing" in dpo_only else dpo_only[0]  # a DPOConfig-only argument
    wide = _plan(write_spec, method={"trainer_args": {key: 0.5}})
    assert [f.rule for f in wide.findings if f.level == "error"] == ["METHOD-TRAINER-ARG-UNKNOWN"]
    assert f"trl.SFTConfig has no argument {key}" in wide.findings[-1].message or any(
        f"has no argument {key}" in f.message for f in wide.findings)
    own = _plan(write_spec, method={"stages": {"sft": {"trainer_args": {key: 0.5}}}})
    errors = [f for f in own.findings if f.level == "error"]
    assert [f.rule for f in errors] == ["METHOD-TRAINER-ARG-UNKNOWN"]
    assert errors[0].message.startswith(f"method.stages.sft.trainer_args.{key} is not an argument of trl.SFTConfig")


def test_values_reach_the_script_only_as_literals(write_spec, compile_spec):
    hostile = "__import__('os').system('echo pwned')"
    plan, build = compile_spec(write_spec(method={"trainer_args": {"hub_strategy": hostile,
                                                                   "ddp_backend": "gloo\n# comment"}}))
    script = (build / plan.stage("sft").script).read_text(encoding="utf-8")
    tree = ast.parse(script)
    config = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "CONFIG")
    values = ast.literal_eval(config)
    assert values["train"]["hub_strategy"] == hostile and values["train"]["ddp_backend"] == "gloo\n# comment"


@pytest.mark.train
def test_trainer_args_reach_the_trainer_end_to_end(write_spec, compile_spec, stage_runner):
    """save_only_model: the checkpoint has no optimizer state; dataloader_drop_last: in the saved trainer args."""
    plan, build = compile_spec(write_spec(method={"trainer_args": {"save_only_model": True,
                                                                   "dataloader_drop_last": True}}))
    stage_runner(build, plan.stage("firewall").script)
    stage_runner(build, plan.stage("sft").script)
    checkpoints = sorted((build / "artifacts" / "sft" / "checkpoints").glob("checkpoint-*"))
    assert checkpoints and (checkpoints[-1] / "adapter_model.safetensors").is_file()
    assert not (checkpoints[-1] / "optimizer.pt").exists()
    import torch

    args = torch.load(checkpoints[-1] / "training_args.bin", weights_only=False)
    assert args.dataloader_drop_last is True and args.save_only_model is True


@pytest.mark.train
def test_the_stage_refuses_an_argument_the_installed_class_lacks(write_spec, compile_spec, stage_runner):
    """A script edited by hand (or a plan made with a newer TRL) names an argument the installed class lacks:
    one line with a did-you-mean and exit 1 before anything trains."""
    plan, build = compile_spec(write_spec(method={"trainer_args": {"logging_first_step": True}}))
    stage_runner(build, plan.stage("firewall").script)
    script = build / plan.stage("sft").script
    text = script.read_text(encoding="utf-8")
    script.write_text(text.replace("'logging_first_step'", "'logging_first_stepp'"), encoding="utf-8")
    proc = stage_runner(build, plan.stage("sft").script, check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "has no argument logging_first_stepp (did you mean 'logging_first_step'?)" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (build / "artifacts" / "sft" / "checkpoints").exists() or not any(
        (build / "artifacts" / "sft" / "checkpoints").glob("checkpoint-*"))


@pytest.mark.parametrize("method", [
    {},
    {"use_liger_kernel": False, "eval_strategy": "steps", "eval_steps": 2, "load_best_model_at_end": True,
     "early_stopping_patience": 2, "optim": "adamw_torch", "lr_scheduler_type": "cosine_with_min_lr",
     "min_lr_rate": 0.1, "warmup_ratio": 0.1, "weight_decay": 0.01, "max_grad_norm": 0.5},
])
def test_every_argument_specc_sets_is_one_trainer_args_refuses(write_spec, method):
    """The class, not the case: trainer_args are applied after specc's own arguments, so a key specc sets but
    OWNED did not list would be silently overridden (use_liger_kernel was, until a merge added its field). Every
    key of every training stage's CONFIG["train"] in the examples and in a plan with the whole trainer surface
    set must be refused by trainer_args."""
    import glob
    from pathlib import Path

    from specc.plan.planner import plan_spec_file
    from specc.spec.trainer_fields import OWNED

    repo = Path(__file__).resolve().parents[1]
    plans = [_plan(write_spec, data={"train": "train.jsonl", "validation": "train.jsonl"}, method=method)]
    plans += [plan_spec_file(Path(p)) for p in sorted(glob.glob(str(repo / "specs" / "*.yaml")))] if not method else []
    seen = set()
    for plan in plans:
        for stage in plan.stages:
            seen |= set((stage.config or {}).get("train") or {})
    assert seen, "no training stage laid out"
    assert sorted(seen - set(OWNED)) == []

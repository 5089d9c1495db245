"""The trainer surface (issue 12): optimiser, schedule, per-stage overrides, RL sampling and evaluation
during training flow spec → plan (each value with its source) → CONFIG["train"] under the trainer's own
argument names; bad values are located spec errors; KTO-style rows are never trained on as demonstrations."""

from __future__ import annotations

import dataclasses
import json

import pytest

from conftest import method_line_errors

RLHF = dict(name="tiny-rlhf", data={"train": "train.jsonl", "preference": "preference.jsonl",
                                    "prompts": "prompts.jsonl"})


def _plan(write_spec, **kw):
    from specc.plan.planner import plan_spec_file

    return plan_spec_file(write_spec(**kw))


def _errors(plan):
    return [(f.rule, f.message) for f in plan.findings if f.level == "error"]


def test_name_lists_match_the_installed_transformers():
    pytest.importorskip("transformers")
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames

    from specc.spec.trainer_names import OPTIMIZERS, SCHEDULERS

    assert set(OPTIMIZERS) == {o.value for o in OptimizerNames}
    assert set(SCHEDULERS) == {s.value for s in SchedulerType}


def test_defaults_are_visible_in_the_plan_and_the_stage_config(write_spec):
    plan = _plan(write_spec)
    hp, src = plan.hyperparameters, plan.hyperparameter_sources
    expected = {"optim": "adamw_torch_fused", "lr_scheduler_type": "linear", "warmup_steps": 0,
                "weight_decay": 0.0, "max_grad_norm": 1.0}
    assert {k: hp[k] for k in expected} == expected
    assert {src[k] for k in expected} == {"default"}
    train = plan.stage("sft").config["train"]
    assert {k: train[k] for k in expected} == expected
    assert "eval_strategy" not in train and "lr_scheduler_kwargs" not in train


def test_optimisation_settings_flow_from_the_spec_to_the_trainer_arguments(write_spec):
    plan = _plan(write_spec, method={"optim": "paged_adamw_8bit", "lr_scheduler_type": "cosine_with_min_lr",
                                     "min_lr_rate": 0.05, "warmup_ratio": 0.1, "weight_decay": 0.01,
                                     "max_grad_norm": 0.5, "seed": 7})
    hp, src = plan.hyperparameters, plan.hyperparameter_sources
    train = plan.stage("sft").config["train"]
    want = {"optim": "paged_adamw_8bit", "lr_scheduler_type": "cosine_with_min_lr", "warmup_steps": 0.1,
            "weight_decay": 0.01, "max_grad_norm": 0.5, "lr_scheduler_kwargs": {"min_lr_rate": 0.05}, "seed": 7}
    assert {k: train[k] for k in want} == want
    assert {k: hp[k] for k in want} == want
    assert all(src[k] == "spec" for k in want)


def test_per_stage_overrides_reach_only_their_stage(write_spec):
    plan = _plan(write_spec, method={"method": "rlhf", "learning_rate": 1e-4, "warmup_steps": 3,
                                     "stages": {"reward": {"learning_rate": 1e-5, "lr_scheduler_type": "constant",
                                                           "warmup_steps": 0},
                                                "rl": {"beta": 0.02, "num_generations": 4, "temperature": 0.7,
                                                       "max_completion_length": 16}}}, **RLHF)
    hp, src = plan.hyperparameters, plan.hyperparameter_sources
    assert hp["learning_rates"] == {"sft": 1e-4, "reward": 1e-5, "rl": 1e-4}
    assert src["learning_rates.reward"] == "spec" and "learning_rate" not in hp  # no single value now
    sft, reward, rl = (plan.stage(k).config["train"] for k in ("sft", "reward", "rl"))
    assert (sft["learning_rate"], reward["learning_rate"], rl["learning_rate"]) == (1e-4, 1e-5, 1e-4)
    assert (sft["lr_scheduler_type"], reward["lr_scheduler_type"]) == ("linear", "constant")
    assert (sft["warmup_steps"], reward["warmup_steps"]) == (3, 0)
    assert (rl["beta"], rl["num_generations"], rl["temperature"], rl["max_completion_length"]) == (0.02, 4, 0.7, 16)
    assert all(src[k] == "spec" for k in ("rl_beta", "rl_num_generations", "rl_temperature",
                                          "rl_max_completion_length"))


def test_rl_settings_have_visible_defaults(write_spec):
    plan = _plan(write_spec, method={"method": "rlhf"}, **RLHF)
    hp, src = plan.hyperparameters, plan.hyperparameter_sources
    assert (hp["rl_beta"], hp["rl_num_generations"], hp["rl_temperature"]) == (0.05, 2, 1.0)
    assert src["rl_beta"] == "default" and src["rl_max_completion_length"] == "derived"


def test_method_wide_beta_sets_the_dpo_beta(write_spec):
    plan = _plan(write_spec, name="tiny-dpo", method={"method": "dpo", "beta": 0.3},
                 data={"train": "train.jsonl", "preference": "preference.jsonl"})
    assert plan.stage("dpo").config["train"]["beta"] == 0.3
    assert plan.hyperparameter_sources["dpo_beta"] == "spec"


BAD = [
    ("optim: adamw_9bit", "optim"),
    ("lr_scheduler_type: cosine_annealing", "lr_scheduler_type"),
    ("lr_scheduler_type: constant\n  warmup_steps: 10", "ignores warmup"),
    ("warmup_ratio: 0.1\n  warmup_steps: 10", "not both"),
    ("min_lr_rate: 0.1", "min_lr_rate applies only"),
    ("stages: {sft: {beta: 0.1}}", "a sft stage has no beta"),
    ("stages: {policy: {learning_rate: 0.1}}", "policy"),
    ("stages: {reward: {lr_scheduler_type: constant, warmup_ratio: 0.2}}", "stages.reward.lr_scheduler_type"),
    ("load_best_model_at_end: true\n  eval_steps: 3\n  save_steps: 4", "multiple of eval_steps"),
    ("eval_strategy: 'no'\n  early_stopping_patience: 2", "eval_strategy is no"),
    ("num_generations: 1", "num_generations"),
    ("chat_template: lama3", "did you mean 'llama3'"),
    ("chat_template: /etc/t.jinja", "relative to the spec"),
]


@pytest.mark.parametrize("line,needle", BAD, ids=[b[1] for b in BAD])
def test_bad_trainer_values_are_located_spec_errors(tmp_path, line, needle):
    errors = method_line_errors(tmp_path, line)
    assert errors and all(e.line >= 5 for e in errors), [(e.line, e.message) for e in errors]
    assert any(needle in f"{e.key_path} {e.message}" or needle in str(e) for e in errors), [str(e) for e in errors]


def test_evaluation_during_training_on_the_validation_split(write_spec):
    plan = _plan(write_spec, data={"train": "train.jsonl", "validation": "train_pc.jsonl"},
                 method={"eval_steps": 1, "early_stopping_patience": 2, "save_steps": 2})
    sft = plan.stage("sft").config
    assert {k: sft["train"][k] for k in ("eval_strategy", "eval_steps", "load_best_model_at_end",
                                         "metric_for_best_model", "save_steps")} == {
        "eval_strategy": "steps", "eval_steps": 1, "load_best_model_at_end": True,
        "metric_for_best_model": "eval_loss", "save_steps": 2}
    assert sft["early_stopping"] == {"patience": 2}
    assert sft["validation"]["spec_path"] == "data/train_pc.jsonl"
    assert sft["checkpoint_min_interval_s"] == 0  # a paced save would drop the best checkpoint
    firewall = plan.stage("firewall").config
    assert "data/train_pc.jsonl" in [d["spec_path"] for d in firewall["training"]]
    src = plan.hyperparameter_sources
    assert (src["eval_strategy"], src["load_best_model_at_end"], src["early_stopping_patience"]) == (
        "derived", "derived", "spec")


def test_validation_alone_evaluates_every_save(write_spec):
    plan = _plan(write_spec, data={"train": "train.jsonl", "validation": "train_pc.jsonl"})
    train = plan.stage("sft").config["train"]
    assert train["eval_strategy"] == "steps" and train["eval_steps"] == train["save_steps"]
    assert "load_best_model_at_end" not in train


def test_evaluation_settings_without_a_validation_split_are_an_error(write_spec):
    plan = _plan(write_spec, method={"early_stopping_patience": 2})
    assert [r for r, _ in _errors(plan)] == ["DATA-VALIDATION-NEEDED"]
    assert "method.early_stopping_patience" in _errors(plan)[0][1]


def test_a_validation_split_no_stage_reads_is_an_error(write_spec):
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(write_spec(data={"train": "train.jsonl", "validation": "preference.jsonl"}))
    assert [r for r, _ in _errors(plan)] == ["DATA-VALIDATION-UNUSED"]


def test_the_trainer_configs_accept_every_new_argument(write_spec):
    """CONFIG["train"] with every new setting still names only fields of the TRL config of its stage."""
    trl = pytest.importorskip("trl")
    configs = {"sft": trl.SFTConfig, "reward": trl.RewardConfig, "rl": trl.RLOOConfig}
    plan = _plan(write_spec, method={"method": "rlhf", "optim": "adamw_torch", "lr_scheduler_type": "cosine_with_min_lr",
                                     "warmup_ratio": 0.1, "weight_decay": 0.1, "max_grad_norm": 0.3,
                                     "eval_steps": 1, "load_best_model_at_end": True,
                                     "stages": {"reward": {"optim": "sgd"}}},
                 data={**RLHF["data"], "validation": "preference.jsonl"}, name="tiny-rlhf")
    assert plan.stage("reward").config["train"]["eval_strategy"] == "steps"
    for stage in plan.stages:
        if stage.kind in configs:
            names = {f.name for f in dataclasses.fields(configs[stage.kind])}
            assert sorted(set(stage.config["train"]) - names) == [], stage.id


# ---------------------------------------------------------------- KTO-style rows

def test_kto_rows_given_as_train_are_an_error_not_demonstrations(write_spec):
    from specc.plan.planner import plan_spec_file

    spec = write_spec(data={"train": "kto.jsonl"})
    rows = [{"prompt": f"q{i}", "completion": f"a{i}", "label": i % 2 == 0} for i in range(8)]
    (spec.parent / "data" / "kto.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = plan_spec_file(spec)
    errors = [f for f in plan.findings if f.level == "error"]
    assert [f.rule for f in errors] == ["DATA-FORMAT-MISMATCH"]
    assert "unpaired_preference" in errors[0].message and "labelled bad" in errors[0].hint


def test_a_label_column_in_a_prompt_completion_file_is_a_row_error():
    from specc.data.rowformat import detect_format, row_problem

    row = {"prompt": "q", "completion": "a", "label": False}
    assert detect_format(row) == "unpaired_preference"
    assert "labelled bad" in row_problem(row, "prompt_completion")
    assert row_problem(row, "unpaired_preference") is None
    assert "must be true (desirable) or false (undesirable)" in row_problem({**row, "label": "no"}, "unpaired_preference")


# ---------------------------------------------------------------- chat templates

def test_named_chat_templates_exist_in_the_installed_trl():
    pytest.importorskip("trl")
    import trl.chat_template_utils as utils

    from specc.spec.trainer_names import CHAT_TEMPLATE_NAMES

    missing = [n for n in CHAT_TEMPLATE_NAMES if n != "chatml"
               and not utils.has_generation_markers(getattr(utils, f"{n}_training_chat_template", ""))]
    assert missing == []


def test_a_named_chat_template_reaches_every_stage_that_renders_chats(write_spec):
    plan = _plan(write_spec, method={"chat_template": "chatml"})
    assert (plan.hyperparameters["chat_template"], plan.hyperparameter_sources["chat_template"]) == ("chatml", "spec")
    with_template = [s.id for s in plan.stages if s.config.get("chat_template") == {"name": "chatml"}]
    assert with_template == ["baseline", "sft", "merge", "eval"]
    default = _plan(write_spec)
    assert default.hyperparameters["chat_template"] == "tokenizer"
    assert not any("chat_template" in s.config for s in default.stages)


def test_a_chat_template_file_is_locked_in_the_plan(write_spec):
    import hashlib

    spec = write_spec(method={"chat_template": "templates/mine.jinja"})
    (spec.parent / "templates").mkdir()
    (spec.parent / "templates" / "mine.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    from specc.plan.planner import plan_spec_file

    plan = plan_spec_file(spec)
    digest = hashlib.sha256((spec.parent / "templates" / "mine.jinja").read_bytes()).hexdigest()
    assert plan.hyperparameters["chat_template_sha256"] == digest
    assert plan.stage("sft").config["chat_template"] == {"name": "file", "spec_path": "templates/mine.jinja",
                                                         "sha256": digest}
    missing = plan_spec_file(write_spec(method={"chat_template": "templates/none.jinja"}))
    assert [(f.rule, "method.chat_template" in f.message) for f in missing.findings if f.level == "error"] == [
        ("DATA-MISSING", True)]


def test_settings_no_stage_reads_are_errors_not_ignored(write_spec):
    plan = _plan(write_spec, method={"num_generations": 4, "beta": 0.2, "stages": {"reward": {"learning_rate": 1e-5}}})
    messages = sorted(m for r, m in _errors(plan) if r == "METHOD-SETTING-UNUSED")
    assert len(messages) == 3, _errors(plan)
    assert any("method.stages.reward" in m for m in messages)
    assert any("method.num_generations" in m for m in messages) and any("method.beta" in m for m in messages)


def test_assistant_only_loss_follows_the_rows_read(write_spec):
    """Regression: format auto on prompt/completion rows planned assistant_only_loss true, which the SFT
    stage (now strict) refused; the plan settles it on the rows it read."""
    plan = _plan(write_spec, data={"train": "train_pc.jsonl"})
    assert plan.stage("sft").config["train"]["assistant_only_loss"] is False
    assert _plan(write_spec).stage("sft").config["train"]["assistant_only_loss"] is True  # messages rows
    asked = _plan(write_spec, data={"train": "train_pc.jsonl"}, method={"assistant_only_loss": True})
    assert [r for r, _ in _errors(asked)] == ["METHOD-SETTING-UNUSED"]

"""Adapters and kernels (issue 12): DoRA, rsLoRA, modules_to_save, QLoRA's 4-bit type and double quantisation,
the attention implementation and Liger kernels flow spec → plan (with source) → stage CONFIG → the library's own
argument; settings the budget has no use for are plan errors; values the installed stack cannot honour stop the
stage at its start with one line (run for real on this CPU machine, which has neither flash_attn nor a GPU nor
liger_kernel)."""

from __future__ import annotations

import json

import pytest

from conftest import method_line_errors


def _plan(write_spec, **kw):
    from specc.plan.planner import plan_spec_file

    return plan_spec_file(write_spec(**kw))


def _errors(plan):
    return [(f.rule, f.message) for f in plan.findings if f.level == "error"]


def test_lora_variants_flow_to_the_lora_config(write_spec):
    plan = _plan(write_spec, method={"use_dora": True, "use_rslora": True, "modules_to_save": ["lm_head"],
                                     "attn_implementation": "eager", "use_liger_kernel": False})
    hp, src = plan.hyperparameters, plan.hyperparameter_sources
    assert {k: (hp[k], src[k]) for k in ("use_dora", "use_rslora", "modules_to_save", "attn_implementation",
                                         "use_liger_kernel")} == {
        "use_dora": (True, "spec"), "use_rslora": (True, "spec"), "modules_to_save": (["lm_head"], "spec"),
        "attn_implementation": ("eager", "spec"), "use_liger_kernel": (False, "spec")}
    sft = plan.stage("sft").config
    assert {k: sft["peft"][k] for k in ("use_dora", "use_rslora", "modules_to_save")} == {
        "use_dora": True, "use_rslora": True, "modules_to_save": ["lm_head"]}
    assert sft["train"]["use_liger_kernel"] is False
    # every stage that loads the base model loads it with the same attention kernel
    for stage in plan.stages:
        if "model" in stage.config and stage.kind != "firewall":
            assert stage.config["model"]["attn_implementation"] == "eager", stage.id


def test_lora_defaults_are_visible_and_kernels_absent_unless_asked(write_spec):
    plan = _plan(write_spec)
    hp, src = plan.hyperparameters, plan.hyperparameter_sources
    assert (hp["use_dora"], hp["use_rslora"], src["use_dora"]) == (False, False, "default")
    assert "attn_implementation" not in hp and "use_liger_kernel" not in hp
    sft = plan.stage("sft").config
    assert "attn_implementation" not in sft["model"] and "use_liger_kernel" not in sft["train"]
    assert "modules_to_save" not in sft["peft"]


def test_the_peft_config_is_a_real_lora_config(write_spec):
    peft = pytest.importorskip("peft")
    import dataclasses

    plan = _plan(write_spec, method={"use_dora": True, "use_rslora": True, "modules_to_save": ["lm_head"]})
    names = {f.name for f in dataclasses.fields(peft.LoraConfig)}
    assert set(plan.stage("sft").config["peft"]) <= names


def test_qlora_quant_type_and_double_quant_flow_to_bitsandbytes_config(write_spec):
    plan = _plan(write_spec, method={"parameter_budget": "qlora", "bnb_4bit_quant_type": "fp4",
                                     "bnb_4bit_use_double_quant": False})
    assert plan.stage("sft").config["quantization"] == {"load_in_4bit": True, "bnb_4bit_quant_type": "fp4",
                                                        "bnb_4bit_use_double_quant": False}
    assert plan.hyperparameter_sources["bnb_4bit_quant_type"] == "spec"
    default = _plan(write_spec, method={"parameter_budget": "qlora"})
    assert (default.hyperparameters["bnb_4bit_quant_type"], default.hyperparameter_sources["bnb_4bit_quant_type"]) \
        == ("nf4", "default")


@pytest.mark.parametrize("method,needle", [
    ({"parameter_budget": "full", "use_dora": True}, "method.use_dora"),
    ({"parameter_budget": "lora", "bnb_4bit_quant_type": "fp4"}, "method.bnb_4bit_quant_type"),
    ({"parameter_budget": "qlora", "quant_bits": 8, "bnb_4bit_use_double_quant": False}, "8 bits"),
])
def test_settings_the_budget_has_no_use_for_are_errors(write_spec, method, needle):
    plan = _plan(write_spec, method=method, allow_full=True)
    errors = _errors(plan)
    assert [r for r, _ in errors] == ["ADAPTER-SETTINGS-UNUSED"], errors
    assert needle in errors[0][1]


BAD = [
    ("attn_implementation: flash_attention2", "did you mean `flash_attention_2`"),
    ("attn_implementation: spda", "did you mean `sdpa`"),
    ("bnb_4bit_quant_type: nf5", "did you mean `nf4`"),
    ("use_dora: maybe", "use_dora"),
    ("modules_to_save: ['lm head']", "not a module name"),
]


@pytest.mark.parametrize("line,needle", BAD, ids=[b[1] for b in BAD])
def test_bad_adapter_values_are_located_spec_errors(tmp_path, line, needle):
    errors = method_line_errors(tmp_path, line)
    assert errors and all(e.line == 7 for e in errors), [(e.line, e.message) for e in errors]
    assert any(needle in f"{e.key_path} {e.message} {e.hint}" for e in errors), [str(e) for e in errors]


def test_attention_names_are_the_installed_transformers_names():
    pytest.importorskip("transformers")
    from transformers.modeling_utils import AttentionInterface

    from specc.spec.adapters import ATTN_IMPLEMENTATIONS

    assert set(ATTN_IMPLEMENTATIONS) - {"eager"} <= set(AttentionInterface._global_mapping)


# ---------------------------------------------------------------- run for real on the tiny model

@pytest.mark.train
def test_dora_and_rslora_train_end_to_end_and_are_saved_in_the_adapter(write_spec, compile_spec, stage_runner):
    plan, build = compile_spec(write_spec(method={"use_dora": True, "use_rslora": True,
                                                  "attn_implementation": "eager"}))
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage("sft").script)
    assert '"step": 2' in proc.stdout
    adapter = build / plan.stage("sft").outputs["adapter"]
    saved = json.loads((adapter / "adapter_config.json").read_text())
    assert saved["use_dora"] is True and saved["use_rslora"] is True
    from safetensors.torch import load_file

    weights = load_file(str(adapter / "adapter_model.safetensors"))
    assert any("lora_magnitude_vector" in k for k in weights), sorted(weights)[:6]  # DoRA's magnitude


@pytest.mark.train
@pytest.mark.parametrize("method,needle", [
    ({"attn_implementation": "flash_attention_2"}, "flash_attention_2 needs"),
    ({"use_liger_kernel": True}, "use_liger_kernel needs the liger_kernel package"),
])
def test_kernels_the_stack_cannot_run_stop_the_stage_with_one_line(write_spec, compile_spec, stage_runner,
                                                                  method, needle):
    import importlib.util

    if importlib.util.find_spec("flash_attn" if "attn_implementation" in method else "liger_kernel"):
        pytest.skip("the package is installed here: the refusal cannot be shown")
    plan, build = compile_spec(write_spec(method=method))
    stage_runner(build, plan.stage("firewall").script)
    proc = stage_runner(build, plan.stage("sft").script, check=False)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert not (build / "artifacts/sft/checkpoints").exists() or not any((build / "artifacts/sft/checkpoints").glob("checkpoint-*"))


# ---------------------------------------------------------------- special tokens

def test_special_tokens_flow_to_every_stage_that_loads_the_base_and_save_the_embedding(write_spec):
    tokens = {"pad_token": "<|pad2|>", "extra_special_tokens": ["<|tool|>"]}
    plan = _plan(write_spec, method={"special_tokens": tokens, "modules_to_save": ["norm"]})
    hp, src = plan.hyperparameters, plan.hyperparameter_sources
    assert (hp["special_tokens"], src["special_tokens"]) == (tokens, "spec")
    assert (hp["modules_to_save"], src["modules_to_save"]) == (["norm", "embed_tokens", "lm_head"],
                                                               "rule:ADAPTER-NEW-TOKENS-SAVED")
    assert "ADAPTER-NEW-TOKENS-SAVED" in [d.rule for d in plan.decisions]
    assert plan.stage("sft").config["peft"]["modules_to_save"] == ["norm", "embed_tokens", "lm_head"]
    for sid in ("sft", "merge", "eval"):
        assert plan.stage(sid).config["model"]["special_tokens"] == tokens, sid


@pytest.mark.parametrize("line,needle", [
    ("special_tokens: {pad_token: ''}", "1-64 printable"),
    ("special_tokens: {extra_special_tokens: [a, a]}", "each token once"),
    ("special_tokens: {additional_special_tokens: [a]}", "additional_special_tokens"),
])
def test_bad_special_tokens_are_located_spec_errors(tmp_path, line, needle):
    test_bad_adapter_values_are_located_spec_errors(tmp_path, line, needle)


@pytest.mark.train
def test_new_special_tokens_are_saved_with_the_adapter_and_survive_the_merge(write_spec, compile_spec, stage_runner):
    tokens = {"pad_token": "<|pad2|>", "extra_special_tokens": ["<|tool|>", "<|obs|>"]}
    plan, build = compile_spec(write_spec(method={"special_tokens": tokens}))
    for sid in ("firewall", "sft", "merge"):
        stage_runner(build, plan.stage(sid).script)
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = build / plan.stage("sft").outputs["adapter"]
    merged = build / plan.stage("merge").outputs["model"]
    for where in (adapter, merged):
        tok = AutoTokenizer.from_pretrained(where)
        assert tok.pad_token == "<|pad2|>" and {"<|tool|>", "<|obs|>"} <= set(tok.all_special_tokens), where
    tok = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged)
    rows = model.get_input_embeddings().weight
    assert rows.shape[0] == len(tok) and model.config.pad_token_id == tok.pad_token_id
    saved = load_file(str(adapter / "adapter_model.safetensors"))
    trained = next(v for k, v in saved.items() if k.endswith("embed_tokens.modules_to_save.weight"))
    tool = tok.convert_tokens_to_ids("<|tool|>")
    assert trained.shape[0] == len(tok)
    assert (rows[tool] - trained[tool]).abs().max() < 1e-5  # the merged model has the rows training saved


@pytest.mark.parametrize("name,tokens", [("chatml", ["<|im_end|>", "<|im_start|>"]),
                                         ("llama3", ["<|end_header_id|>", "<|eot_id|>", "<|start_header_id|>"]),
                                         ("gemma", ["<end_of_turn>", "<start_of_turn>"])])
def test_a_named_template_missing_tokens_are_named_and_special_tokens_add_them(name, tokens, tiny_model, capsys):
    pytest.importorskip("trl")
    from specc.runtime import chat_templates, common

    assert chat_templates.template_tokens(chat_templates.template_text({"name": name})) == tokens
    tok = common.load_tokenizer(str(tiny_model), None, {"name": name})
    said = capsys.readouterr().err
    assert f"chat template {name}: the tokenizer has no {', '.join(tokens)}" in said and "special_tokens" in said
    assert all(len(tok(t, add_special_tokens=False)["input_ids"]) > 1 for t in tokens)  # split: not tokens yet
    tok = common.load_tokenizer(str(tiny_model), None, {"name": name}, {"extra_special_tokens": tokens})
    assert "the tokenizer has no" not in capsys.readouterr().err
    assert all(len(tok(t, add_special_tokens=False)["input_ids"]) == 1 for t in tokens)


def test_a_lora_option_the_installed_peft_lacks_is_one_line_and_exit_1(capsys):
    """The check reads the installed peft's LoraConfig fields (DoRA needs peft >= 0.9): an option it lacks stops
    the stage; one left off is dropped, so an older peft still takes the plan's other arguments."""
    pytest.importorskip("peft")
    from specc.runtime.kernels import check_lora_features

    cfg = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": "all-linear", "use_dora": True}
    assert check_lora_features(cfg) == cfg  # the installed peft has DoRA
    assert check_lora_features({**cfg, "use_future_lora": False}) == cfg
    with pytest.raises(SystemExit) as info:
        check_lora_features({**cfg, "use_future_lora": True})
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "method.use_future_lora is not supported by the installed peft" in err and "pip install -U peft" in err

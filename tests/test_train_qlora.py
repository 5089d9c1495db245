"""QLoRA end to end on CPU: the emitted SFT script loads a fresh 4-bit (NF4, double-quant) base with
bitsandbytes, trains a LoRA adapter a few steps, and the merge stage consumes the adapter.

The trap this guards (docs/STACK.md): a 4-bit model that ran an eval-mode forward before training trains
with zero gradients and no error. So the test asserts what the run itself reports — a non-zero gradient
norm on every logged step — and that the saved adapter's LoRA B matrices (initialised to zero) moved.
"""

from __future__ import annotations

import json

import pytest

import conftest as kit

pytestmark = pytest.mark.train

SPEC = """
specc: 1
name: qlora-e2e
goal: {{behaviours: [format], consistency_required: true}}
evidence: {{prompting: {{score: 0.1}}}}
constraints: {{hardware: {{gpus: 0, cpu_memory_gb: 24}}}}
base_model: {{path: {model}, licence: apache-2.0}}
data:
  train: {{path: {train}, format: messages}}
  golden: {{path: {golden}}}
  general_suites:
    - {{name: arithmetic, kind: exact_match, path: {suite}}}
method: {{method: sft, parameter_budget: qlora, max_seq_length: 96, max_steps: 3, micro_batch_size: 2,
          gradient_accumulation: 1}}
eval: {{metric: exact_match, bar: 0.3}}
tracking: {{mode: disabled}}
"""


@pytest.fixture(scope="module")
def qlora(tmp_path_factory):
    root = tmp_path_factory.mktemp("qlora")
    model = kit.link_model(root, "tiny-base", kit.tiny_model_dir())
    data = kit.write_data(root)
    plan, build = kit.compile_spec_to(kit.write_spec_text(root, SPEC.format(model=model, **data)), root / "build")
    kit.pass_firewall(build, plan, build.parent)
    proc = kit.run_plan_stage(build, plan, "sft")
    return plan, build, proc


def test_plan_is_4bit_nf4(qlora):
    plan, *_ = qlora
    assert plan.parameter_budget == "qlora"
    assert plan.stage("sft").config["quantization"] == {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
                                                        "bnb_4bit_use_double_quant": True}


def test_gradients_flow_through_the_4bit_base(qlora):
    plan, build, proc = qlora
    events = [json.loads(line[8:]) for line in proc.stdout.splitlines() if line.startswith("@@specc ")]
    norms = [e["grad_norm"] for e in events if "grad_norm" in e]
    assert len(norms) == 3, proc.stdout
    assert all(n > 0 for n in norms), f"zero gradients (the 4-bit eval-forward trap): {norms}"

    from safetensors.torch import load_file

    weights = load_file(str(build / plan.stage("sft").outputs["adapter"] / "adapter_model.safetensors"))
    b_mats = {k: v for k, v in weights.items() if "lora_B" in k}
    assert b_mats and all(v.abs().sum() > 0 for v in b_mats.values())


def test_the_base_really_was_quantised(qlora):
    """Load the stage's model the way the script does and look at the layer types."""
    plan, build, _ = qlora
    import os

    cwd = os.getcwd()
    os.chdir(build)
    try:
        from specc.build import emitter
        from specc.runtime import common

        cfg = emitter.script_config(plan.stage("sft"), None, os.path.relpath(build.parent, build))
        model = common.load_model(cfg["model"], cfg["init"], common.pick_precision("auto"),
                                  quantization=cfg["quantization"])
    finally:
        os.chdir(cwd)
    kinds = {type(m).__name__ for m in model.modules()}
    assert "Linear4bit" in kinds


def test_merge_consumes_the_qlora_adapter(qlora):
    plan, build, _ = qlora
    kit.run_plan_stage(build, plan, "merge")
    assert (build / plan.stage("merge").outputs["model"] / "config.json").is_file()

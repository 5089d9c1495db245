"""RLHF end to end on the tiny model: SFT → reward model → online RL (RLOO, and GRPO) → merge.

Each stage is the script the real compiler emitted, run as a subprocess from the build directory; the
assertions are on the files each stage declares and on the next stage loading them.
"""

from __future__ import annotations

import json
import shutil

import pytest

import conftest as kit

pytestmark = pytest.mark.train

SPEC = """
specc: 1
name: rlhf-e2e
goal: {{behaviours: [preference]}}
evidence: {{prompting: {{score: 0.1}}}}
constraints: {{hardware: {{gpus: 0, cpu_memory_gb: 24}}}}
base_model: {{path: {model}, licence: apache-2.0}}
data:
  train: {{path: {train}, format: messages}}
  preference: {{path: {preference}}}
  prompts: {{path: {prompts}}}
  golden: {{path: {golden}}}
  general_suites:
    - {{name: arithmetic, kind: exact_match, path: {suite}}}
method: {{method: rlhf, rl_algorithm: {algo}, max_seq_length: 96, max_steps: 2, micro_batch_size: 2,
          gradient_accumulation: 1}}
eval: {{metric: exact_match, bar: 0.3}}
tracking: {{mode: disabled}}
"""


def _workspace(root, algo):
    root.mkdir(parents=True, exist_ok=True)
    model = kit.link_model(root, "tiny-base", kit.tiny_model_dir())
    data = kit.write_data(root)
    spec = kit.write_spec_text(root, SPEC.format(model=model, algo=algo, **data))
    plan, build = kit.compile_spec_to(spec, root / "build")
    return plan, build


@pytest.fixture(scope="module")
def rlhf(tmp_path_factory):
    plan, build = _workspace(tmp_path_factory.mktemp("rlhf"), "rloo")
    kit.pass_firewall(build, plan, build.parent)
    kit.run_plan_stage(build, plan, "sft")
    reward = kit.run_plan_stage(build, plan, "reward")
    rl = kit.run_plan_stage(build, plan, "rl")
    return plan, build, reward, rl


def _progress(proc):
    return [json.loads(line[len("@@specc "):]) for line in proc.stdout.splitlines() if line.startswith("@@specc ")]


def test_graph_is_sft_reward_rl(rlhf):
    plan, *_ = rlhf
    kinds = [s.kind for s in plan.stages]
    assert kinds.index("sft") < kinds.index("reward") < kinds.index("rl") < kinds.index("eval")
    assert plan.stage("rl").config["algorithm"] == "rloo"


def test_reward_stage_writes_a_classifier_adapter(rlhf):
    plan, build, reward, _ = rlhf
    out = build / plan.stage("reward").outputs["adapter"]
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["task_type"] == "SEQ_CLS"
    assert "score" in (cfg.get("modules_to_save") or [])  # the new reward head is saved with the adapter
    assert (build / "artifacts/reward/specc_done.json").is_file()
    losses = [e["loss"] for e in _progress(reward) if "loss" in e]
    assert losses and all(x == x for x in losses)


def test_rl_consumes_reward_and_sft_and_moves_the_policy(rlhf):
    plan, build, _, rl = rlhf
    from safetensors.torch import load_file

    out = build / plan.stage("rl").outputs["adapter"]
    assert (out / "adapter_config.json").is_file()
    assert not (out / "ref").exists(), "TRL's frozen reference adapter must not be saved"
    sft = load_file(str(build / plan.stage("sft").outputs["adapter"] / "adapter_model.safetensors"))
    after = load_file(str(out / "adapter_model.safetensors"))
    assert sft.keys() == after.keys()  # the SFT adapter was continued, so it still applies to the base
    assert max((sft[k] - after[k]).abs().max().item() for k in sft) > 0
    events = _progress(rl)
    assert any("reward" in e for e in events), "the reward model scored the policy's samples"
    assert "reward model starts from artifacts/sft/adapter" in rl.stderr


def test_merge_consumes_the_rl_adapter(rlhf):
    plan, build, *_ = rlhf
    kit.run_plan_stage(build, plan, "merge")
    merged = build / plan.stage("merge").outputs["model"]
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(merged)
    assert model.config.vocab_size > 0


def test_grpo_variant_trains_against_the_same_reward(rlhf, tmp_path):
    plan, build, *_ = rlhf
    g_plan, g_build = _workspace(tmp_path / "grpo", "grpo")
    assert g_plan.stage("rl").config["algorithm"] == "grpo"
    shutil.copytree(build / "artifacts", g_build / "artifacts", symlinks=True)
    shutil.copytree(build / "reports", g_build / "reports")
    shutil.rmtree(g_build / "artifacts" / "rl")
    proc = kit.run_plan_stage(g_build, g_plan, "rl")
    assert (g_build / g_plan.stage("rl").outputs["adapter"] / "adapter_model.safetensors").is_file()
    assert any("reward" in e for e in _progress(proc))

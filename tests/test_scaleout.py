"""Scale-out (issue 13): the memory estimate knows the strategy, the plan launches the strategy its own estimate
fits under, a user's strategy is honoured or refused with numbers, and every launch config the planner can emit
is one accelerate's own loader and launcher accept."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from conftest import make_fixture_dir, plan_for
from specc.build.launch import config_text, distributed_type
from specc.plan.estimator import TrainingShape, estimate_memory
from specc.plan.model import Launch
from specc.plan.modelinfo import model_facts

L31_8B = model_facts("meta-llama/Llama-3.1-8B")
QWEN_72B = model_facts("Qwen/Qwen2.5-72B")
FULL = {"goal": {"behaviours": ["skill"]}, "evidence": {"prompting": {"score": 0.2}},
        "data": {"train": {"path": "train.jsonl"}}, "constraints": {"budget": {"allow_full_finetune": True}}}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_fixture_dir(tmp_path)


def _hw(**hw):
    return {"constraints": {"hardware": hw}}


def _plan(root, *patches):
    from conftest import overlay

    patch: dict = {}
    for p in patches:
        patch = overlay(patch, p)
    return plan_for(root, patch)


# ---- estimator: per-device memory under each strategy ----------------------------------------------------

def test_per_device_memory_by_strategy():
    shape = TrainingShape(budget="full", precision="bf16", seq_len=2048, num_gpus=8)
    one = estimate_memory(L31_8B, replace(shape, num_gpus=1))
    ddp = estimate_memory(L31_8B, replace(shape, sharding="ddp"))
    zero2 = estimate_memory(L31_8B, replace(shape, sharding="zero2"))
    fsdp = estimate_memory(L31_8B, replace(shape, sharding="fsdp"))
    zero3 = estimate_memory(L31_8B, replace(shape, sharding="zero3"))
    assert ddp.per_gpu == one.per_gpu  # a replica holds everything
    assert zero2.weights == one.weights and zero2.gradients == one.gradients // 8
    assert zero2.optimizer_state == one.optimizer_state // 8
    assert fsdp.weights < one.weights / 3 and fsdp.per_gpu == zero3.per_gpu
    assert fsdp.per_gpu < zero2.per_gpu < ddp.per_gpu
    for m in (one, ddp, zero2, fsdp):
        assert m.cpu_offloaded == 0


def test_cpu_offload_moves_state_to_host_ram():
    shape = TrainingShape(budget="full", precision="bf16", seq_len=2048, num_gpus=8)
    fsdp = estimate_memory(L31_8B, replace(shape, sharding="fsdp"))
    fsdp_off = estimate_memory(L31_8B, replace(shape, sharding="fsdp", offload=True))
    zero2 = estimate_memory(L31_8B, replace(shape, sharding="zero2"))
    zero2_off = estimate_memory(L31_8B, replace(shape, sharding="zero2", offload=True))
    # FSDP offload: parameters, gradients and optimiser state leave the GPU; the gathered layers stay.
    assert fsdp_off.optimizer_state == 0 and fsdp_off.gradients == 0 and fsdp_off.weights < fsdp.weights
    assert fsdp_off.cpu_offloaded == pytest.approx(fsdp.model_states - fsdp_off.weights, rel=0.01)
    # ZeRO-2 offload: the optimiser state only.
    assert zero2_off.optimizer_state == 0 and zero2_off.weights == zero2.weights
    assert zero2_off.cpu_offloaded == zero2.optimizer_state
    assert any("CPU offload" in a for a in fsdp_off.assumptions)
    # Offload is a sharded-strategy setting: DDP ignores it.
    ddp = estimate_memory(L31_8B, replace(shape, sharding="ddp", offload=True))
    assert ddp.cpu_offloaded == 0


# ---- the plan launches what its estimate fits under --------------------------------------------------------

def _launch_yaml(plan) -> dict:
    return yaml.safe_load(config_text(plan.launch))


@pytest.mark.parametrize("hardware, expected", [
    ({"gpus": 8, "gpu_memory_gb": 80}, ("zero2", "fsdp")),  # 8B full on one node of 8×80 GB
    ({"gpus": 8, "gpu_memory_gb": 24, "nodes": 4, "rendezvous": {"host": "10.0.0.1", "port": 29500}}, ("fsdp",)),
])
def test_full_tune_that_only_fits_sharded_is_launched_sharded(root, hardware, expected):
    plan = _plan(root, FULL, {"base_model": {"id": "meta-llama/Llama-3.1-8B", "licence": "llama3.1", "licence_acknowledged": True}}, _hw(**hardware))
    assert plan.ok, [f.message for f in plan.findings if f.level == "error"]
    assert plan.parameter_budget == "full"
    row = next(r for r in plan.estimate.memory if r.budget == "full")
    assert row.fits and row.strategy in expected
    assert plan.launch.strategy == row.strategy  # never DDP for a plan that fits only sharded
    decision = next(d for d in plan.decisions if d.rule.startswith("LAUNCH-"))
    assert decision.rule == "LAUNCH-SHARDED" and f"{row.per_device_gb:g} GiB" in decision.reason
    cfg = _launch_yaml(plan)
    assert cfg["distributed_type"] == {"fsdp": "FSDP", "zero2": "DEEPSPEED"}[row.strategy]


def test_replicas_that_fit_launch_ddp(root):
    plan = _plan(root, {"data": {"train": {"path": "train.jsonl"}}}, _hw(gpus=4, gpu_memory_gb=80))
    row = next(r for r in plan.estimate.memory if r.budget == plan.parameter_budget)
    assert row.strategy == "ddp" and row.fits and plan.launch.strategy == "ddp"
    assert _launch_yaml(plan)["distributed_type"] == "MULTI_GPU"


def test_forced_strategy_is_honoured_when_it_fits(root):
    plan = _plan(root, FULL, {"base_model": {"id": "meta-llama/Llama-3.1-8B", "licence": "llama3.1", "licence_acknowledged": True}}, _hw(gpus=8, gpu_memory_gb=80, strategy="zero3"))
    assert plan.ok and plan.launch.strategy == "zero3"
    row = next(r for r in plan.estimate.memory if r.budget == plan.parameter_budget)
    assert row.strategy == "zero3" and row.fits
    cfg = _launch_yaml(plan)
    assert cfg["deepspeed_config"]["zero_stage"] == 3 and cfg["deepspeed_config"]["zero3_init_flag"] is True


def test_forced_strategy_that_does_not_fit_is_refused_with_numbers(root):
    # 8B full tuning as DDP replicas on 8×40 GB: each replica needs about 60 GiB.
    plan = _plan(root, FULL, {"base_model": {"id": "meta-llama/Llama-3.1-8B", "licence": "llama3.1",
                                             "licence_acknowledged": True},
                              "method": {"parameter_budget": "full"}}, _hw(gpus=8, gpu_memory_gb=40, strategy="ddp"))
    assert not plan.ok
    errors = {f.rule: f for f in plan.findings if f.level == "error"}
    assert "LAUNCH-STRATEGY-DOESNT-FIT" in errors
    assert "GiB per device" in errors["LAUNCH-STRATEGY-DOESNT-FIT"].message
    # Without a forced budget the plan falls back to a smaller budget under DDP, but says what auto would do.
    plan = _plan(root, FULL, {"base_model": {"id": "Qwen/Qwen2.5-72B"}},
                 _hw(gpus=8, gpu_memory_gb=24, strategy="ddp"))
    nothing = next(f for f in plan.findings if f.rule == "BUDGET-NOTHING-FITS")
    assert "ddp" in nothing.message
    assert "with strategy auto" in nothing.hint and "fsdp" in nothing.hint


def test_cpu_offload_is_a_spec_field_and_reaches_the_launch_config(root):
    plan = _plan(root, FULL, {"base_model": {"id": "meta-llama/Llama-3.1-8B", "licence": "llama3.1", "licence_acknowledged": True}},
                 _hw(gpus=8, gpu_memory_gb=40, strategy="fsdp", cpu_offload=True, cpu_memory_gb=512))
    assert plan.ok and plan.launch.strategy == "fsdp" and plan.launch.cpu_offload
    assert _launch_yaml(plan)["fsdp_config"]["fsdp_offload_params"] is True
    row = next(r for r in plan.estimate.memory if r.budget == plan.parameter_budget)
    assert "CPU offload" in row.note


def test_memory_headroom_is_spec_overridable(root):
    base = {"base_model": {"id": "meta-llama/Llama-2-7b-hf", "licence": "llama2", "licence_acknowledged": True},
            "method": {"max_seq_length": 512, "micro_batch_size": 1, "gradient_checkpointing": True}}
    plan = _plan(root, {"data": {"train": {"path": "train.jsonl"}}}, base, _hw(gpus=1, gpu_memory_gb=16))
    assert plan.parameter_budget == "lora"  # the published 7B-LoRA-on-16-GB set-up
    wary = _plan(root, {"data": {"train": {"path": "train.jsonl"}}}, base,
                 _hw(gpus=1, gpu_memory_gb=16, memory_headroom=0.2))
    assert wary.parameter_budget == "qlora"


# ---- every launch config the planner can emit, checked by accelerate itself --------------------------------

LAUNCHES = [
    Launch(strategy=strategy, num_processes=procs, num_machines=machines, launcher="accelerate",
           cpu_offload=offload, main_process_ip="10.0.0.1" if machines > 1 else None,
           main_process_port=29500 if machines > 1 else None)
    for strategy, offload, (procs, machines) in itertools.product(
        ("ddp", "fsdp", "zero2", "zero3"), (False, True), ((2, 1), (16, 2)))
    if not (offload and strategy == "ddp")
]


@pytest.mark.parametrize("launch", LAUNCHES, ids=lambda l: f"{l.strategy}-off{int(l.cpu_offload)}-m{l.num_machines}")
def test_every_launch_config_loads_in_accelerate(launch, tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    path = tmp_path / "launch.yaml"
    path.write_text(config_text(launch), encoding="utf-8")
    cfg = load_config_from_file(str(path))  # accelerate's own loader: unknown top-level keys are errors
    assert cfg.distributed_type.value == distributed_type(launch)
    assert cfg.num_processes == launch.num_processes and cfg.num_machines == launch.num_machines
    options = {a for action in launch_command_parser()._actions for a in action.option_strings}
    if launch.strategy == "fsdp":
        fsdp = cfg.fsdp_config
        for key in fsdp:  # accelerate launch turns each key into its --fsdp_* option; an unknown one is lost
            assert f"--{key if key.startswith('fsdp_') else 'fsdp_' + key}" in options, key
        assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
        assert fsdp["fsdp_cpu_ram_efficient_loading"] is True
        assert fsdp["fsdp_reshard_after_forward"] is True  # full shard
        assert fsdp["fsdp_offload_params"] is launch.cpu_offload
    elif launch.strategy in ("zero2", "zero3"):
        ds = cfg.deepspeed_config
        for key in ds:
            assert f"--{key}" in options, key
        assert ds["zero_stage"] == (3 if launch.strategy == "zero3" else 2)
        assert ds["offload_optimizer_device"] == ("cpu" if launch.cpu_offload else "none")
        assert ds["offload_param_device"] == ("cpu" if launch.cpu_offload and launch.strategy == "zero3" else "none")
        assert ds.get("zero3_init_flag", False) is (launch.strategy == "zero3")
    else:
        assert not cfg.fsdp_config and not cfg.deepspeed_config


# ---- QLoRA across ranks ------------------------------------------------------------------------------------

def test_sharded_qlora_stores_4bit_weights_in_the_compute_dtype(root):
    plan = _plan(root, {"data": {"train": {"path": "train.jsonl"}}},
                 {"base_model": {"id": "Qwen/Qwen2.5-72B"}}, _hw(gpus=8, gpu_memory_gb=24))
    assert plan.ok and plan.parameter_budget == "qlora" and plan.launch.strategy == "fsdp"
    train = next(s for s in plan.stages if s.kind == "sft")
    quant = train.config["quantization"]
    assert quant["bnb_4bit_quant_storage"] == "bfloat16"
    import inspect

    from transformers import BitsAndBytesConfig

    assert set(quant) <= set(inspect.signature(BitsAndBytesConfig.__init__).parameters)
    # Replicated QLoRA keeps bitsandbytes' default storage.
    single = _plan(root, {"data": {"train": {"path": "train.jsonl"}}},
                   {"base_model": {"id": "Qwen/Qwen2.5-7B"}, "method": {"parameter_budget": "qlora"}},
                   _hw(gpus=2, gpu_memory_gb=24))
    assert single.launch.strategy == "ddp"
    assert "bnb_4bit_quant_storage" not in next(s for s in single.stages if s.kind == "sft").config["quantization"]


def test_quantized_load_places_each_rank_on_its_own_gpu():
    from specc.runtime.placement import quantized_device_map, sharded_launch

    assert quantized_device_map({"WORLD_SIZE": "4", "LOCAL_RANK": "3"}, cuda=True) == {"": 3}
    assert quantized_device_map({"WORLD_SIZE": "1"}, cuda=True) is None
    assert quantized_device_map({"WORLD_SIZE": "2", "LOCAL_RANK": "1"}, cuda=False) is None
    assert sharded_launch({"ACCELERATE_USE_FSDP": "true"}) == "fsdp"
    assert sharded_launch({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"}) == "zero3"
    assert sharded_launch({}) is None


def test_quant_storage_follows_the_run_time_compute_dtype():
    import torch

    from specc.runtime.common import _quantization_config

    planned = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
               "bnb_4bit_quant_storage": "bfloat16"}
    cfg = _quantization_config(planned, torch.float16)  # an fp16 GPU: storage must follow compute
    assert cfg.bnb_4bit_quant_storage == torch.float16 and cfg.bnb_4bit_compute_dtype == torch.float16
    plain = _quantization_config({k: v for k, v in planned.items() if k != "bnb_4bit_quant_storage"}, torch.bfloat16)
    assert plain.bnb_4bit_quant_storage == torch.uint8


def test_offloaded_state_must_fit_host_ram():
    from specc.plan.estimator import DeviceBudget, choose_budget

    shape = TrainingShape(seq_len=1024, sharding="fsdp", offload=True)
    roomy = choose_budget(L31_8B, DeviceBudget(gpus=8, gpu_memory_gb=24, cpu_memory_gb=1024), shape, forced="full")
    tight = choose_budget(L31_8B, DeviceBudget(gpus=8, gpu_memory_gb=24, cpu_memory_gb=32), shape, forced="full")
    assert roomy.fits and not tight.fits
    assert "host RAM per node" in tight.option("full").reason and "usable" in tight.option("full").reason


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_single_machine_launches_at_once_do_not_share_a_rendezvous_port(strategy, tmp_path, monkeypatch):
    """Two multi-process stages on one machine at once (two builds, two pytest workers): with a fixed port
    (accelerate's default 29500) both launches find it free, then the second one's rendezvous store cannot bind
    it. Forced here: the other launch already listens on the port this one would pick, yet its check ran before
    that (``is_port_in_use`` answers False). The single-machine config asks accelerate for a free port instead."""
    import errno
    import socket

    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import launch as accelerate_launch

    launch = Launch(strategy=strategy, num_processes=2, num_machines=1, launcher="accelerate")
    path = tmp_path / "launch.yaml"
    path.write_text(config_text(launch), encoding="utf-8")
    args, _defaults, _mp = _validate_launch_command(
        launch_command_parser().parse_args(["--config_file", str(path), "train.py"]))
    held, other = 29500, socket.socket()  # the other launch's rendezvous store, on accelerate's default port
    try:
        other.bind(("127.0.0.1", held))
        other.listen()
    except OSError as exc:  # something else holds it already: as good a stand-in
        assert exc.errno == errno.EADDRINUSE
    try:
        monkeypatch.setattr(accelerate_launch, "is_port_in_use", lambda port: False)
        accelerate_launch.prepare_multi_gpu_env(args)
        assert int(args.master_port) != held
        probe = socket.socket()
        try:
            probe.bind(("127.0.0.1", int(args.master_port)))  # free: nothing listens there yet
        finally:
            probe.close()
    finally:
        other.close()

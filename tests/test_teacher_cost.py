"""Distillation's teacher is costed (issue 13): serving memory, a refusal naming the smallest hardware that serves
it, and its generation in the GPU-hours."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_fixture_dir, plan_for
from specc.plan.modelinfo import model_facts
from specc.plan.teacher import teacher_serving

DISTILL = {"goal": {"behaviours": ["latency"]}, "data": {"prompts": {"path": "prompts.jsonl"}},
           "base_model": {"id": "Qwen/Qwen2.5-0.5B"}}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_fixture_dir(tmp_path)


def _teacher(ref):
    return {"teacher": {"id": ref, "licence": "llama3.1", "licence_acknowledged": True}}


def test_405b_teacher_on_one_24gb_gpu_is_refused_with_the_smallest_hardware(root):
    plan = plan_for(root, {**DISTILL, **_teacher("meta-llama/Llama-3.1-405B"),
                           "constraints": {"hardware": {"gpus": 1, "gpu_memory_gb": 24}}})
    finding = next(f for f in plan.findings if f.rule == "DISTILL-TEACHER-DOESNT-FIT")
    assert finding.level == "error" and not plan.ok
    assert "GiB to serve" in finding.message and "24 GB" not in finding.message.split("usable")[1]
    hint = finding.hint
    # 405B in 16 bits is ~800 GiB: more than 8 × 24/48/80 GB; 8 × 141 GB (H200) serves it.
    assert "8 GPU(s) of 141 GB on one node" in hint
    facts = model_facts("meta-llama/Llama-3.1-405B")
    assert teacher_serving(facts, 8, 141, batch=4, tokens=2048).fits
    assert not teacher_serving(facts, 8, 80, batch=4, tokens=2048).fits


def test_teacher_split_over_a_node_and_generation_in_gpu_hours(root):
    one = plan_for(root, {**DISTILL, **_teacher("meta-llama/Llama-3.1-70B"),
                          "constraints": {"hardware": {"gpus": 8, "gpu_memory_gb": 80}}})
    assert one.ok, [f.message for f in one.findings if f.level == "error"]
    notes = " ".join(one.estimate.notes)
    assert "GPU(s)" in notes and "teacher generation" in notes and "included in gpu_hours" in notes
    served = next(n for n in one.estimate.notes if "to serve in 16 bits" in n)
    assert "over 2 GPU(s)" in served  # 70B in 16 bits needs two 80 GB GPUs
    small = plan_for(root, {**DISTILL, **_teacher("meta-llama/Llama-3.2-1B"),
                            "constraints": {"hardware": {"gpus": 8, "gpu_memory_gb": 80}}})
    assert one.estimate.gpu_hours > small.estimate.gpu_hours  # the teacher's size shows in the hours


def test_logit_teacher_memory_is_noted(root):
    plan = plan_for(root, {**DISTILL, "base_model": {"id": "meta-llama/Llama-3.2-1B", "licence": "llama3.1",
                                                     "licence_acknowledged": True},
                           **_teacher("meta-llama/Llama-3.1-8B"), "method": {"distillation": "logit"},
                           "constraints": {"hardware": {"gpus": 1, "gpu_memory_gb": 80}}})
    assert any("to serve in 16 bits" in n for n in plan.estimate.notes)

"""The wording of issue-14 decisions, where the wording is the point: serving comparisons, forced budgets that
point at what fits, quoted licence clauses, few-shot advice, forgetting advice, the safety suite offer, and
recommendations that never ask for what the spec already records. The catalogue (tests/scenarios/catalogue.yaml)
checks which rules fire; this file checks what they say."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_fixture_dir, plan_for


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fixture_dir(tmp_path_factory.mktemp("decisions"))


def _reason(plan, rule: str) -> str:
    [d] = [d for d in plan.decisions if d.rule == rule]
    return d.reason


def _finding(plan, rule: str):
    [f] = [f for f in plan.findings if f.rule == rule]
    return f


SLOW_BUT_GOOD = {
    "goal": {"behaviours": ["latency", "format"]},
    "evidence": {"prompting": {"score": 0.90}},
    "eval": {"bar": 0.85},
    "constraints": {"serving": {"max_latency_ms": 400, "current_latency_ms": 1500}},
    "base_model": {"id": "Qwen/Qwen2.5-0.5B-Instruct"},
    "teacher": {"id": "Qwen/Qwen2.5-7B-Instruct"},
    "data": {"prompts": {"path": "prompts.jsonl"}},
}


def test_quality_met_does_not_silence_latency(root):
    plan = plan_for(root, SLOW_BUT_GOOD)
    assert plan.trains and plan.method == "distill"
    assert _reason(plan, "SERVING-GOAL-UNMET") == "latency: current 1,500 ms > budget 400 ms."
    assert _reason(plan, "LEVER-QUALITY-MET-SERVING-NOT") == (
        "prompting scored 0.9 on exact_match, bar 0.85: quality is met; but latency: current 1,500 ms > budget "
        "400 ms. Quality and serving are separate reasons: the plan changes the model for serving only.")
    assert _reason(plan, "LEVER-DISTILL-SERVING").startswith("latency: current 1,500 ms > budget 400 ms; teacher")


def test_met_latency_is_no_reason_and_says_so(root):
    spec = {**SLOW_BUT_GOOD, "evidence": {}, "constraints": {"serving": {"max_latency_ms": 200,
                                                                           "current_latency_ms": 120}}}
    plan = plan_for(root, spec)
    assert not plan.trains
    assert _reason(plan, "SERVING-GOAL-MET") == "latency: current 120 ms ≤ budget 200 ms."
    assert not any("latency wanted" in d.reason for d in plan.decisions)
    assert "nothing to distil for" in _reason(plan, "LEVER-SERVING-ALREADY-MET")


def test_context_cost_is_compared_with_its_current_value(root):
    plan = plan_for(root, {"goal": {"behaviours": ["format"]}, "evidence": {"prompting": {"score": 0.92}},
                           "eval": {"bar": 0.85},
                           "constraints": {"serving": {"max_context_tokens": 1500, "current_context_tokens": 6000}},
                           "data": {"train": {"path": "train.jsonl"}}})
    assert _reason(plan, "SERVING-GOAL-UNMET") == "context tokens per call: current 6,000 tokens > budget 1,500 tokens."
    assert _reason(plan, "LEVER-FINETUNE-CONTEXT").endswith("shortens every prompt.")


def test_prompt_meets_bar_with_unfixable_cost_says_why_it_stops(root):
    plan = plan_for(root, {"goal": {"behaviours": ["style"]}, "evidence": {"prompting": {"score": 0.9}},
                           "constraints": {"serving": {"max_cost_per_call": 0.01, "current_cost_per_call": 0.03}}})
    assert _reason(plan, "LEVER-PROMPT-MEETS-BAR") == (
        "prompting scored 0.9 on exact_match, bar 0.8; serving: cost per call: current 0.03 > budget 0.01, which "
        "tuning without a teacher cannot fix.")


FORCED_LORA_16GB = {
    "goal": {"behaviours": ["style"], "consistency_required": True},
    "evidence": {"prompting": {"score": 0.5}},
    "base_model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
    "constraints": {"hardware": {"gpu_memory_gb": 16}},
    "method": {"parameter_budget": "lora"},
    "data": {"train": {"path": "train.jsonl"}},
}


def test_forced_budget_that_does_not_fit_points_to_the_one_that_does(root):
    forced = plan_for(root, FORCED_LORA_16GB)
    finding = _finding(forced, "BUDGET-FORCED-DOESNT-FIT")
    assert finding.message == ("method.parameter_budget is lora but it does not fit: lora does not fit: needs 21.7 "
                               "GiB per device of 15.2 GiB usable (1 GPU(s), none; 41.9M trainable params)")
    assert finding.hint == ("remove method.parameter_budget (or set it to qlora): qlora fits, needing 11.6 GiB per "
                            "device of 15.2 GiB usable (activation checkpointing on, micro batch 1)")
    unforced = plan_for(root, {**FORCED_LORA_16GB, "method": {}})
    assert unforced.ok and unforced.parameter_budget == "qlora"


def test_forced_budget_that_fits_says_it_was_forced(root):
    plan = plan_for(root, {**FORCED_LORA_16GB, "constraints": {}, "base_model": {"id": "Qwen/Qwen2.5-1.5B-Instruct"}})
    reason = _reason(plan, "BUDGET-FORCED")
    assert reason.startswith("method.parameter_budget is lora (chosen by the spec, not by the guide); it fits, needing")
    assert "smallest intervention" not in reason


def test_non_commercial_licence_is_refused_for_a_product_with_the_clause_quoted(root):
    plan = plan_for(root, {"goal": {"behaviours": ["format"], "consistency_required": True,
                                    "intended_use": "commercial"},
                           "evidence": {"prompting": {"score": 0.5}},
                           "data": {"train": {"path": "train.jsonl", "licence": "cc-by-nc-4.0"}}})
    finding = _finding(plan, "LICENCE-NONCOMMERCIAL-USE")
    assert finding.level == "error"
    assert finding.message == (
        "goal.intended_use is commercial but data.train dataset train.jsonl is licensed cc-by-nc-4.0, which "
        "forbids it. Creative Commons Attribution-NonCommercial 4.0: \"Non-commercial purposes only, with "
        "attribution; a model trained on the outputs should stay non-commercial.\" (CC BY-NC 4.0 legal code, "
        "sections 1(i) (NonCommercial) and 2(a)(1) (licence grant))")


def test_few_rows_without_evidence_advise_few_shot_first(root):
    plan = plan_for(root, {"goal": {"behaviours": ["format"], "consistency_required": True},
                           "data": {"train": {"path": "fifty.jsonl"}}})
    assert _finding(plan, "DATA-FEW-SHOT-FIRST").level == "warning"
    assert ("Try the 50 demonstrations of fifty.jsonl as few-shot examples in the prompt first; record the "
            "golden-set score under evidence.prompting.") in plan.recommendations


def test_no_recommendation_to_record_what_is_recorded(root):
    met = plan_for(root, {"goal": {"behaviours": ["style"], "consistency_required": True},
                          "evidence": {"prompting": {"score": 0.85}}})
    assert not met.trains
    assert not any("record the result under evidence.prompting" in r for r in met.recommendations)
    absent = plan_for(root, {"goal": {"behaviours": ["format"]}})
    assert any("record the result under evidence.prompting" in r for r in absent.recommendations)


def test_raw_text_is_called_continued_pretraining(root):
    plan = plan_for(root, {"goal": {"behaviours": ["skill"]}, "evidence": {"prompting": {"score": 0.2}},
                           "data": {"train": {"path": "raw_text.jsonl"}}})
    reason = _reason(plan, "METHOD-CONTINUED-PRETRAINING")
    assert "demonstrations to imitate" not in reason
    assert reason == ("data.train (raw_text.jsonl) holds raw text rows, not prompt → response pairs: the model "
                      "learns to continue the documents (next-token prediction over the whole text).")


def test_forgetting_risk_is_in_the_plan_and_its_advice_in_the_contract(root):
    plan = plan_for(root, {"goal": {"behaviours": ["format"], "consistency_required": True},
                           "evidence": {"prompting": {"score": 0.5}},
                           "base_model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
                           "constraints": {"hardware": {"gpu_memory_gb": 80}}, "method": {"epochs": 10},
                           "data": {"train": {"path": "big.jsonl"}}})
    risk = plan.forgetting
    assert risk is not None and risk.level == "high"
    assert risk.trainable_parameters == 41_943_040 and risk.optimizer_steps == 125_000 and risk.narrowness == 4
    assert plan.contract is not None and plan.contract.forgetting_advice == risk.advice
    assert risk.advice[0] == "Train fewer epochs (method.epochs: 1 instead of 10), or cap method.max_steps."
    assert any("add `data.replay: {path: data/general.jsonl, ratio: 0.5}` (about 200000 general examples)" in a
               for a in risk.advice)
    assert not any("LoRA instead of full" in a for a in risk.advice)  # it already is LoRA
    from specc.plan.render import render_markdown, render_text

    assert "Forgetting risk: high" in render_text(plan)
    assert "**Forgetting risk:** high" in render_markdown(plan)


def test_aligned_base_gets_the_refusal_suite_offer_and_the_suite_compiles(root, tmp_path):
    plan = plan_for(root, {"goal": {"behaviours": ["tone"], "consistency_required": True},
                           "evidence": {"prompting": {"score": 0.5}},
                           "base_model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
                           "constraints": {"hardware": {"gpu_memory_gb": 80}},
                           "data": {"train": {"path": "train.jsonl"}}})
    finding = _finding(plan, "SAFETY-ALIGNED-BASE")
    assert "kind: refusal" in finding.hint and "data.general_suites" in finding.hint
    with_suite = plan_for(root, {"goal": {"behaviours": ["tone"], "consistency_required": True},
                                 "evidence": {"prompting": {"score": 0.5}},
                                 "data": {"train": {"path": "train.jsonl"},
                                          "general_suites": [{"name": "safety", "kind": "refusal"}]}})
    assert "SAFETY-REFUSAL-SUITE" in {d.rule for d in with_suite.decisions}
    assert not any("refusal suite" in r for r in with_suite.recommendations)
    baseline = with_suite.stage("baseline")
    assert baseline.config["suites"] == [{"name": "safety", "kind": "refusal", "spec_path": None, "task": None,
                                          "limit": None}]


def test_gate_advice_is_never_empty_even_when_the_risk_was_low(root):
    """The estimate ranks plans; the gate measures. When a low-risk tune still forgets, the eval stage prints the
    levers in order of cost (contract.forgetting_advice), and the plan recommends nothing extra."""
    plan = plan_for(root, {"goal": {"behaviours": ["skill"]}, "evidence": {"prompting": {"score": 0.3}},
                           "base_model": {"id": None, "path": "models/tiny", "licence": "apache-2.0"},
                           "constraints": {"hardware": {"gpus": 0}, "budget": {"allow_full_finetune": True}},
                           "data": {"train": {"path": "small.jsonl"}}})
    assert plan.parameter_budget == "full" and plan.forgetting is not None and plan.forgetting.level == "low"
    assert plan.forgetting.advice == []
    assert plan.contract is not None and plan.contract.forgetting_advice == [
        "Tune with LoRA instead of full fine-tuning (method.parameter_budget: lora): it forgets less.",
        "Lower the learning rate (method.learning_rate) or train fewer steps (method.epochs, now 3, or "
        "method.max_steps).",
        "Replay general data: add `data.replay: {path: data/general.jsonl, ratio: 0.5}` (about 10 general "
        "examples): general instruction rows in the task's format (never the suites' or the golden set's rows), "
        "mixed into the SFT stage, keep the old skills exercised.",
    ]
    assert not any("LoRA instead of full" in r for r in plan.recommendations)

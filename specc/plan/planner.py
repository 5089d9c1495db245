"""make_plan: apply the adaptation decision guide (:mod:`specc.plan.rules`) to a spec and the facts on disk.

The planner answers, in order, the questions the guide asks, and records each answer as a
:class:`~specc.plan.model.RuleFiring` (a decision) or a :class:`~specc.plan.model.Finding` (something a reviewer
must see), always naming the rule:

1. **levers** — prompting first; retrieval for changing facts or citations; fine-tuning for consistent
   behaviour, skill or latency; distillation for serving cost. A plan may stop before training.
2. **method** — SFT (imitation), DPO (pairs), RLHF (pairs + online sampling), distillation (teacher).
3. **licences** — closed-API teachers are refused; open licences are read from the registry.
4. **parameter budget** — full / LoRA / QLoRA from the memory estimate (:mod:`specc.plan.estimator`).
5. **hyper-parameters**, the **eval contract**, **tracking**, and the **stages** (:mod:`specc.plan.stages`).

It is a pure function of the spec and the facts it reads (data hashes and row counts, local model
configs): same inputs, byte-identical plan. No clocks, no absolute paths, no network.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specc import __version__
from specc.data.facts import read_data_fact
from specc.plan.defaults import DEFAULT_HYPERPARAMETERS, LEARNING_RATES
from specc.plan.model import (
    Contract,
    DataFact,
    Estimate,
    Finding,
    MemoryRow,
    ModelInfo,
    Plan,
    RuleFiring,
    Suite,
    Tracking,
)
from specc.plan.rules import RULES_BY_ID
from specc.spec.language import ModelRef, Spec

__all__ = ["make_plan", "plan_spec_file", "meets_bar", "FAST_CHANGE", "DEFAULT_HYPERPARAMETERS"]

FAST_CHANGE = frozenset({"monthly", "weekly", "daily", "realtime"})
"""Knowledge that changes this often goes to retrieval (documents update without retraining)."""

NUDGE_BEHAVIOURS = frozenset({"style", "tone", "format"})
SKILL_BEHAVIOURS = frozenset({"skill", "reasoning"})
FEW_ROWS = 100

# The defaults live in specc.plan.defaults (shared with specc.plan.stages); re-exported here for callers.


# ---------------------------------------------------------------------------------------------------
# The trace: every decision and finding, each tied to a documented rule
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Trace:
    """Collects decisions, findings and recommendations in the order the planner makes them."""

    decisions: list[RuleFiring] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)

    def decide(self, rule_id: str, reason: str, verdict: str | None = None) -> None:
        rule = RULES_BY_ID[rule_id]
        self.decisions.append(
            RuleFiring(rule=rule_id, topic=rule.topic, verdict=verdict or rule.verdict, reason=reason)
        )

    def find(self, rule_id: str, message: str, hint: str = "", level: str | None = None) -> None:
        rule = RULES_BY_ID[rule_id]
        chosen = level or (rule.output if rule.output != "decision" else "info")
        self.findings.append(Finding(level=chosen, rule=rule_id, message=message, hint=hint))  # type: ignore[arg-type]

    def recommend(self, text: str) -> None:
        if text not in self.recommendations:
            self.recommendations.append(text)

    def fired(self, rule_id: str) -> bool:
        return any(d.rule == rule_id for d in self.decisions) or any(f.rule == rule_id for f in self.findings)


def meets_bar(score: float | None, bar: float | None, metric: str) -> bool | None:
    """Whether an evidence score reaches the bar (perplexity: lower is better). None when unknowable."""
    if score is None or bar is None:
        return None
    return score <= bar if metric == "perplexity" else score >= bar


# ---------------------------------------------------------------------------------------------------
# Facts read from disk
# ---------------------------------------------------------------------------------------------------


def _read_data(spec: Spec, base_dir: Path, t: _Trace) -> list[DataFact]:
    """Read every data file the spec names (streaming); problems become findings of their rule."""
    files: list[tuple[str, str, str, str]] = []
    for role in ("train", "preference", "prompts", "golden"):
        entry = getattr(spec.data, role)
        if entry is not None:
            files.append((role, role, entry.path, entry.format))
    for suite in spec.data.general_suites:
        if suite.path is not None:
            files.append(("suite", suite.name, suite.path, suite.kind))
    facts: list[DataFact] = []
    for role, name, path, declared in files:
        fact, problem = read_data_fact(role, name, path, declared, base_dir)
        facts.append(fact)
        if problem is not None:
            t.find(problem.rule, problem.message, problem.hint)
        elif role in ("train", "preference", "prompts") and fact.rows is not None and fact.rows < FEW_ROWS:
            t.find("DATA-FEW-ROWS", f"{role} file {path!r} has {fact.rows} rows (< {FEW_ROWS})",
                   "quality and diversity matter more than size, but tiny sets overfit")
    return facts


@dataclass(frozen=True)
class _ModelKnown:
    """A model as the planner sees it: the spec's reference plus what modelinfo and the registry know."""

    ref: ModelRef
    params: int | None
    params_source: str | None
    vocab_size: int | None
    model_type: str | None
    licence: str | None
    facts: Any


def _know_model(ref: ModelRef, base_dir: Path) -> _ModelKnown:
    from specc.plan.modelinfo import model_facts
    from specc.plan.registry.lookup import licence_for_model

    facts = model_facts(ref.ref, base_dir)
    licence = ref.licence or (facts.license if facts is not None else None) or licence_for_model(ref.ref)
    if licence is not None and licence.strip().lower() in ("other", "unknown"):
        licence = None
    return _ModelKnown(
        ref=ref,
        params=facts.params if facts is not None else None,
        params_source=facts.source if facts is not None else None,
        vocab_size=facts.vocab_size if facts is not None else None,
        model_type=facts.model_type if facts is not None else None,
        licence=licence,
        facts=facts,
    )


# ---------------------------------------------------------------------------------------------------
# 1. Levers
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Levers:
    levers: list[str]
    trains: bool
    distil: bool
    tune_rules: list[str]
    latency_wanted: bool
    cost_wanted: bool


def _choose_levers(spec: Spec, t: _Trace) -> _Levers:
    goal, cons, ev, data = spec.goal, spec.constraints, spec.evidence, spec.data
    wanted = set(goal.behaviours)
    metric, bar = spec.eval.metric, spec.eval.bar
    forced = spec.method.method
    prompt_meets = meets_bar(ev.prompting.score if ev.prompting else None, bar, metric)
    retrieval_meets = meets_bar(ev.retrieval.score if ev.retrieval else None, bar, metric)
    fast_facts = cons.knowledge_change in FAST_CHANGE
    has_demos = data.train is not None or data.preference is not None
    serving = cons.serving
    over_latency = (
        serving.max_latency_ms is not None
        and serving.current_latency_ms is not None
        and serving.current_latency_ms > serving.max_latency_ms
    )
    latency_wanted = "latency" in wanted or over_latency
    cost_wanted = "serving_cost" in wanted or serving.too_costly

    levers = ["prompting"]
    t.decide("LEVER-PROMPT-FIRST", "Prompting is tried (and kept) first in every plan; it costs nothing to change.")

    # Retrieval: facts that change, citations, knowledge.
    retrieval = False
    if fast_facts:
        retrieval = True
        t.decide("LEVER-RETRIEVAL-CHANGING-FACTS",
                 f"knowledge_change is {cons.knowledge_change}: facts change faster than a model can be retrained.")
    if cons.citations_required:
        retrieval = True
        t.decide("LEVER-RETRIEVAL-CITATIONS", "citations_required is true: answers must point at their sources.")
    tune_rules: list[str] = []
    tune = _Trace()  # reasons to tune; traced only if the plan does train (a cheaper lever may stop it)
    if "knowledge" in wanted and not fast_facts:
        fell_short = retrieval_meets is False
        if fell_short and data.train is not None:
            tune_rules.append("LEVER-FINETUNE-STABLE-KNOWLEDGE")
            tune.decide("LEVER-FINETUNE-STABLE-KNOWLEDGE",
                     f"knowledge_change is {cons.knowledge_change}; retrieval scored {ev.retrieval.score} "  # type: ignore[union-attr]
                     f"< bar {bar} and demonstrations are given.")
        else:
            retrieval = True
            t.decide("LEVER-RETRIEVAL-KNOWLEDGE",
                     f"knowledge is wanted and the facts are stable ({cons.knowledge_change}); retrieval first"
                     + ("; retrieval evidence has no bar to judge it" if ev.retrieval and bar is None else "")
                     + ".")
    if retrieval:
        levers.append("retrieval")

    # Reasons to change the weights.
    nudges = sorted(wanted & NUDGE_BEHAVIOURS)
    if nudges:
        why = []
        if goal.consistency_required:
            why.append("consistency_required is true")
        if prompt_meets is False:
            why.append(f"prompting scored {ev.prompting.score} < bar {bar}")  # type: ignore[union-attr]
        if has_demos:
            why.append("demonstrations are supplied")
        if why:
            tune_rules.append("LEVER-FINETUNE-BEHAVIOUR")
            tune.decide("LEVER-FINETUNE-BEHAVIOUR", f"{', '.join(nudges)} wanted; {'; '.join(why)}.")
    skills = sorted(wanted & SKILL_BEHAVIOURS)
    if skills:
        tune_rules.append("LEVER-FINETUNE-SKILL")
        tune.decide("LEVER-FINETUNE-SKILL", f"{', '.join(skills)} wanted: a specialised skill belongs in the weights.")
    if "preference" in wanted:
        tune_rules.append("LEVER-FINETUNE-PREFERENCE")
        tune.decide("LEVER-FINETUNE-PREFERENCE", "preference wanted: taught from chosen/rejected comparisons.")
    distil = False
    serving_why = _serving_reason(wanted, over_latency, serving)
    if spec.teacher is not None and forced in ("auto", "distill"):
        distil = True
        tune_rules.append("LEVER-DISTILL-SERVING")
        tune.decide("LEVER-DISTILL-SERVING",
                 (serving_why or "a teacher is named (no latency or cost goal is stated)")
                 + f"; teacher {spec.teacher.ref} → student {spec.base_model.ref}.")
    elif latency_wanted:
        tune_rules.append("LEVER-FINETUNE-LATENCY")
        tune.decide("LEVER-FINETUNE-LATENCY", (serving_why or "latency wanted") + "; no teacher is named.")
    if cost_wanted and spec.teacher is None:
        t.find("METHOD-DISTILL-NEEDS-TEACHER",
               "serving cost is a goal but no teacher is named, so nothing can be distilled",
               "set `teacher:` to the capable model and `base_model:` to the smaller student")
    if forced != "auto":
        t.decide("LEVER-METHOD-FORCED", f"method.method is {forced}.",
                 verdict="distil as the spec asks" if forced == "distill" else "fine-tune as the spec asks")
        distil = forced == "distill"

    # Stop early when a cheaper lever already reaches the bar (unless the spec forces a method).
    trains = bool(tune_rules) or forced != "auto"
    if forced == "auto":
        if prompt_meets:
            trains, distil = False, False
            t.decide("LEVER-PROMPT-MEETS-BAR",
                     f"prompting scored {ev.prompting.score} on {metric}, bar {bar}.")  # type: ignore[union-attr]
        elif retrieval_meets:
            trains, distil = False, False
            if "retrieval" not in levers:
                levers.append("retrieval")
            t.decide("LEVER-RETRIEVAL-MEETS-BAR",
                     f"retrieval scored {ev.retrieval.score} on {metric}, bar {bar}.")  # type: ignore[union-attr]
        elif not tune_rules:
            if nudges and not (wanted - NUDGE_BEHAVIOURS - {"knowledge"}):
                t.decide("LEVER-PROMPT-NUDGE",
                         f"{', '.join(nudges)} wanted without consistency_required, evidence or data.")
            else:
                t.decide("LEVER-NO-TUNING-NEEDED", "No wanted behaviour needs the weights changed.")
    elif prompt_meets or retrieval_meets:
        which = "prompting" if prompt_meets else "retrieval"
        t.find("EVIDENCE-MEETS-BAR-OVERRIDDEN",
               f"method.method is {forced} although {which} already meets the bar ({bar} on {metric})",
               "remove method.method to let the plan stop at the cheaper lever")

    if trains:
        t.decisions.extend(tune.decisions)
        levers.append("distill" if distil else "fine_tune")
        if "retrieval" in levers:
            t.decide("LEVER-COMBINE-RETRIEVAL-AND-TUNE",
                     "Retrieval serves the facts; the tuned model supplies the behaviour.")
        if ev.prompting is None and not distil:
            t.find("EVIDENCE-PROMPTING-FIRST",
                   "the plan fine-tunes but evidence.prompting is absent: no sign that prompting fell short",
                   "measure the best prompt on the golden set and record it under evidence.prompting")
    if (ev.prompting or ev.retrieval) and bar is None:
        t.find("EVIDENCE-NO-BAR", "evidence is recorded but eval.bar is not set, so it cannot be judged",
               "set eval.bar to the score that counts as success")
    if "knowledge" in wanted and fast_facts and forced != "auto" and not tune_rules:
        t.find("CONFLICT-TUNING-STALE-FACTS",
               f"method.method is {forced} but the only goal it serves is knowledge that changes "
               f"{cons.knowledge_change}: tuned-in facts go stale at the next change",
               "serve the facts by retrieval; tune only for behaviour")
    if (cons.citations_required or fast_facts) and latency_wanted:
        need = "citations" if cons.citations_required else f"{cons.knowledge_change} facts"
        t.find("CONFLICT-RETRIEVAL-LATENCY",
               f"{need} need retrieval, but latency is also a goal: retrieval adds a hop tuning cannot remove",
               "keep retrieval; make the generator smaller or tuned (shorter prompts), and cache retrieval")
    _recommend_levers(spec, levers, trains, t)
    return _Levers(levers, trains, distil, tune_rules, latency_wanted, cost_wanted)


def _serving_reason(wanted: set[str], over_latency: bool, serving: Any) -> str:
    parts = []
    if over_latency:
        parts.append(f"current latency {serving.current_latency_ms} ms exceeds the {serving.max_latency_ms} ms budget")
    elif "latency" in wanted:
        parts.append("latency wanted")
    if serving.too_costly:
        parts.append("serving.too_costly is true")
    elif "serving_cost" in wanted:
        parts.append("serving_cost wanted")
    return "; ".join(parts)


def _recommend_levers(spec: Spec, levers: list[str], trains: bool, t: _Trace) -> None:
    if not trains:
        t.recommend("Iterate on the prompt (instructions, few-shot examples) and score it on the golden set; "
                    "record the result under evidence.prompting.")
    if "retrieval" in levers:
        t.recommend("Serve facts through retrieval: index the documents and update them, not the weights, when "
                    "facts change" + (" ; return the source passages for citations." if
                                      spec.constraints.citations_required else "."))
    if not trains and spec.eval.bar is None:
        t.recommend("Set eval.bar so evidence from cheaper levers can decide whether tuning is needed.")


# ---------------------------------------------------------------------------------------------------
# 2. Method
# ---------------------------------------------------------------------------------------------------


def _looks_instruction_tuned(ref: str) -> bool:
    name = ref.lower()
    return any(tag in name for tag in ("instruct", "chat", "-it", "-sft", "-dpo"))


def _choose_method(spec: Spec, lv: _Levers, base: _ModelKnown, teacher: _ModelKnown | None,
                   t: _Trace) -> tuple[str, str | None]:
    """Return (method, distillation mode) and fire the method rules; data needs become findings."""
    data, forced = spec.data, spec.method.method
    has_train, has_pref, has_prompts = data.train is not None, data.preference is not None, data.prompts is not None
    wanted = set(spec.goal.behaviours)
    if forced != "auto":
        method = forced
        t.decide("METHOD-FORCED", f"method.method is {forced}.", verdict=f"use {forced}")
    elif lv.distil:
        method = "distill"
    elif has_pref and has_prompts:
        method = "rlhf"
    elif has_pref:
        method = "dpo"
    else:
        method = "sft"

    if method == "sft":
        if not has_train:
            t.find("DATA-NO-TRAINING-DATA", "the plan fine-tunes (SFT) but data.train is not given",
                   "add demonstrations under data.train"
                   + (" or preference pairs under data.preference" if "preference" in wanted else ""))
        else:
            t.decide("METHOD-SFT-IMITATION", f"data.train ({data.train.path}) holds demonstrations to imitate.")  # type: ignore[union-attr]
        if "preference" in wanted and not has_pref:
            t.find("METHOD-PREFERENCE-NEEDS-PAIRS",
                   "preference is wanted but only demonstrations are given: SFT imitates, it does not compare",
                   "add chosen/rejected pairs under data.preference for DPO")
    elif method in ("dpo", "rlhf"):
        if not has_pref:
            t.find("DATA-NO-TRAINING-DATA", f"{method} needs preference pairs but data.preference is not given",
                   "add {prompt, chosen, rejected} rows under data.preference")
        if method == "dpo":
            t.decide("METHOD-DPO-PAIRS", "Preference pairs are given" + ("" if forced == "dpo" else
                     " and no prompts for online sampling") + ": one loss, two models, stable.")
        else:
            why = "method.method is rlhf" if forced == "rlhf" else "preference pairs and sampling prompts are given"
            t.decide("METHOD-RLHF-ONLINE", f"{why}: reward model on the pairs, then online RL"
                     + ("" if has_prompts else " sampling the preference file's prompts") + ".")
            algo = spec.method.rl_algorithm or "rloo"
            t.decide("METHOD-RL-ALGORITHM",
                     f"rl_algorithm {'set to' if spec.method.rl_algorithm else 'defaults to'} {algo}; trl has no PPO.",
                     verdict=f"online RL with {algo.upper()}")
        if has_train:
            t.decide("METHOD-SFT-BEFORE-PREFERENCE", f"data.train is given: SFT first, then {method}.")
        else:
            instruct = _looks_instruction_tuned(base.ref.ref)
            t.find("METHOD-PREFERENCE-WITHOUT-SFT",
                   f"no demonstrations: {method} starts from the base model {base.ref.ref}"
                   + (" (its name says it is already instruction-tuned)" if instruct else
                      ", which may not follow instructions yet"),
                   "add data.train to SFT first" if not instruct else "",
                   level="info" if instruct else "warning")
    return method, _choose_distillation(spec, base, teacher, t) if method == "distill" else None


def _choose_distillation(spec: Spec, base: _ModelKnown, teacher: _ModelKnown | None, t: _Trace) -> str | None:
    data = spec.data
    if teacher is None:
        t.find("METHOD-DISTILL-NEEDS-TEACHER", "distillation needs a teacher but none is named",
               "set `teacher:` to the capable open model", level="error")
        return "sequence"
    logit = spec.method.distillation == "logit"
    if data.prompts is None and not (logit and data.train is not None):
        t.find("DATA-NO-TRAINING-DATA", "distillation needs prompts for the teacher but data.prompts is not given",
               "add prompts under data.prompts")
    if teacher.params is not None and base.params is not None:
        if teacher.params <= base.params:
            t.find("METHOD-DISTILL-TEACHER-NOT-LARGER",
                   f"teacher {teacher.ref.ref} ({_human(teacher.params)}) is no larger than student "
                   f"{base.ref.ref} ({_human(base.params)}): the student will not serve faster or cheaper",
                   "pick a smaller base_model, or fine-tune instead of distilling")
    shared = _shared_vocabulary(base, teacher)
    mode = spec.method.distillation
    if mode == "logit":
        if shared is False:
            t.find("METHOD-DISTILL-VOCAB",
                   f"logit distillation needs one vocabulary; teacher has {teacher.vocab_size} tokens "
                   f"({teacher.model_type}), student {base.vocab_size} ({base.model_type})",
                   "use method.distillation: sequence")
        elif shared is None:
            t.find("METHOD-DISTILL-VOCAB",
                   "logit distillation needs one vocabulary, and specc cannot see both vocabularies",
                   "give local paths with config.json, or use method.distillation: sequence", level="warning")
        if shared is not False:
            t.decide("METHOD-DISTILL-LOGIT",
                     "method.distillation is logit; vocabularies "
                     + ("match" if shared else "are unknown (not verified)") + ".")
        return "logit"
    note = {True: "teacher and student share a vocabulary, so method.distillation: logit is an option",
            False: "the vocabularies differ, so logit-level distillation is not an option",
            None: "specc cannot tell whether the vocabularies match"}[shared]
    t.decide("METHOD-DISTILL-SEQUENCE", f"method.distillation is {mode}; {note}.")
    return "sequence"


def _shared_vocabulary(a: _ModelKnown, b: _ModelKnown) -> bool | None:
    """True/False when both vocab sizes are known (size and family must agree), else None."""
    if a.vocab_size is None or b.vocab_size is None:
        return None
    if a.vocab_size != b.vocab_size:
        return False
    if a.model_type and b.model_type and _family(a.model_type) != _family(b.model_type):
        return False
    return True


def _family(model_type: str) -> str:
    return model_type.rstrip("0123456789_").replace("_text", "").replace("_moe", "")


# ---------------------------------------------------------------------------------------------------
# 3. Licences
# ---------------------------------------------------------------------------------------------------


def _check_licences(spec: Spec, trains: bool, method: str, base: _ModelKnown, teacher: _ModelKnown | None,
                    t: _Trace) -> dict[str, str]:
    """Fire licence rules; return a one-line verdict per model role for plan.models."""
    from specc.plan.registry.lookup import closed_api_match, licence_info

    verdicts: dict[str, str] = {}
    if trains:
        closed = closed_api_match(base.ref.ref)
        if closed is not None:
            t.find("LICENCE-CLOSED-API-BASE",
                   f"base model {base.ref.ref} is a closed {closed.provider} API model: there are no weights to tune",
                   "pick an open-weight base model")
            verdicts["base"] = f"closed API ({closed.provider})"
        else:
            verdicts["base"] = _base_licence(base, t)
    if teacher is not None and method in ("distill", "none"):
        closed = closed_api_match(teacher.ref.ref)
        if closed is not None:
            t.find("LICENCE-CLOSED-API-TEACHER",
                   f"teacher {teacher.ref.ref} is a closed {closed.provider} model ({closed.pattern}): "
                   f"{closed.reason}. Source: {closed.source}",
                   "distil from an open-weight model whose licence allows training other models")
            verdicts["teacher"] = f"refused: closed API ({closed.provider})"
            return verdicts
        if method != "distill":
            return verdicts
        info = licence_info(teacher.licence) if teacher.licence else None
        if info is None:
            verdicts["teacher"] = _unknown_licence(teacher, "teacher", t)
        elif info.outputs_may_train_other_models == "yes":
            t.decide("LICENCE-PERMISSIVE", f"teacher licence {info.id}: {info.conditions} ({info.source})",
                     verdict="the teacher's licence allows training the student")
            verdicts["teacher"] = f"{info.id}: outputs may train other models"
        elif info.outputs_may_train_other_models == "conditions":
            t.find("LICENCE-TEACHER-CONDITIONS", f"teacher licence {info.id}: {info.conditions}",
                   f"read {info.source}")
            verdicts["teacher"] = f"{info.id}: allowed on conditions"
        else:
            student = licence_info(base.licence) if base.licence else None
            if student is not None and student.id == info.id:
                t.find("LICENCE-TEACHER-CONDITIONS",
                       f"teacher licence {info.id} forbids improving other models but the student is under the same "
                       f"licence (a derivative of the family): {info.conditions}", f"read {info.source}")
                verdicts["teacher"] = f"{info.id}: allowed for a {info.id} student only"
            else:
                t.find("LICENCE-TEACHER-FORBIDS-TRAINING",
                       f"teacher licence {info.id} forbids using outputs to improve student {base.ref.ref} "
                       f"({base.licence or 'licence unknown'}): {info.conditions}",
                       f"use a teacher whose licence allows it, or a student of the same family; see {info.source}")
                verdicts["teacher"] = f"refused: {info.id} outputs may not train other models"
    return verdicts


def _base_licence(base: _ModelKnown, t: _Trace) -> str:
    from specc.plan.registry.lookup import licence_info

    info = licence_info(base.licence) if base.licence else None
    if info is None:
        return _unknown_licence(base, "base model", t)
    return f"{info.id}: fine-tuning allowed; outputs may train other models: {info.outputs_may_train_other_models}"


def _unknown_licence(model: _ModelKnown, role: str, t: _Trace) -> str:
    what = f"licence {model.licence!r} is not in specc's registry" if model.licence else "licence is unknown"
    if model.ref.licence_acknowledged:
        t.find("LICENCE-ACKNOWLEDGED", f"{role} {model.ref.ref}: {what}; licence_acknowledged is true")
        return "unknown; acknowledged by the spec"
    t.find("LICENCE-UNKNOWN-NEEDS-ACK", f"{role} {model.ref.ref}: {what}",
           f"read the model's terms, then set licence_acknowledged: true under "
           f"{'teacher' if role == 'teacher' else 'base_model'}")
    return "unknown; not acknowledged"


# ---------------------------------------------------------------------------------------------------
# 4. Parameter budget and estimate
# ---------------------------------------------------------------------------------------------------


@dataclass
class _BudgetResult:
    budget: str | None
    estimate: Estimate | None
    checkpointing: bool | None
    micro_batch: int | None = None
    accumulation: int | None = None


_BUDGET_RANK = {"full": 0, "lora": 1, "qlora": 2}
_ESTIMATOR_METHOD = {"sft": "sft", "dpo": "dpo", "rlhf": "online_rl"}


def _choose_budget(spec: Spec, method: str, distillation: str | None, base: _ModelKnown,
                   teacher: _ModelKnown | None, data: list[DataFact], t: _Trace) -> _BudgetResult:
    """Full / LoRA / QLoRA from the memory estimate; checkpointing only when it changes what fits."""
    from specc.plan.estimator import Hardware, TrainingShape

    forced = spec.method.parameter_budget if spec.method.parameter_budget != "auto" else None
    hw = spec.constraints.hardware
    if base.facts is None:
        budget = forced or "lora"
        t.find("BUDGET-UNKNOWN-MODEL-SIZE",
               f"the size of {base.ref.ref} is unknown: no config.json, not in the known-model table, no size in "
               f"its name; assuming {budget} without a memory check",
               "give base_model.path to a local directory with config.json, or a hub id with its size (e.g. -7B)")
        return _BudgetResult(budget, Estimate(notes=["memory not estimated: model size unknown"]), None)
    m = spec.method
    targets = "attention" if m.lora_targets == "attention" else "all_linear"
    est_method = _ESTIMATOR_METHOD.get(method, "distill_logits" if distillation == "logit" else "distill_sequence")
    if est_method == "distill_logits" and (teacher is None or teacher.facts is None):
        t.find("BUDGET-UNKNOWN-MODEL-SIZE",
               "the teacher's size is unknown, so the memory estimate leaves out the teacher that logit "
               "distillation holds in memory during training",
               "give teacher.path to a local directory with config.json, or a hub id with its size (e.g. -7B)")
        est_method = "distill_sequence"
    shape = TrainingShape(
        budget="lora", quant_bits=m.quant_bits or 4, lora_r=m.lora_r or DEFAULT_HYPERPARAMETERS["lora_r"],
        lora_targets=targets, seq_len=m.max_seq_length or DEFAULT_HYPERPARAMETERS["max_seq_length"],
        micro_batch=m.micro_batch_size or DEFAULT_HYPERPARAMETERS["micro_batch_size"],
        gradient_checkpointing=bool(m.gradient_checkpointing), method=est_method,
        teacher=teacher.facts if (teacher is not None and est_method == "distill_logits") else None,
    )
    hardware = Hardware(gpus=hw.gpus, gpu_memory_gb=hw.gpu_memory_gb, nodes=hw.nodes, cpu_memory_gb=hw.cpu_memory_gb)
    wanted = set(spec.goal.behaviours)
    needs_full = bool(wanted & SKILL_BEHAVIOURS) or method == "distill"
    allow_full = spec.constraints.budget.allow_full_finetune
    kwargs = {"goal_needs_full": needs_full and allow_full, "forced": forced}
    choice, checkpointing, micro = _fit_shape(base.facts, hardware, shape, kwargs, m)
    default_micro = DEFAULT_HYPERPARAMETERS["micro_batch_size"]
    accum = m.gradient_accumulation or DEFAULT_HYPERPARAMETERS["gradient_accumulation"]
    if m.micro_batch_size is None and micro < default_micro and m.gradient_accumulation is None:
        accum = accum * default_micro // micro
    rows = [
        MemoryRow(budget=o.budget, per_device_gb=round(o.needed_gib, 2), fits=o.fits,  # type: ignore[arg-type]
                  components_gb={k: round(v, 2) for k, v in o.estimate.breakdown()}, note=o.reason)
        for o in choice.options
    ]
    table = "; ".join(o.reason for o in choice.options)
    if choice.budget is None or not choice.fits:
        tips = "; ".join(choice.suggestions) or "more memory, more GPUs, or a smaller model"
        if forced:
            t.find("BUDGET-FORCED-DOESNT-FIT", f"method.parameter_budget is {forced} but it does not fit: "
                   f"{choice.option(forced).reason}", tips)  # type: ignore[union-attr]
        else:
            t.find("BUDGET-NOTHING-FITS", f"no parameter budget fits {_hardware_words(spec)}: {table}", tips)
    else:
        budget = choice.budget
        if forced:
            rule = "BUDGET-FORCED"
        elif budget == "full":
            rule = "BUDGET-FULL-ONLY-WHEN-NEEDED"
        elif budget == "qlora":
            rule = "BUDGET-QLORA-WHEN-16BIT-DOESNT-FIT"
        else:
            rule = "BUDGET-SMALLEST-FITS"
        why = _budget_reason(budget, needs_full, allow_full, choice)
        t.decide(rule, f"{why} Estimates on {_hardware_words(spec)}: {table}.", verdict=f"parameter budget: {budget}")
        if budget != "full" and allow_full and not forced:
            t.decide("BUDGET-FULL-ONLY-WHEN-NEEDED",
                     "allow_full_finetune is true but " + ("full does not fit." if needs_full else
                     "the goal (no skill/reasoning, not a distilled student) does not need it."),
                     verdict="full fine-tuning passed over")
        if checkpointing and m.gradient_checkpointing is None:
            t.decide("BUDGET-CHECKPOINTING-TO-FIT", f"{budget} fits only with activation checkpointing on.")
        if micro != (m.micro_batch_size or default_micro):
            t.decide("BUDGET-MICRO-BATCH-TO-FIT",
                     f"{budget} fits with micro batch {micro} (not {default_micro}); gradient accumulation {accum} "
                     "keeps the effective batch.")
    estimate = _compute(spec, method, distillation, choice.budget or forced or "lora", base, teacher, data,
                        hardware, checkpointing, micro, accum, rows, list(choice.notes), t)
    return _BudgetResult(choice.budget or forced, estimate, checkpointing, micro, accum)


def _fit_shape(facts: Any, hardware: Any, shape: Any, kwargs: dict[str, Any], m: Any) -> tuple[Any, bool, int]:
    """Try the cheapest training shapes first; keep the one whose budget is the smallest intervention.

    Shapes, cheapest first: as configured; with activation checkpointing; then halving the micro batch
    (gradient accumulation grows to keep the effective batch). Values the spec sets are never changed.
    A budget earlier in full → LoRA → QLoRA beats a cheaper shape: LoRA with checkpointing is preferred
    to QLoRA without it.
    """
    from dataclasses import replace

    from specc.plan.estimator import choose_budget

    micro0 = shape.micro_batch
    gcs = [bool(m.gradient_checkpointing)] if m.gradient_checkpointing is not None else [False, True]
    micros = [micro0] if m.micro_batch_size is not None else [b for b in (micro0, micro0 // 2, 1) if b >= 1]
    shapes: list[tuple[bool, int]] = []
    for gc in gcs:
        shapes.append((gc, micro0))
    for micro in dict.fromkeys(micros[1:]):
        shapes.append((gcs[-1], micro))
    best = None
    for gc, micro in shapes:
        choice = choose_budget(facts, hardware, replace(shape, gradient_checkpointing=gc, micro_batch=micro), **kwargs)
        rank = _BUDGET_RANK.get(choice.budget or "", 9) if choice.fits else 9
        if best is None or rank < best[0]:
            best = (rank, choice, gc, micro)
        if choice.fits and kwargs.get("forced"):
            break
    assert best is not None
    return best[1], best[2], best[3]


def _budget_reason(budget: str, needs_full: bool, allow_full: bool, choice: Any) -> str:
    if budget == "full":
        return "Full fine-tuning is allowed, the goal needs it, and it fits."
    if budget == "qlora":
        return "The frozen base does not fit at 16 bits; quantised to 4 bits it does."
    return "LoRA is the smallest intervention and fits."


def _hardware_words(spec: Spec) -> str:
    hw = spec.constraints.hardware
    if hw.gpus == 0:
        return f"CPU only ({hw.cpu_memory_gb:g} GB RAM)"
    nodes = f" × {hw.nodes} nodes" if hw.nodes > 1 else ""
    return f"{hw.gpus} × {hw.gpu_memory_gb:g} GB GPU{'s' if hw.gpus > 1 else ''}{nodes}"


def _training_inputs(method: str, distillation: str | None, data: list[DataFact]) -> list[DataFact]:
    roles = {"sft": ("train",), "dpo": ("train", "preference"), "rlhf": ("train", "preference", "prompts"),
             "distill": ("prompts",) if distillation != "logit" else ("prompts", "train")}[method]
    return [d for d in data if d.role in roles and d.exists and d.bytes is not None]


def _compute(spec: Spec, method: str, distillation: str | None, budget: str, base: _ModelKnown,
             teacher: _ModelKnown | None, data: list[DataFact], hardware: Any, checkpointing: bool,
             micro: int, accum: int, rows: list[MemoryRow], notes: list[str], t: _Trace) -> Estimate:
    """Tokens, optimizer steps and GPU-hours. Tokens are estimated as file bytes / 4 (no tokenizer here)."""
    from specc.plan.estimator import estimate_compute, gpu_peak_tflops

    m = spec.method
    inputs = _training_inputs(method, distillation, data)
    new_tokens = _generation_tokens(spec)
    tokens = 0
    examples = 0
    for fact in inputs:
        tokens += (fact.bytes or 0) // 4
        examples += fact.rows or 0
        if method == "distill" and fact.role == "prompts" and distillation != "logit":
            tokens += (fact.rows or 0) * new_tokens
    notes = list(notes)
    if inputs:
        notes.append("tokens ≈ bytes / 4 of " + ", ".join(f.path for f in inputs)
                     + (f" plus {new_tokens} generated tokens per prompt" if method == "distill"
                        and distillation != "logit" else "") + " (no tokenizer is loaded to plan)")
    epochs = float(m.epochs) if m.epochs is not None else DEFAULT_HYPERPARAMETERS["epochs"]
    devices = max(hardware.gpus, 1) * hardware.nodes
    per_step = micro * accum * devices
    steps = -(-int(examples * epochs) // per_step) if examples else 0
    if m.max_steps is not None:
        steps = min(steps, m.max_steps) if steps else m.max_steps
        notes.append(f"max_steps {m.max_steps} caps the run")
    if not inputs:
        return Estimate(memory=rows, notes=notes + ["no training data to estimate compute from"])
    notes.append(f"steps = rows × {epochs:g} epochs / ({micro} × {accum} × {devices} device(s)), over all "
                 "training inputs")
    if base.facts is None:
        return Estimate(memory=rows, train_tokens=int(tokens * epochs), optimizer_steps=steps, notes=notes)
    seq = m.max_seq_length or DEFAULT_HYPERPARAMETERS["max_seq_length"]
    est_method = {"dpo": "dpo", "rlhf": "online_rl"}.get(method, "distill_logits" if distillation == "logit" else "sft")
    extra = teacher.params if (teacher is not None and teacher.params and est_method == "distill_logits") else 0
    gpu_tflops = gpu_peak_tflops(spec.constraints.hardware.gpu_type) if spec.constraints.hardware.gpus else None
    if gpu_tflops is not None:
        notes.append(f"throughput from gpu_type {spec.constraints.hardware.gpu_type}: {gpu_tflops:g} TFLOPS peak "
                     "16-bit per GPU (datasheet, dense)")
    elif spec.constraints.hardware.gpu_type and spec.constraints.hardware.gpus:
        notes.append(f"gpu_type {spec.constraints.hardware.gpu_type} is not in specc's throughput table; "
                     "assuming an A100")
    compute = estimate_compute(base.facts, train_tokens=tokens, epochs=epochs, budget=budget, hardware=hardware,
                               effective_batch_tokens=per_step * seq, gradient_checkpointing=checkpointing,
                               lora_r=m.lora_r or DEFAULT_HYPERPARAMETERS["lora_r"], method=est_method,
                               extra_model_params=extra, gpu_tflops=gpu_tflops)
    notes += list(compute.notes) + [f"FLOPs = {compute.formula}"]
    gpu_hours = round(compute.gpu_hours, 4)
    cap = spec.constraints.budget.gpu_hours
    if cap is not None and gpu_hours > cap:
        t.find("BUDGET-GPU-HOURS-EXCEEDED", f"estimated {gpu_hours:g} GPU-hours exceed the budget of {cap:g}",
               "cut epochs, data or sequence length, or raise constraints.budget.gpu_hours")
    return Estimate(memory=rows, train_tokens=compute.tokens, optimizer_steps=steps, gpu_hours=gpu_hours,
                    notes=notes)


def _human(params: int) -> str:
    return f"{params / 1e9:.1f}B" if params >= 1e9 else f"{params / 1e6:.0f}M"


# ---------------------------------------------------------------------------------------------------
# 5. Hyper-parameters, contract, tracking
# ---------------------------------------------------------------------------------------------------


def _training_stage_kinds(spec: Spec, method: str, distillation: str | None) -> list[str]:
    """Which learning-rate families the plan's training stages use, in run order."""
    has_train = spec.data.train is not None
    if method == "sft":
        return ["sft"]
    if method == "dpo":
        return (["sft"] if has_train else []) + ["dpo"]
    if method == "rlhf":
        return (["sft"] if has_train else []) + ["reward", "rl"]
    if method == "distill":
        return ["distill_logit"] if distillation == "logit" else ["sft"]
    return []


def _generation_tokens(spec: Spec) -> int:
    """Answer length for the teacher's generations (sequence-level distillation): the eval contract's
    ``max_new_tokens`` (what the student is scored on), never past half the training sequence length, so
    that prompt plus answer fit the student's ``max_length`` and a small model's positions."""
    seq = spec.method.max_seq_length or DEFAULT_HYPERPARAMETERS["max_seq_length"]
    return max(1, min(int(spec.eval.max_new_tokens), seq // 2))


def _hyperparameters(spec: Spec, method: str, distillation: str | None, budget: str | None,
                     checkpointing: bool | None, micro: int | None = None, accum: int | None = None
                     ) -> dict[str, Any]:
    """Every value a training stage needs, defaults resolved and spec.method overrides applied.

    ``learning_rates`` and ``epochs_by_stage`` give each training stage its own value (imitation and
    preference stages differ); the flat ``learning_rate``/``epochs`` appear only when one value serves
    every stage, because the stage builder applies the flat key to all of them.
    """
    m = spec.method
    hp: dict[str, Any] = {}

    def pick(key: str, default: Any) -> Any:
        value = getattr(m, key, None)
        return default if value is None or value == "auto" else value

    peft = budget in ("lora", "qlora")
    if peft:
        r = pick("lora_r", DEFAULT_HYPERPARAMETERS["lora_r"])
        hp["lora_r"] = r
        hp["lora_alpha"] = pick("lora_alpha", 2 * r)
        hp["lora_dropout"] = pick("lora_dropout", DEFAULT_HYPERPARAMETERS["lora_dropout"])
        targets = pick("lora_targets", DEFAULT_HYPERPARAMETERS["lora_targets"])
        hp["lora_targets"] = list(targets) if isinstance(targets, (list, tuple)) else targets
    if budget == "qlora":
        hp["quant_bits"] = pick("quant_bits", DEFAULT_HYPERPARAMETERS["quant_bits"])
    kinds = _training_stage_kinds(spec, method, distillation)
    imitation_lr = LEARNING_RATES.get(budget or "lora", LEARNING_RATES["lora"])
    lrs = {k: (LEARNING_RATES["preference"] if k in ("dpo", "rl") else imitation_lr) for k in kinds}
    if m.learning_rate is not None:
        lrs = {k: m.learning_rate for k in kinds}
    epochs = {k: (DEFAULT_HYPERPARAMETERS["rl_epochs"] if k == "rl" else DEFAULT_HYPERPARAMETERS["epochs"])
              for k in kinds}
    if m.epochs is not None:
        epochs = {k: float(m.epochs) for k in kinds}
    hp["learning_rates"] = lrs
    hp["epochs_by_stage"] = epochs
    if len(set(lrs.values())) == 1 and lrs:
        hp["learning_rate"] = next(iter(lrs.values()))
    if len(set(epochs.values())) == 1 and epochs:
        hp["epochs"] = next(iter(epochs.values()))
    if m.max_steps is not None:
        hp["max_steps"] = m.max_steps
    for key in ("max_seq_length", "micro_batch_size", "gradient_accumulation", "packing"):
        hp[key] = pick(key, DEFAULT_HYPERPARAMETERS[key])
    if micro is not None:
        hp["micro_batch_size"] = micro
    if accum is not None:
        hp["gradient_accumulation"] = accum
    hp["gradient_checkpointing"] = (
        m.gradient_checkpointing if m.gradient_checkpointing is not None else bool(checkpointing)
    )
    train_fmt = spec.data.train.format if spec.data.train is not None else None
    if m.assistant_only_loss is not None:
        hp["assistant_only_loss"] = m.assistant_only_loss
    elif "sft" in kinds:
        hp["assistant_only_loss"] = train_fmt in ("messages", "auto") and method != "distill"
    hp["precision"] = m.precision
    hp["seed"] = m.seed
    hp["logging_steps"] = DEFAULT_HYPERPARAMETERS["logging_steps"]
    hp["save_total_limit"] = DEFAULT_HYPERPARAMETERS["save_total_limit"]
    if method == "rlhf":
        hp["rl_algorithm"] = m.rl_algorithm or DEFAULT_HYPERPARAMETERS["rl_algorithm"]
    if method == "dpo":
        hp["dpo_beta"] = DEFAULT_HYPERPARAMETERS["dpo_beta"]
    if method == "distill":
        hp["distillation"] = distillation
        if distillation == "sequence":
            hp["max_new_tokens"] = _generation_tokens(spec)
    devices = max(spec.constraints.hardware.gpus, 1) * spec.constraints.hardware.nodes
    hp["effective_batch_size"] = hp["micro_batch_size"] * hp["gradient_accumulation"] * devices
    return hp


def _contract(spec: Spec, data: list[DataFact], trains: bool, t: _Trace) -> Contract | None:
    if not trains:
        return None
    ev = spec.eval
    golden = next((d for d in data if d.role == "golden"), None)
    inputs = [d.role for d in data if d.role in ("train", "preference", "prompts")]
    suites = [Suite(name=s.name, kind=s.kind, path=s.path, task=s.task, limit=s.limit) for s in spec.data.general_suites]
    t.decide("CONTRACT-EVERY-TUNE",
             f"metric {ev.metric}" + (f", bar {ev.bar}" if ev.bar is not None else ", no bar")
             + f"; {len(suites)} general suite(s); forgetting budget abs {ev.forgetting.max_abs_drop}, "
             f"rel {ev.forgetting.max_rel_drop}.")
    if golden is not None:
        fw = ev.firewall
        t.decide("CONTRACT-FIREWALL",
                 f"golden {golden.path} vs {', '.join(inputs) or 'no training inputs'}"
                 f"{' (teacher prompts included)' if 'prompts' in inputs else ''}: normalised exact match and "
                 f"{fw.ngram}-gram overlap{', near-duplicates' if fw.near_duplicates else ''}; "
                 f"threshold {fw.threshold}.")
    else:
        t.find("CONTRACT-NO-GOLDEN", "the plan trains but data.golden is not given: the target metric cannot be "
               "measured and nothing is firewalled", "add a held-out golden set under data.golden")
    if not suites:
        t.find("CONTRACT-NO-GENERAL-SUITE", "the plan trains but data.general_suites is empty: forgetting cannot "
               "be measured", "add at least one general-capability suite under data.general_suites")
    if suites:
        _forgetting_remedy(spec, data, t)
    if ev.bar is None:
        t.find("CONTRACT-NO-BAR", "eval.bar is not set: the golden-set score is reported but gates nothing",
               "set eval.bar")
    firewall = ev.firewall.model_dump(mode="json")
    firewall["inputs"] = inputs
    return Contract(metric=ev.metric, bar=ev.bar, golden=golden, suites=suites,
                    max_abs_drop=ev.forgetting.max_abs_drop, max_rel_drop=ev.forgetting.max_rel_drop,
                    firewall=firewall, max_new_tokens=ev.max_new_tokens)


def _forgetting_remedy(spec: Spec, data: list[DataFact], t: _Trace) -> None:
    """What to do when the forgetting gate fails, made concrete for this spec (rule CONTRACT-FORGETTING-REMEDY)."""
    train = next((d for d in data if d.role == "train"), None)
    rows = f"about {train.rows} " if train is not None and train.rows else ""
    where = f"data.train ({train.path})" if train is not None else "the training data"
    m = spec.method
    lr = f"half the learning rate ({m.learning_rate / 2:g})" if m.learning_rate else "half the learning rate"
    advice = (f"If the forgetting gate fails: keep the budget and mix {rows}general-capability examples (the base "
              f"model's own kind of data, never the suites' or the golden set's rows) into {where}, re-run the "
              f"firewall and the gate; if it still fails, {lr} or fewer epochs, re-checking the target bar.")
    t.decide("CONTRACT-FORGETTING-REMEDY", f"replay {rows}general examples in {where}; then {lr} or fewer epochs.")
    t.recommend(advice)


def _tracking(spec: Spec, spec_sha256: str, data: list[DataFact]) -> Tracking:
    """W&B group = name + short hash of the spec and data hashes: one group per reviewed input set."""
    lock = hashlib.sha256(spec_sha256.encode())
    for fact in sorted(data, key=lambda d: (d.role, d.name)):
        lock.update(f"\n{fact.role}:{fact.name}:{fact.sha256 or '-'}".encode())
    tr = spec.tracking
    return Tracking(backend=tr.backend, project=tr.project or spec.name, entity=tr.entity, mode=tr.mode,
                    log_model=tr.log_model, group=f"{spec.name}-{lock.hexdigest()[:8]}")


def _model_info(role: str, m: _ModelKnown, verdict: str) -> ModelInfo:
    return ModelInfo(role=role, ref=m.ref.ref, source="local" if m.ref.path is not None else "hub",  # type: ignore[arg-type]
                     revision=m.ref.revision, licence=m.licence, licence_verdict=verdict, parameters=m.params,
                     parameters_source=m.params_source, vocab_size=m.vocab_size)


# ---------------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------------


def make_plan(spec: Spec, base_dir: Path | str, spec_file: str = "spec.yaml", spec_sha256: str = "") -> Plan:
    """Decide everything for ``spec``: levers, method, budget, hyper-parameters, contract, stages.

    ``base_dir`` is the spec's directory (data and local model paths resolve against it). ``spec_file``
    (a bare file name) and ``spec_sha256`` are recorded in the plan for the lock; pass the loader's values.
    """
    base_dir = Path(base_dir)
    t = _Trace()
    data = _read_data(spec, base_dir, t)
    base = _know_model(spec.base_model, base_dir)
    teacher = _know_model(spec.teacher, base_dir) if spec.teacher is not None else None

    lv = _choose_levers(spec, t)
    method, distillation = "none", None
    if lv.trains:
        method, distillation = _choose_method(spec, lv, base, teacher, t)
    verdicts = _check_licences(spec, lv.trains, method, base, teacher, t)

    budget, estimate, hp, contract = None, None, {}, None
    if lv.trains:
        if spec.constraints.hardware.gpus == 0:
            t.decide("HARDWARE-CPU-ONLY", f"gpus is 0: host RAM ({spec.constraints.hardware.cpu_memory_gb:g} GB) "
                     "is the memory budget; precision resolves to fp32 at run time.")
        chosen = _choose_budget(spec, method, distillation, base, teacher, data, t)
        budget, estimate = chosen.budget, chosen.estimate
        hp = _hyperparameters(spec, method, distillation, budget, chosen.checkpointing, chosen.micro_batch,
                              chosen.accumulation)
        contract = _contract(spec, data, True, t)

    models = [_model_info("base", base, verdicts.get("base", ""))]
    if teacher is not None:
        models.append(_model_info("teacher", teacher, verdicts.get("teacher", "")))
    plan = Plan(
        generator=f"specc {__version__}",
        name=spec.name,
        spec_file=Path(spec_file).name,
        spec_sha256=spec_sha256,
        summary=spec.goal.summary,
        behaviours=list(spec.goal.behaviours),
        levers=lv.levers,  # type: ignore[arg-type]
        trains=lv.trains,
        method=method,  # type: ignore[arg-type]
        distillation=distillation,  # type: ignore[arg-type]
        parameter_budget=budget,  # type: ignore[arg-type]
        decisions=t.decisions,
        findings=t.findings,
        recommendations=t.recommendations,
        models=models,
        data=data,
        estimate=estimate,
        hyperparameters=hp,
        contract=contract,
        tracking=_tracking(spec, spec_sha256, data),
    )
    return _with_stages(spec, plan)


def _with_stages(spec: Spec, plan: Plan) -> Plan:
    """Attach the stage graph and launch (from :mod:`specc.plan.stages`) to a training plan without errors."""
    if not plan.trains or not plan.ok:
        return plan
    try:
        from specc.plan.stages import build_stages
    except ImportError:  # the compile engineer's module is optional while it lands
        return plan
    stages, launch = build_stages(spec, plan)
    return plan.model_copy(update={"stages": stages, "launch": launch})


def plan_spec_file(path: str | Path) -> Plan:
    """Load a spec file (raises ``SpecInvalid``) and plan it; the lock uses the file's bytes."""
    from specc.spec.loader import load_spec

    loaded = load_spec(path)
    return make_plan(loaded.spec, loaded.base_dir, loaded.path.name, loaded.sha256)


def _main(argv: list[str]) -> int:
    """``python -m specc.plan.planner SPEC [text|markdown|json]``: a CLI-free entry for the benchmark."""
    from specc.spec.errors import SpecInvalid
    from specc.plan.render import render

    if not argv:
        print("usage: python -m specc.plan.planner SPEC [text|markdown|json]", file=sys.stderr)
        return 2
    try:
        plan = plan_spec_file(argv[0])
    except SpecInvalid as exc:
        print(exc, file=sys.stderr)
        return 2
    sys.stdout.write(render(plan, argv[1] if len(argv) > 1 else "text"))
    return 0 if plan.ok else 1


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

"""Step 1 of the guide: which levers (prompting → retrieval → fine-tune → distill) the plan pulls, and whether
it trains at all. Adapt last, not first: a cheaper lever that already meets the bar stops the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from specc.contract.metrics import higher_is_better, meets_bar
from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["FAST_CHANGE", "NUDGE_BEHAVIOURS", "SKILL_BEHAVIOURS", "Levers", "choose_levers"]


FAST_CHANGE = frozenset({"monthly", "weekly", "daily", "realtime"})
"""Knowledge that changes this often goes to retrieval (documents update without retraining)."""


NUDGE_BEHAVIOURS = frozenset({"style", "tone", "format"})


SKILL_BEHAVIOURS = frozenset({"skill", "reasoning"})


@dataclass
class Levers:
    levers: list[str]
    trains: bool
    distil: bool
    tune_rules: list[str]
    latency_wanted: bool
    cost_wanted: bool


def choose_levers(spec: Spec, t: Trace) -> Levers:
    goal, cons, ev, data = spec.goal, spec.constraints, spec.evidence, spec.data
    wanted = set(goal.behaviours)
    metric, bar = spec.eval.metric, spec.eval.bar
    forced = spec.method.method
    prompt_meets = meets_bar(ev.prompting.score if ev.prompting else None, bar, higher_is_better(metric))
    retrieval_meets = meets_bar(ev.retrieval.score if ev.retrieval else None, bar, higher_is_better(metric))
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
    tune = Trace()  # reasons to tune; traced only if the plan does train (a cheaper lever may stop it)
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
    return Levers(levers, trains, distil, tune_rules, latency_wanted, cost_wanted)


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


def _recommend_levers(spec: Spec, levers: list[str], trains: bool, t: Trace) -> None:
    if not trains:
        t.recommend("Iterate on the prompt (instructions, few-shot examples) and score it on the golden set; "
                    "record the result under evidence.prompting.")
    if "retrieval" in levers:
        t.recommend("Serve facts through retrieval: index the documents and update them, not the weights, when "
                    "facts change" + (" ; return the source passages for citations." if
                                      spec.constraints.citations_required else "."))
    if not trains and spec.eval.bar is None:
        t.recommend("Set eval.bar so evidence from cheaper levers can decide whether tuning is needed.")


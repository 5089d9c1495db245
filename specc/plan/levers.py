"""Step 1 of the guide: which levers (prompting → retrieval → fine-tune → distill) the plan pulls, and whether
it trains at all. Adapt last, not first: a cheaper lever that already meets the bar stops the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from specc.contract.metrics import higher_is_better, meets_bar
from specc.plan.serving import ServingGoal, serving_goals, trace_serving
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
    serving: dict[str, ServingGoal] | None = None


def choose_levers(spec: Spec, t: Trace) -> Levers:
    goal, cons, ev, data = spec.goal, spec.constraints, spec.evidence, spec.data
    wanted = set(goal.behaviours)
    metric, bar = spec.eval.metric, spec.eval.bar
    forced = spec.method.method
    prompt_meets = meets_bar(ev.prompting.score if ev.prompting else None, bar, higher_is_better(metric))
    retrieval_meets = meets_bar(ev.retrieval.score if ev.retrieval else None, bar, higher_is_better(metric))
    fast_facts = cons.knowledge_change in FAST_CHANGE
    has_demos = data.train is not None or data.preference is not None
    goals = serving_goals(spec)
    latency_wanted = goals["latency"].is_reason
    cost_wanted = goals["cost"].is_reason
    context_wanted = goals["context"].is_reason

    levers = ["prompting"]
    t.decide("LEVER-PROMPT-FIRST", "Prompting is tried (and kept) first in every plan; it costs nothing to change.")
    trace_serving(goals, t)

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
    serving_rules: list[str] = []  # tune reasons that come from serving goals, not from quality
    serving_why = _serving_reason(goals)
    any_serving_stated = any(g.stated for g in goals.values())
    serving_reason = latency_wanted or cost_wanted or context_wanted
    if spec.teacher is not None and forced in ("auto", "distill") and (serving_reason or not any_serving_stated
                                                                      or forced == "distill"):
        distil = True
        serving_rules.append("LEVER-DISTILL-SERVING")
        tune.decide("LEVER-DISTILL-SERVING",
                 (serving_why or "a teacher is named (no latency or cost goal is stated)")
                 + f"; teacher {spec.teacher.ref} → student {spec.base_model.ref}.")
    else:
        if latency_wanted:
            serving_rules.append("LEVER-FINETUNE-LATENCY")
            tune.decide("LEVER-FINETUNE-LATENCY", goals["latency"].words() + "; no teacher is named.")
        if context_wanted:
            serving_rules.append("LEVER-FINETUNE-CONTEXT")
            tune.decide("LEVER-FINETUNE-CONTEXT", goals["context"].words()
                        + ": tuning the instructions and examples into the weights shortens every prompt.")
    if spec.teacher is not None and forced == "auto" and any_serving_stated and not serving_reason:
        t.decide("LEVER-SERVING-ALREADY-MET",
                 f"teacher {spec.teacher.ref} is named, but every stated serving goal is met ("
                 + "; ".join(g.words() for g in goals.values() if g.stated) + "): nothing to distil for.")
    tune_rules.extend(serving_rules)
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
        cheaper = "prompting" if prompt_meets else "retrieval" if retrieval_meets else None
        if cheaper is not None and serving_rules:
            # Quality is met by a cheaper lever; only the serving goals still call for a change of model.
            score = (ev.prompting if prompt_meets else ev.retrieval).score  # type: ignore[union-attr]
            if cheaper == "retrieval" and "retrieval" not in levers:
                levers.append("retrieval")
            t.decide("LEVER-QUALITY-MET-SERVING-NOT",
                     f"{cheaper} scored {score} on {metric}, bar {bar}: quality is met; but "
                     + serving_why + ". Quality and serving are separate reasons: the plan changes the model "
                     "for serving only.")
            tune.decisions = [d for d in tune.decisions if d.rule in serving_rules]
            tune_rules = list(serving_rules)
        elif prompt_meets:
            trains, distil = False, False
            t.decide("LEVER-PROMPT-MEETS-BAR",
                     f"prompting scored {ev.prompting.score} on {metric}, bar {bar}"  # type: ignore[union-attr]
                     + (f"; serving: {serving_why}, which tuning without a teacher cannot fix" if serving_reason
                        else "") + ".")
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
        if ev.prompting is None and not distil and not (serving_rules and tune_rules == serving_rules):
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
    return Levers(levers, trains, distil, tune_rules, latency_wanted, cost_wanted, goals)


def _serving_reason(goals: dict[str, ServingGoal]) -> str:
    """The unmet serving goals, each with its comparison (``latency: current 1,500 ms > budget 400 ms``)."""
    return "; ".join(g.words() for g in goals.values() if g.is_reason)


def _recommend_levers(spec: Spec, levers: list[str], trains: bool, t: Trace) -> None:
    ev = spec.evidence
    if not trains and ev.prompting is None:
        t.recommend("Iterate on the prompt (instructions, few-shot examples) and score it on the golden set; "
                    "record the result under evidence.prompting.")
    elif not trains and t.fired("LEVER-PROMPT-MEETS-BAR"):
        t.recommend("Keep the prompt that scored the recorded evidence.prompting result; re-score it on the golden "
                    "set whenever the prompt or the model changes.")
    elif not trains:
        t.recommend("Improve the prompt further (instructions, few-shot examples) and update evidence.prompting "
                    "with the new golden-set score.")
    if "retrieval" in levers:
        t.recommend("Serve facts through retrieval: index the documents and update them, not the weights, when "
                    "facts change" + (" ; return the source passages for citations." if
                                      spec.constraints.citations_required else "."))
    if not trains and spec.eval.bar is None:
        t.recommend("Set eval.bar so evidence from cheaper levers can decide whether tuning is needed.")


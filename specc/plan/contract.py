"""Step 6: the eval contract (target metric and bar, golden set, general suites, forgetting budget, firewall)
and the tracking group every stage of one plan shares.
"""

from __future__ import annotations

import hashlib

from specc.plan.model import Contract, DataFact, ContractSuite, TrackingSettings
from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["make_contract", "make_tracking"]


def make_contract(spec: Spec, data: list[DataFact], trains: bool, t: Trace,
                  forgetting_advice: list[str] | None = None, method: str | None = None, *,
                  replay_applies: bool = True, risk_level: str | None = None) -> Contract | None:
    if not trains:
        return None
    ev = spec.eval
    if method == "reward" or ev.metric == "pairwise_accuracy":
        return _reward_contract(spec, data, t, method)
    members, golden = _golden(data)
    inputs = [d.role for d in data if d.role in ("train", "preference", "prompts", "replay")]
    suites = [ContractSuite(name=s.name, kind=s.kind, path=s.where if s.reads_rows else None, task=s.task,
                            limit=s.limit) for s in spec.data.general_suites]
    t.decide("CONTRACT-EVERY-TUNE",
             f"metric {ev.metric}" + (f", bar {ev.bar}" if ev.bar is not None else ", no bar")
             + f"; {len(suites)} general suite(s); forgetting budget abs {ev.forgetting.max_abs_drop}, "
             f"rel {ev.forgetting.max_rel_drop}.")
    for member in members:  # each member of a golden set given as a list must be a format the metric scores
        if member.format == "preference":
            t.find("CONTRACT-METRIC-MISMATCH", f"data.golden ({member.path}) holds preference pairs, which only a "
                   f"reward model's pairwise_accuracy scores, but the plan's method is {method}",
                   "give golden rows in the format the model answers (messages or prompt/completion), or set "
                   "method: reward", level="error")
    if golden is not None:
        fw = ev.firewall
        t.decide("CONTRACT-FIREWALL",
                 f"golden {_paths(members)} vs {', '.join(inputs) or 'no training inputs'}"
                 f"{' (teacher prompts included)' if 'prompts' in inputs else ''}: normalised exact match and "
                 f"{fw.ngram}-gram overlap{', near-duplicates' if fw.near_duplicates else ''}; "
                 f"threshold {fw.threshold}.")
    else:
        t.find("CONTRACT-NO-GOLDEN", "the plan trains but data.golden is not given: the target metric cannot be "
               "measured and nothing is firewalled", "add a held-out golden set under data.golden")
    if not suites:
        t.find("CONTRACT-NO-GENERAL-SUITE", "the plan trains but data.general_suites is empty: forgetting cannot "
               "be measured", "add at least one general-capability suite under data.general_suites")
    else:
        _forgetting_remedy(spec, data, t, replay_applies, risk_level)
    if ev.bar is None:
        t.find("CONTRACT-NO-BAR", "eval.bar is not set: the golden-set score is reported but gates nothing",
               "set eval.bar")
    firewall = ev.firewall.model_dump(mode="json")
    firewall["inputs"] = inputs
    return Contract(metric=ev.metric, bar=ev.bar, golden=golden, suites=suites,
                    max_abs_drop=ev.forgetting.max_abs_drop, max_rel_drop=ev.forgetting.max_rel_drop,
                    firewall=firewall, max_new_tokens=ev.max_new_tokens,
                    personal_data=spec.data.personal_data.model_dump(mode="json"),
                    forgetting_advice=list(forgetting_advice or []))


def make_tracking(spec: Spec, spec_sha256: str, data: list[DataFact]) -> TrackingSettings:
    """W&B group = name + short hash of the spec and data hashes: one group per reviewed input set."""
    lock = hashlib.sha256(spec_sha256.encode())
    for fact in sorted(data, key=lambda d: (d.role, d.name)):
        lock.update(f"\n{fact.role}:{fact.name}:{fact.sha256 or '-'}".encode())
    tr = spec.tracking
    return TrackingSettings(backend=tr.backend, project=tr.project or spec.name, entity=tr.entity, mode=tr.mode,
                    log_model=tr.log_model, group=f"{spec.name}-{lock.hexdigest()[:8]}")


def _forgetting_remedy(spec: Spec, data: list[DataFact], t: Trace, replay_applies: bool,
                       risk_level: str | None) -> None:
    """What to do when the forgetting gate fails, made concrete for this spec (rule CONTRACT-FORGETTING-REMEDY):
    the remedy the demo's third arm runs. Replay is named as a ``data.replay`` line
    (:func:`specc.plan.forgetting.replay_advice`, the same words as the high-risk warning); when the spec already
    replays, the next step is a larger ratio; when the plan has no SFT stage on data.train, a gentler schedule."""
    from specc.data.mixture import replay_rows
    from specc.plan.forgetting import SUGGESTED_REPLAY_RATIO, replay_advice
    from specc.plan.inputs import task_rows

    m = spec.method
    lr = f"half the learning rate ({m.learning_rate / 2:g})" if m.learning_rate else "half the learning rate"
    replay = spec.data.replay
    if replay is not None and replay_applies:
        fact = next((d for d in data if d.role == "replay"), None)
        used = (fact.mix or {}).get("rows_used") if fact is not None else None
        mixed = f"{used} general rows" if used else "general rows"
        t.decide("CONTRACT-FORGETTING-REMEDY",
                 f"data.replay already mixes {mixed} ({replay.where}) into the SFT stage at ratio {replay.ratio:g}; "
                 f"if the gate fails: a larger data.replay.ratio, then {lr} or fewer epochs.")
        t.recommend(f"If the forgetting gate fails: raise data.replay.ratio (now {replay.ratio:g}), re-run the "
                    f"firewall and the gate; if it still fails, {lr} or fewer epochs, re-checking the target bar.")
        return
    if not replay_applies:
        t.decide("CONTRACT-FORGETTING-REMEDY",
                 f"no SFT stage on data.train for replay rows to join; if the gate fails: {lr} or fewer epochs.")
        t.recommend(f"If the forgetting gate fails: {lr} or fewer epochs, re-checking the target bar (replay "
                    "needs an SFT stage: data.train plus data.replay).")
        return
    rows = task_rows(data)
    train = next((d for d in data if d.role == "train"), None)
    about = f"about {replay_rows(rows, SUGGESTED_REPLAY_RATIO)} " if rows else ""
    where = f"data.train ({train.path})" if train is not None else "the training data"
    t.decide("CONTRACT-FORGETTING-REMEDY",
             f"replay {about}general examples in {where} with data.replay (ratio {SUGGESTED_REPLAY_RATIO:g}); "
             f"then {lr} or fewer epochs.")
    if risk_level != "high":  # at high risk FORGETTING-RISK-HIGH advises the same replay now, not later
        t.recommend(f"If the forgetting gate fails, keep the budget: {replay_advice(rows)} Re-run the firewall "
                    f"and the gate; if it still fails, {lr} or fewer epochs, re-checking the target bar.")


def _golden(data: list[DataFact]) -> tuple[list[DataFact], DataFact | list[DataFact] | None]:
    """(every golden fact, the contract's golden): one fact, the list of a golden set given as a list, or None."""
    members = [d for d in data if d.role == "golden"]
    listed = len(members) > 1 or any(d.name != "golden" for d in members)
    return members, (members if listed else members[0] if members else None)


def _paths(members: list[DataFact]) -> str:
    return ", ".join(m.path for m in members)


def _reward_contract(spec: Spec, data: list[DataFact], t: Trace, method: str | None) -> Contract | None:
    """The eval contract of a reward model (rule CONTRACT-REWARD-MODEL): pairwise accuracy on golden preference
    pairs, before (the base model with a new, seeded score head) and after, against the bar.

    No forgetting gate: a sequence classifier does not generate, so the general suites (generation and
    multiple choice of a causal LM) cannot score it; the base model itself is not changed by the plan, so there
    is nothing of it to forget. Suites in the spec are an error rather than silently not run."""
    ev = spec.eval
    if method != "reward":
        t.find("CONTRACT-METRIC-MISMATCH", f"eval.metric is pairwise_accuracy, which scores a reward model, but the "
               f"plan's method is {method}", "set method.method: reward (or auto), or choose another eval.metric",
               level="error")
        return None
    if "metric" in ev.model_fields_set and ev.metric != "pairwise_accuracy":
        t.find("CONTRACT-METRIC-MISMATCH", f"method is reward but eval.metric is {ev.metric}: a reward model scores "
               "pairs, it does not generate answers", "set eval.metric: pairwise_accuracy", level="error")
        return None
    members, golden = _golden(data)
    inputs = [d.role for d in data if d.role in ("train", "preference", "replay")]
    bar = "" if ev.bar is None else f", bar {ev.bar}"
    t.decide("CONTRACT-EVERY-TUNE", f"metric pairwise_accuracy{bar}; no general suites (a reward model, see "
             "CONTRACT-REWARD-MODEL).")
    t.decide("CONTRACT-REWARD-MODEL",
             f"metric pairwise_accuracy{bar} on golden preference pairs (chosen scored above rejected); baseline: "
             "the base model with a new score head seeded as the reward stage seeds its own (measured, not assumed "
             "0.5: an untrained head ranks pairs by whatever its random projection favours); no forgetting gate: a "
             "sequence classifier does not generate, so general suites cannot score it.")
    if spec.data.general_suites:
        t.find("CONTRACT-REWARD-SUITES", f"data.general_suites ({', '.join(s.name for s in spec.data.general_suites)}) "
               "cannot score a reward model (it does not generate) and would not run",
               "drop data.general_suites for method: reward", level="error")
    if golden is None:
        t.find("CONTRACT-NO-GOLDEN", "the plan trains but data.golden is not given: the target metric cannot be "
               "measured and nothing is firewalled", "add held-out {prompt, chosen, rejected} pairs under data.golden")
    elif any(m.exists and m.format not in (None, "preference") for m in members):
        for m in members:
            if m.exists and m.format not in (None, "preference"):
                t.find("CONTRACT-REWARD-GOLDEN-PAIRS", f"data.golden ({m.path}) holds {m.format} rows; pairwise "
                       "accuracy needs {prompt, chosen, rejected} pairs",
                       "give held-out preference pairs under data.golden", level="error")
    else:
        fw = ev.firewall
        t.decide("CONTRACT-FIREWALL",
                 f"golden {_paths(members)} vs {', '.join(inputs) or 'no training inputs'}: normalised exact match and "
                 f"{fw.ngram}-gram overlap{', near-duplicates' if fw.near_duplicates else ''}; "
                 f"threshold {fw.threshold}.")
    if ev.bar is None:
        t.find("CONTRACT-NO-BAR", "eval.bar is not set: the golden-set score is reported but gates nothing",
               "set eval.bar")
    firewall = ev.firewall.model_dump(mode="json")
    firewall["inputs"] = inputs
    return Contract(metric="pairwise_accuracy", bar=ev.bar, golden=golden, suites=[],
                    max_abs_drop=ev.forgetting.max_abs_drop, max_rel_drop=ev.forgetting.max_rel_drop,
                    firewall=firewall, max_new_tokens=ev.max_new_tokens,
                    personal_data=spec.data.personal_data.model_dump(mode="json"), forgetting_advice=[])

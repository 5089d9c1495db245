"""Step 2 of the guide: the training method (SFT imitates, DPO compares pairs, RLHF samples online,
distillation copies a teacher) and, for distillation, sequence- or logit-level.
"""

from __future__ import annotations

from specc.plan.inputs import KnownModel
from specc.plan.levers import Levers
from specc.plan.model import DataFact
from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["choose_method", "human_size"]


def _looks_instruction_tuned(ref: str) -> bool:
    name = ref.lower()
    return any(tag in name for tag in ("instruct", "chat", "-it", "-sft", "-dpo"))


def choose_method(spec: Spec, lv: Levers, base: KnownModel, teacher: KnownModel | None,
                   t: Trace, data_facts: list[DataFact] | tuple[DataFact, ...] = (),
                   preference_format: str | None = None) -> tuple[str, str | None]:
    """Return (method, distillation mode) and fire the method rules; data needs become findings.

    ``preference_format`` is the preference file's row format as read from disk: unpaired rows
    ({prompt, completion, label}) can only be learned by KTO."""
    data, forced = spec.data, spec.method.method
    unpaired = preference_format == "unpaired_preference"
    has_train, has_pref, has_prompts = data.train is not None, data.preference is not None, data.prompts is not None
    wanted = set(spec.goal.behaviours)
    if forced != "auto":
        method = forced
        t.decide("METHOD-FORCED", f"method.method is {forced}.", verdict=f"use {forced}")
    elif lv.distil:
        method = "distill"
    elif spec.method.reward_functions:
        method = "grpo"
    elif has_pref and unpaired:
        method = "kto"
    elif has_pref and spec.eval.metric == "pairwise_accuracy":
        method = "reward"  # the deliverable is a scorer of pairs, not a tuned generator
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
        elif _train_format(data_facts) == "text":
            t.decide("METHOD-CONTINUED-PRETRAINING",
                     f"data.train ({data.train.path}) holds raw text rows, not prompt → response pairs: the model "  # type: ignore[union-attr]
                     "learns to continue the documents (next-token prediction over the whole text).")
        else:
            t.decide("METHOD-SFT-IMITATION", f"data.train ({data.train.where}) holds demonstrations to imitate.")  # type: ignore[union-attr]
        if "preference" in wanted and not has_pref:
            t.find("METHOD-PREFERENCE-NEEDS-PAIRS",
                   "preference is wanted but only demonstrations are given: SFT imitates, it does not compare",
                   "add chosen/rejected pairs under data.preference for DPO")
    elif method == "grpo":
        if not spec.method.reward_functions:
            t.find("METHOD-GRPO-NEEDS-REWARDS", "method.method is grpo but method.reward_functions is not given",
                   "add e.g. reward_functions: [{kind: exact_answer, column: answer}]")
        if not has_prompts:
            t.find("DATA-NO-TRAINING-DATA", "grpo samples answers to data.prompts, which is not given",
                   "add {prompt, ...} rows (with the columns your reward functions read) under data.prompts")
        if spec.method.reward_functions:
            kinds = ", ".join(f.kind for f in spec.method.reward_functions)
            t.decide("METHOD-GRPO-REWARD-FUNCTIONS", f"method.reward_functions ({kinds}) score answers sampled for "
                     "data.prompts: GRPO, no learned reward model.")
        if has_train:
            t.decide("METHOD-SFT-BEFORE-PREFERENCE", "data.train is given: SFT first, then grpo.")
    elif method in ("dpo", "orpo", "reward", "rlhf") and unpaired:
        t.find("DATA-FORMAT-MISMATCH",
               f"{method} needs chosen/rejected pairs, but data.preference ({data.preference.path}) holds unpaired "  # type: ignore[union-attr]
               "answers labelled good or bad",
               "use method: kto (or auto), or pair the answers into {prompt, chosen, rejected} rows")
    elif method == "kto":
        if not has_pref:
            t.find("DATA-NO-TRAINING-DATA", "kto needs answers labelled good or bad but data.preference is not given",
                   "add {prompt, completion, label} rows under data.preference")
        else:
            t.decide("METHOD-KTO-UNPAIRED", "data.preference holds " + (
                "answers labelled good or bad, not pairs" if unpaired else "pairs, which KTO reads as one good and "
                "one bad answer each (method.method is kto)") + ": KTO learns from each label alone.")
        if spec.method.micro_batch_size == 1:
            t.find("METHOD-KTO-BATCH", "KTO estimates its KL reference from other rows of the same batch: "
                   "method.micro_batch_size 1 leaves none", "set method.micro_batch_size to 2 or more")
        if has_train:
            t.decide("METHOD-SFT-BEFORE-PREFERENCE", "data.train is given: SFT first, then kto.")
    elif method in ("dpo", "orpo", "reward", "rlhf"):
        if not has_pref:
            t.find("DATA-NO-TRAINING-DATA", f"{method} needs preference pairs but data.preference is not given",
                   "add {prompt, chosen, rejected} rows under data.preference")
        if method == "reward":
            why = ("method.method is reward" if forced == "reward" else
                   "eval.metric is pairwise_accuracy and data.preference holds pairs")
            t.decide("METHOD-REWARD-MODEL", f"{why}: train a reward model alone (a scalar score head, "
                     "trl.RewardTrainer) to score each pair's chosen answer above the rejected one; no policy is "
                     "tuned.")
            if has_prompts:
                t.find("METHOD-SETTING-UNUSED", "data.prompts is given but a reward model alone samples nothing",
                       "drop data.prompts, or use method: rlhf to train a policy against the reward model")
        elif method == "orpo":
            t.decide("METHOD-ORPO-PAIRS", "method.method is orpo: one stage on the pairs, an odds-ratio penalty "
                     "added to the SFT loss, no reference model (trl.experimental.orpo).")
        elif method == "dpo":
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
        elif method != "reward":  # a reward model only scores: it need not follow instructions
            instruct = _looks_instruction_tuned(base.ref.ref)
            t.find("METHOD-PREFERENCE-WITHOUT-SFT",
                   f"no demonstrations: {method} starts from the base model {base.ref.ref}"
                   + (" (its name says it is already instruction-tuned)" if instruct else
                      ", which may not follow instructions yet"),
                   "add data.train to SFT first" if not instruct else "",
                   level="info" if instruct else "warning")
    if spec.method.reward_functions and method != "grpo":
        t.find("METHOD-REWARD-FUNCTIONS-UNUSED",
               f"method.reward_functions are given but the method is {method}: only grpo reads them",
               "set method.method: grpo (or auto), or drop method.reward_functions")
    return method, _choose_distillation(spec, base, teacher, t) if method == "distill" else None


def _train_format(facts: list[DataFact] | tuple[DataFact, ...]) -> str | None:
    return next((d.format for d in facts if d.role == "train" and d.exists), None)


def _choose_distillation(spec: Spec, base: KnownModel, teacher: KnownModel | None, t: Trace) -> str | None:
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
                   f"teacher {teacher.ref.ref} ({human_size(teacher.params)}) is no larger than student "
                   f"{base.ref.ref} ({human_size(base.params)}): the student will not serve faster or cheaper",
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


def _shared_vocabulary(a: KnownModel, b: KnownModel) -> bool | None:
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


def human_size(params: int) -> str:
    return f"{params / 1e9:.1f}B" if params >= 1e9 else f"{params / 1e6:.0f}M"


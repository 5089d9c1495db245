"""The adaptation decision guide as data: every rule the planner can fire, with its source.

Why rules are data and not just ``if`` statements: a reviewer reading a plan sees rule ids
(``LEVER-RETRIEVAL-CITATIONS``), and must be able to look each one up (``specc explain``), see the
condition it checks, the verdict it gives, why, and where in the guide it comes from. Keeping the
text here, apart from the planner's logic, means the wording is reviewed in one place and a test can
check that every id the planner fires is documented (and that no documented rule is dead).

Stdlib only: ``specc rules`` and ``specc explain`` must be instant.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

__all__ = ["Rule", "RULES", "RULES_BY_ID", "get_rule", "suggest_rule_ids", "Topic", "Output"]

Topic = Literal["lever", "serving", "method", "budget", "licence", "data", "safety", "forgetting", "contract",
                "hardware", "launch"]
Output = Literal["decision", "error", "warning", "info"]
"""What a firing produces: a traced decision (``plan.decisions``) or a finding of that level."""

GUIDE_DOC = "docs/DECISION-GUIDE.md"
"""The document every rule's ``section`` cites (in the repository; a test checks each section heading exists)."""
_GUIDE = f"{GUIDE_DOC}, 'The decision guide'"
_FURTHER = f"{GUIDE_DOC}, 'The decision guide' (further rules)"
_CONTRACT = f"{GUIDE_DOC}, 'The eval contract'"
_PIPELINE = f"{GUIDE_DOC}, 'Pipeline'"
_SERVING = f"{GUIDE_DOC}, 'Serving goals'"
_USE = f"{GUIDE_DOC}, 'Intended use and licences'"
_RISKS = f"{GUIDE_DOC}, 'Data risks and safety'"


@dataclass(frozen=True)
class Rule:
    """One rule of the guide. ``output`` is what it produces when it fires (decision or finding level)."""

    id: str
    topic: Topic
    output: Output
    condition: str
    verdict: str
    rationale: str
    section: str
    seed: str


def _r(id: str, topic: Topic, output: Output, condition: str, verdict: str, rationale: str, section: str,
       seed: str) -> Rule:
    return Rule(id, topic, output, condition, verdict, rationale, section, seed)


RULES: tuple[Rule, ...] = (
    # ---- levers: prompting ------------------------------------------------------------------------
    _r("LEVER-PROMPT-FIRST", "lever", "decision",
       "always",
       "prompting is the first lever of every plan",
       "It is the cheapest and instant; every other lever builds on a good prompt.",
       _GUIDE, "Prompting: 'Start here. Cheapest and instant.'"),
    _r("LEVER-PROMPT-MEETS-BAR", "lever", "decision",
       "evidence.prompting.score meets eval.bar and no method is forced",
       "stop at prompting: no training",
       "The goal is already reached by the cheapest lever; tuning would add cost and forgetting risk for nothing.",
       _GUIDE, "'A large share of \"we need to fine-tune\" problems are solved by better prompting ... Adapt last, "
               "not first.'"),
    _r("LEVER-PROMPT-NUDGE", "lever", "decision",
       "only style/tone/format is wanted, consistency is not required, there is no evidence prompting fell "
       "short and no training data",
       "stop at prompting: the goal is a nudge",
       "Behaviour and formatting nudges are usually reached by instructions and examples in the prompt.",
       _GUIDE, "Prompting: 'Often enough on its own for behavior and formatting nudges.'"),
    _r("LEVER-NO-TUNING-NEEDED", "lever", "decision",
       "no wanted behaviour needs the weights changed (after retrieval and prompting are applied)",
       "the plan does not train",
       "A plan that stops at prompting or retrieval is a valid, cheaper outcome.",
       _GUIDE, "'Adaptation is not always the answer, and it is the most expensive lever.'"),
    # ---- levers: retrieval ------------------------------------------------------------------------
    _r("LEVER-RETRIEVAL-CHANGING-FACTS", "lever", "decision",
       "constraints.knowledge_change is monthly, weekly, daily or realtime",
       "use retrieval for the facts",
       "Documents can be updated without retraining; tuned-in facts go stale at the next change.",
       _GUIDE, "Retrieval: 'When knowledge changes often ... Update documents without retraining.'"),
    _r("LEVER-RETRIEVAL-CITATIONS", "lever", "decision",
       "constraints.citations_required is true",
       "use retrieval so answers can cite their sources",
       "A tuned model cannot point at the document a fact came from; a retriever can.",
       _GUIDE, "Retrieval: 'When ... you need source citations.'"),
    _r("LEVER-RETRIEVAL-KNOWLEDGE", "lever", "decision",
       "knowledge is a wanted behaviour and the facts are stable (never/yearly)",
       "use retrieval for knowledge before tuning it in",
       "Retrieval competes with tuning for knowledge and is cheaper and forgets nothing; tune facts in only "
       "when retrieval was tried and fell short.",
       _FURTHER, "'It competes with retrieval ... fine-tune for durable behavior and style, retrieve for facts "
                 "that change.'"),
    _r("LEVER-RETRIEVAL-MEETS-BAR", "lever", "decision",
       "evidence.retrieval.score meets eval.bar and no method is forced",
       "stop at retrieval: no training",
       "Retrieval already reaches the goal; tuning would add cost and forgetting risk.",
       _GUIDE, "'Adapt last, not first.'"),
    _r("LEVER-COMBINE-RETRIEVAL-AND-TUNE", "lever", "decision",
       "retrieval and fine-tuning are both chosen",
       "combine them: retrieval for the facts, tuning for the behaviour",
       "The two levers solve different problems and are routinely combined.",
       _FURTHER, "'fine-tune for durable behavior and style, retrieve for facts that change — and the two are "
                 "routinely combined.'"),
    # ---- levers: fine-tuning and distillation -------------------------------------------------------
    _r("LEVER-FINETUNE-BEHAVIOUR", "lever", "decision",
       "style/tone/format is wanted and consistency is required, prompting fell short, or demonstrations are "
       "supplied",
       "fine-tune for the behaviour",
       "A behaviour that must hold on every call without re-explaining it belongs in the weights.",
       _GUIDE, "Fine-tune: 'When you need a consistent behavior, tone, or style.'"),
    _r("LEVER-FINETUNE-SKILL", "lever", "decision",
       "skill or reasoning is wanted",
       "fine-tune for the specialised skill",
       "A skill internalised in the weights needn't be re-explained on every call.",
       _GUIDE, "Fine-tune: '... or specialized reasoning.'"),
    _r("LEVER-FINETUNE-PREFERENCE", "lever", "decision",
       "preference is wanted (helpful, harmless, honest: taught by comparison)",
       "tune with preferences (DPO or RLHF)",
       "Qualities with no single correct answer are taught from comparisons: A is better than B.",
       _GUIDE, "'Some qualities — helpfulness, harmlessness, honesty — are hard to demonstrate with a single "
               "\"correct\" answer, so they are taught from comparisons instead.'"),
    _r("LEVER-FINETUNE-STABLE-KNOWLEDGE", "lever", "decision",
       "knowledge with stable facts is wanted, retrieval was tried and fell short, and demonstrations exist",
       "fine-tune the stable facts in",
       "Retrieval was measured and was not enough; facts that never change do not go stale in the weights.",
       _FURTHER, "'[Adaptation] competes with retrieval as a way to inject knowledge.'"),
    _r("LEVER-FINETUNE-LATENCY", "lever", "decision",
       "latency is wanted, or serving.current_latency_ms exceeds serving.max_latency_ms, and no teacher is named",
       "fine-tune so the model needs no long prompt (or can be smaller)",
       "A tuned model skips the instructions and examples a prompt would carry, and a smaller tuned model "
       "answers faster.",
       _GUIDE, "Fine-tune: '... or lower latency than retrieval.'"),
    _r("LEVER-DISTILL-SERVING", "lever", "decision",
       "a teacher is named (typically because serving_cost or latency is wanted, or serving.too_costly is "
       "true) and no other method is forced",
       "distil the teacher into the smaller base model",
       "A capable model works but is too slow or costly to serve; a student serves far faster and cheaper.",
       _GUIDE, "Distillation: 'When a capable model works but is too slow or costly to serve, and you need a "
               "smaller deployable version.'"),
    _r("LEVER-METHOD-FORCED", "lever", "decision",
       "method.method is sft, dpo, rlhf or distill",
       "tune as the spec asks",
       "An explicit method in the spec overrides the guide's lever choice; the guide's concerns remain findings.",
       _PIPELINE, "—"),
    # ---- serving goals ------------------------------------------------------------------------------
    _r("SERVING-GOAL-MET", "serving", "decision",
       "a serving goal (latency, cost per call, context tokens) has a budget and a current value within it",
       "the goal is met: not a reason to change the model",
       "A budget that is already met gives no reason to distil or tune; the comparison is traced so a reviewer "
       "sees it.",
       _SERVING, "'When a capable model works but is too slow or costly to serve'"),
    _r("SERVING-GOAL-UNMET", "serving", "decision",
       "a serving goal's current value exceeds its budget (or serving.too_costly is true)",
       "the goal is unmet: a reason to change the model, whatever the quality",
       "Serving is a reason of its own: a prompt that meets the quality bar can still be too slow or too costly.",
       _SERVING, "'or lower latency from a smaller specialized model'"),
    _r("SERVING-GOAL-UNMEASURED", "serving", "info",
       "a serving budget is set but the current value is not",
       "the goal cannot be judged: measure the current solution",
       "Without the current value nobody can tell whether the budget is already met.",
       _SERVING, "—"),
    _r("LEVER-QUALITY-MET-SERVING-NOT", "lever", "decision",
       "prompting or retrieval meets eval.bar, but a serving goal is unmet and a serving lever applies (a teacher "
       "to distil, or tuning for latency or context)",
       "do not stop at the cheaper lever: change the model for serving only",
       "Quality and serving are separate reasons; meeting one says nothing about the other.",
       _SERVING, "'When a capable model works but is too slow or costly to serve, and you need a smaller "
                 "deployable version.'"),
    _r("LEVER-SERVING-ALREADY-MET", "lever", "decision",
       "a teacher is named, serving goals are stated, and every one of them is met",
       "do not distil",
       "Distillation buys speed and cost; when both are already within budget it buys nothing.",
       _SERVING, "'When a capable model works but is too slow or costly to serve'"),
    _r("LEVER-FINETUNE-CONTEXT", "lever", "decision",
       "serving.current_context_tokens exceeds serving.max_context_tokens and no teacher is named",
       "fine-tune the instructions and examples into the weights so the prompt shrinks",
       "Every call pays for the prompt's tokens; a tuned model needs no long instructions or few-shot examples.",
       _SERVING, "'a skill internalized so it needn't be re-explained on every call'"),
    # ---- evidence and conflicts ---------------------------------------------------------------------
    _r("EVIDENCE-PROMPTING-FIRST", "lever", "warning",
       "the plan fine-tunes and evidence.prompting is absent",
       "flag it: no evidence that prompting fell short",
       "Fine-tuning is reached for too early; show that prompting was tried against the same bar.",
       _FURTHER, "'Fine-tuning is reached for too early. ... Adapt last, not first.'"),
    _r("EVIDENCE-MEETS-BAR-OVERRIDDEN", "lever", "warning",
       "method is forced although evidence shows prompting or retrieval meets eval.bar",
       "train as asked, but flag that a cheaper lever already reaches the bar",
       "The spec's own evidence says tuning is unnecessary.",
       _GUIDE, "'Adapt last, not first.'"),
    _r("EVIDENCE-NO-BAR", "lever", "info",
       "evidence is given but eval.bar is not set",
       "the evidence cannot be judged against a bar",
       "Without a bar nobody can tell whether the cheaper lever was enough.",
       _CONTRACT, "—"),
    _r("CONFLICT-TUNING-STALE-FACTS", "lever", "warning",
       "knowledge is wanted, the facts change monthly or faster, and a method is forced although no other "
       "goal needs tuning",
       "flag it: tuned-in facts go stale",
       "A model cannot be retrained as fast as the facts change; retrieval can be updated instantly.",
       _GUIDE, "Retrieval: 'Update documents without retraining.'"),
    _r("CONFLICT-RETRIEVAL-LATENCY", "lever", "warning",
       "retrieval is required (citations or changing facts) and latency is wanted or the latency budget is "
       "already exceeded",
       "keep retrieval, and make the generator fast instead",
       "Tuning cannot replace retrieval for citations or changing facts; shrink or tune the generator that "
       "reads the retrieved context, and budget the retrieval hop.",
       _GUIDE, "Fine-tune: '... lower latency than retrieval'; Retrieval: 'you need source citations'."),
    # ---- methods ------------------------------------------------------------------------------------
    _r("METHOD-SFT-IMITATION", "method", "decision",
       "demonstrations (data.train) are given and no preference or distillation method applies",
       "supervised fine-tuning (SFT)",
       "SFT learns by imitation from prompt → ideal-response pairs.",
       _GUIDE, "'SFT trains the model on prompt → ideal-response pairs ... It learns by imitation.'"),
    _r("METHOD-CONTINUED-PRETRAINING", "method", "decision",
       "the plan runs SFT and data.train holds raw text rows (format text)",
       "continued pretraining: next-token prediction over the documents",
       "Raw text has no prompt and no ideal response; the model learns the domain's language, not a behaviour "
       "to imitate.",
       _GUIDE, "'SFT trains the model on prompt → ideal-response pairs' — raw text is not such a pair."),
    _r("METHOD-DPO-PAIRS", "method", "decision",
       "preference pairs (data.preference) are given without prompts for online sampling",
       "direct preference optimisation (DPO)",
       "DPO folds preference into one loss over chosen/rejected pairs: two models, simpler and stable.",
       _GUIDE, "'DPO skips the separate reward model and the RL loop ... needing only two models — simpler and "
               "more stable to run.'"),
    _r("METHOD-GRPO-REWARD-FUNCTIONS", "method", "decision",
       "method.reward_functions are given (or method is grpo) and data.prompts holds the prompts",
       "online RL with GRPO, scored by the reward functions (no learned reward model)",
       "Verifiable rewards (an exact answer, a format) need no preference data and cannot be gamed like a learned "
       "reward model.",
       _GUIDE, "Preference (DPO / RLHF): RLHF samples online"),
    _r("METHOD-GRPO-NEEDS-REWARDS", "method", "error",
       "method is grpo but method.reward_functions is not given",
       "refuse: name the reward functions",
       "GRPO scores sampled answers; without reward functions there is nothing to score them with.",
       _GUIDE, "—"),
    _r("METHOD-REWARD-FUNCTIONS-UNUSED", "method", "error",
       "method.reward_functions are given but the plan's method is not grpo",
       "refuse: the setting would be silently ignored",
       "Only the GRPO stage reads reward functions.",
       _PIPELINE, "—"),
    _r("METHOD-REWARD-FUNCTION-INVALID", "method", "error",
       "a reward function cannot work: its file is missing, defines no such function, or its column is absent",
       "refuse: fix the reward function before anything trains",
       "A reward that fails after the policy is loaded wastes the run.",
       _PIPELINE, "—"),
    _r("METHOD-ORPO-PAIRS", "method", "decision",
       "method.method is orpo and data.preference holds pairs",
       "train with ORPO (trl.experimental.orpo): SFT loss plus an odds-ratio preference penalty, one model",
       "No reference model: half DPO's memory for the models; TRL keeps it in its experimental module.",
       _GUIDE, "Preference (DPO / RLHF): 'qualities taught by comparison'"),
    _r("METHOD-SETTING-UNUSED", "method", "error",
       "a method setting names a stage the plan does not have (method.stages.<kind>), or a sampling setting "
       "(beta, num_generations, temperature, max_completion_length) no stage of the plan reads",
       "refuse: the setting would be silently ignored",
       "A spec value that changes nothing misleads its reviewers.",
       _PIPELINE, "—"),
    _r("METHOD-TRAINER-ARG-UNKNOWN", "method", "error",
       "a method.trainer_args key is no argument of the TRL config class of a stage it applies to",
       "refuse, with a did-you-mean; a method-wide key must be an argument of every training stage's config",
       "An escape-hatch argument the trainer does not take would fail at the stage's start, or (method-wide) be "
       "dropped for some stages without a word.",
       _PIPELINE, "—"),
    _r("OUTPUT-PUSH-AFTER-GATE", "contract", "decision",
       "outputs.push_to_hub is true",
       "a push stage uploads the adapter and/or merged model with its model card after the eval stage, only "
       "when the forgetting gate passed; the token comes from the environment",
       "A published model is used by others: it should have met the contract it was reviewed against, and a "
       "token written to a build would leak with it.",
       _CONTRACT, "—"),
    _r("OUTPUT-PUSH-FORCED", "contract", "warning",
       "outputs.push_if_gate_fails is true",
       "the push stage uploads even after a failed forgetting gate (the model card states the verdict)",
       "Overriding the gate is the user's call, but a reviewer must see it in the plan.",
       _CONTRACT, "—"),
    _r("OUTPUT-PUSH-NOTHING", "contract", "error",
       "outputs.push_to_hub on a plan that trains no model, or hub_artifacts asks for an adapter a full "
       "fine-tune does not make",
       "refuse: the push would have nothing (or not that) to upload",
       "A setting that cannot take effect misleads its reviewers.",
       _CONTRACT, "—"),
    _r("ADAPTER-SETTINGS-UNUSED", "method", "error",
       "an adapter setting (use_dora, use_rslora, modules_to_save) without a LoRA/QLoRA budget, or a 4-bit "
       "setting (bnb_4bit_quant_type, bnb_4bit_use_double_quant) without 4-bit QLoRA",
       "refuse: the setting would be silently ignored",
       "peft's LoraConfig and BitsAndBytesConfig options only exist for an adapter or a 4-bit base; a full "
       "fine-tune would train without them while the spec says otherwise.",
       _PIPELINE, "—"),
    _r("METHOD-REWARD-MODEL", "method", "decision",
       "method.method is reward, or eval.metric is pairwise_accuracy and data.preference holds pairs",
       "train a reward model alone (trl.RewardTrainer, one scalar head) on the pairs",
       "When the deliverable is a scorer (for best-of-n, filtering data, or a later RL run elsewhere), the reward "
       "stage of RLHF is the whole plan; no policy is tuned.",
       _GUIDE, "'RLHF runs three stages — SFT, then train a separate reward model ...'"),
    _r("ADAPTER-NEW-TOKENS-SAVED", "method", "decision",
       "method.special_tokens is given and the budget is LoRA or QLoRA",
       "resize the embedding; train embed_tokens and lm_head in full and save them with the adapter",
       "A new token's embedding and output rows start untrained; a LoRA adapter alone does not change or save them, "
       "so the merged model would get other (random) rows than the ones training saw. specc cannot see a hub "
       "tokenizer at plan time to tell which tokens are new, so it saves the rows whenever tokens are named "
       "(axolotl and LLaMA-Factory do the same).",
       _PIPELINE, "—"),
    _r("METHOD-KTO-UNPAIRED", "method", "decision",
       "data.preference holds unpaired answers labelled good or bad ({prompt, completion, label}), or method is kto",
       "train with KTO (trl.KTOTrainer): each answer is pushed up or down on its own label",
       "Unpaired labels cannot feed DPO or a reward model (both compare two answers to one prompt); "
       "as demonstrations they would teach the answers labelled bad.",
       _GUIDE, "Preference (DPO / RLHF): 'qualities taught by comparison'"),
    _r("METHOD-KTO-BATCH", "method", "error",
       "method is kto and method.micro_batch_size is 1",
       "refuse: KTO's KL estimate needs at least two rows per batch",
       "trl's KTOTrainer pairs each prompt with another row's completion of the same batch for its reference point.",
       _PIPELINE, "—"),
    _r("METHOD-SFT-BEFORE-PREFERENCE", "method", "decision",
       "both demonstrations and preference pairs are given",
       "SFT first, then the preference stage on the SFT model",
       "Adaptation is a refinement chain: teach it to follow with SFT, then steer it with preferences.",
       _GUIDE, "'teach it to follow with SFT, optionally steer it with preference alignment'"),
    _r("METHOD-PREFERENCE-WITHOUT-SFT", "method", "info",
       "preference pairs are given without demonstrations",
       "preference tuning (DPO, or RLHF's reward and RL stages) starts directly from the base model",
       "Without demonstrations there is no SFT step; DPO on a base that does not follow instructions yet "
       "learns from pairs it can barely produce (a warning unless the base is already instruction-tuned).",
       _GUIDE, "'teach it to follow with SFT, optionally steer it with preference alignment'"),
    _r("METHOD-RLHF-ONLINE", "method", "decision",
       "method.method is rlhf, or preference pairs and prompts for sampling are given without a teacher",
       "RLHF: SFT → reward model → online RL against the reward model",
       "Online optimisation against a learned reward; about four models at once, so it costs the most.",
       _GUIDE, "'RLHF runs three stages — SFT, then train a separate reward model ..., then optimize the model "
               "against that reward with reinforcement learning.'"),
    _r("METHOD-RL-ALGORITHM", "method", "decision",
       "the plan runs RLHF",
       "online RL with RLOO (default) or GRPO",
       "trl 1.16 has no PPO trainer; RLOO and GRPO optimise against the reward model without a value model.",
       f"{GUIDE_DOC}, 'What runs on CPU' (online RL row)", "'juggles roughly four model instances at once'"),
    _r("METHOD-PREFERENCE-NEEDS-PAIRS", "method", "warning",
       "preference is wanted but only demonstrations are given",
       "SFT on the demonstrations; preferences are not taught",
       "SFT imitates; qualities taught by comparison need chosen/rejected pairs for DPO.",
       _GUIDE, "'SFT imitates, preference methods optimize.'"),
    _r("METHOD-DISTILL-SEQUENCE", "method", "decision",
       "the plan distils (default distillation mode)",
       "sequence-level distillation: the teacher answers the prompts in bulk, the student is SFT-ed on them",
       "The common recipe; works across any pair of vocabularies.",
       _GUIDE, "'run bulk inference with the teacher to generate labeled data, then train the smaller student "
               "to imitate those outputs.'"),
    _r("METHOD-DISTILL-LOGIT", "method", "decision",
       "method.distillation is logit and teacher and student share a vocabulary",
       "logit-level distillation (the student matches the teacher's token distributions)",
       "Matching full distributions carries more signal than sampled text, but needs one vocabulary.",
       f"{GUIDE_DOC}, 'What runs on CPU' (distillation row)", "'GKD needs teacher and student to share a vocabulary'"),
    _r("METHOD-DISTILL-VOCAB", "method", "error",
       "method.distillation is logit and the vocabularies differ (error) or are unknown (warning)",
       "logit-level distillation is not possible (or not verifiable): use sequence-level",
       "Token distributions can only be matched over one shared vocabulary.",
       f"{GUIDE_DOC}, 'What runs on CPU' (distillation row)", "'GKD needs teacher and student to share a vocabulary'"),
    _r("METHOD-DISTILL-TEACHER-NOT-LARGER", "method", "warning",
       "the teacher has no more parameters than the student",
       "flag it: distillation is pointless",
       "Distillation compresses a large model into a small one; a same-size student serves no faster.",
       _GUIDE, "'Distillation compresses a large, capable \"teacher\" model into a small, cheap \"student.\"'"),
    _r("METHOD-DISTILL-NEEDS-TEACHER", "method", "warning",
       "serving cost is wanted or serving.too_costly is true, but no teacher is named",
       "no distillation: name the capable model as teacher and a smaller model as base_model",
       "Distillation needs both a teacher (the model that works) and a smaller student.",
       _GUIDE, "'Distillation compresses a large, capable \"teacher\" model into a small, cheap \"student.\"'"),
    _r("METHOD-FORCED", "method", "decision",
       "method.method is not auto",
       "use the method the spec names",
       "An explicit choice in the spec overrides the guide; its data needs are still checked.",
       _PIPELINE, "—"),
    # ---- licences -----------------------------------------------------------------------------------
    _r("LICENCE-CLOSED-API-TEACHER", "licence", "error",
       "the teacher matches the closed-API registry",
       "reject the distillation",
       "Commercial API terms forbid using outputs to train competing models; distil only open models.",
       _GUIDE, "'many commercial APIs' terms forbid using their outputs to train competing models, so "
               "enterprise distillation typically restricts itself to open models.'"),
    _r("LICENCE-CLOSED-API-BASE", "licence", "error",
       "the base model matches the closed-API registry",
       "reject the plan: closed-API weights cannot be tuned here",
       "Adaptation changes the weights; a model behind an API has none to change locally.",
       _GUIDE, "'Adaptation changes what the model is.'"),
    _r("LICENCE-TEACHER-FORBIDS-TRAINING", "licence", "error",
       "the teacher's licence forbids using its outputs to train this student",
       "reject the distillation",
       "Some open licences (e.g. Llama 2) forbid improving other language models with their outputs.",
       _GUIDE, "'distilling a closed-API model may breach its terms.'"),
    _r("LICENCE-TEACHER-CONDITIONS", "licence", "warning",
       "the teacher's licence allows training other models on conditions",
       "distil, and meet the conditions",
       "Conditions such as attribution or naming travel with the student; a reviewer must see them.",
       _GUIDE, "'distilling a closed-API model may breach its terms.'"),
    _r("LICENCE-PERMISSIVE", "licence", "decision",
       "the model's licence is known and permits this use",
       "licence allows the plan",
       "Permissive licences (Apache-2.0, MIT) put no restriction on tuning or on training with outputs.",
       _GUIDE, "'enterprise distillation typically restricts itself to open models.'"),
    _r("LICENCE-UNKNOWN-NEEDS-ACK", "licence", "error",
       "a trained or teacher model's licence is unknown and licence_acknowledged is not true",
       "refuse until the terms are acknowledged",
       "specc cannot tell whether the terms allow this use; a person must read them and say so.",
       _GUIDE, "'distilling a closed-API model may breach its terms.'"),
    _r("LICENCE-ACKNOWLEDGED", "licence", "info",
       "a model's licence is unknown but licence_acknowledged is true",
       "proceed on the user's acknowledgement",
       "The user has stated the terms allow this use; the plan records that it relied on the statement.",
       _GUIDE, "—"),
    _r("LICENCE-NONCOMMERCIAL-USE", "licence", "error",
       "goal.intended_use is commercial (error) or internal (warning) and the base model, the teacher or a training "
       "dataset is under a non-commercial licence",
       "refuse the commercial plan; quote the clause",
       "A non-commercial licence does not become commercial because the model was tuned; what is built on it "
       "inherits the limit.",
       _USE, "'distilling a closed-API model may breach its terms.'"),
    _r("LICENCE-COMMERCIAL-CONDITIONS", "licence", "warning",
       "goal.intended_use is commercial and a licence allows commercial use only on conditions",
       "proceed, and meet the conditions",
       "Conditions such as user caps, naming or acceptable-use policies bind the product; a reviewer must see them.",
       _USE, "—"),
    _r("LICENCE-RESEARCH-USE", "licence", "decision",
       "goal.intended_use is research and a licence is non-commercial",
       "non-commercial licence accepted for research use",
       "Research-only and non-commercial terms allow research; the plan records that it relied on that use.",
       _USE, "—"),
    _r("LICENCE-DATASET-UNSTATED", "licence", "info",
       "a Hub training dataset's card (README.md front matter at the pinned commit) states no licence, or one "
       "specc's registry does not know, and the spec declares none (`licence:` on the source)",
       "note it: read the dataset's terms and declare them",
       "A dataset's licence binds the model trained on it like a model licence does; the card is where the Hub "
       "states it, and a missing or unknown one is a question only a person can answer.",
       _USE, "—"),
    _r("LICENCE-INTENDED-USE-UNSTATED", "licence", "warning",
       "a model or dataset licence forbids commercial use and goal.intended_use is not stated",
       "flag it: state the intended use",
       "Whether a non-commercial licence is a blocker depends on what the model is for; only the user knows.",
       _USE, "—"),
    # ---- safety ---------------------------------------------------------------------------------------
    _r("SAFETY-ALIGNED-BASE", "safety", "warning",
       "the plan tunes an aligned chat/instruct model and data.general_suites has no refusal suite",
       "flag it: tuning can erode the guardrails; add a refusal suite",
       "Guardrails are behaviour learnt in post-training; a narrow tune can overwrite them like any other skill, "
       "and only a refusal suite in the forgetting gate would notice.",
       _RISKS, "'Fine-tuning on a narrow dataset ... can even erode safety guardrails baked into the base model.'"),
    _r("SAFETY-REFUSAL-SUITE", "safety", "decision",
       "the plan tunes an aligned chat/instruct model and data.general_suites has a refusal suite",
       "the forgetting gate re-tests refusals before and after the tune",
       "A drop in refusal rate past the forgetting budget fails the run like any capability drop.",
       _RISKS, "'can even erode safety guardrails baked into the base model.'"),
    # ---- forgetting -----------------------------------------------------------------------------------
    _r("FORGETTING-RISK-ESTIMATE", "forgetting", "decision",
       "the plan trains and the model size and step count are known",
       "estimate the forgetting risk: trainable parameters × optimizer steps × narrowness",
       "Forgetting rises with the parameters trained and the steps taken, and narrow data overwrites more.",
       _RISKS, "'the amount of forgetting rising predictably as you train more parameters for more steps'"),
    _r("FORGETTING-RISK-HIGH", "forgetting", "warning",
       "the estimated forgetting risk is high",
       "flag it: fewer epochs, replay data (a data.replay snippet, unless data.replay is given or the plan has no "
       "SFT stage on data.train), LoRA over full",
       "Forgetting is not fully solvable; at high exposure, cut steps or mix general data back in.",
       _RISKS, "'Forgetting is not fully solvable ... prefer the smallest intervention that achieves the goal.'"),
    _r("FORGETTING-FULL-TUNE", "forgetting", "warning",
       "the plan fine-tunes every weight (full) and the forgetting risk is medium or high",
       "flag it: LoRA forgets less",
       "With frozen base weights LoRA is more resistant to catastrophic forgetting and often matches full tuning.",
       _RISKS, "'because the base weights stay frozen, LoRA is more resistant to catastrophic forgetting than full "
               "tuning.'"),
    # ---- parameter budget ---------------------------------------------------------------------------
    _r("BUDGET-SMALLEST-FITS", "budget", "decision",
       "LoRA fits the hardware with the safety margin",
       "LoRA: frozen 16-bit base plus small adapters",
       "Prefer the smallest intervention: LoRA trains 0.5–5% of the weights, forgets less, adapters are MBs.",
       _FURTHER, "'LoRA ... training only about 0.5–5% of the parameters ... more resistant to catastrophic "
                 "forgetting'; 'prefer the smallest intervention that achieves the goal.'"),
    _r("BUDGET-QLORA-WHEN-16BIT-DOESNT-FIT", "budget", "decision",
       "the frozen base does not fit at 16 bits but fits quantised to 4 bits",
       "QLoRA: 4-bit frozen base plus adapters",
       "Quantising the frozen base lets 10B+ models tune on a single consumer GPU.",
       _FURTHER, "'QLoRA pushes further by quantizing the frozen base to 4-bit, so even 10B+ parameter models can "
                 "be fine-tuned on a single consumer GPU.'"),
    _r("BUDGET-FULL-ONLY-WHEN-NEEDED", "budget", "decision",
       "full fine-tuning is allowed (or forced), fits, and the goal needs it (skill/reasoning or a distilled "
       "student); otherwise it is passed over",
       "full fine-tuning only when allowed, needed and it fits",
       "Full tuning stores a whole model copy and forgets more; LoRA often matches it.",
       _FURTHER, "'Full fine-tuning updates every weight and stores a complete copy of the model for each task — "
                 "heavy on memory and storage.'"),
    _r("BUDGET-FORCED", "budget", "decision",
       "method.parameter_budget is full, lora or qlora and it fits",
       "use the budget the spec names",
       "An explicit choice in the spec overrides the guide when the hardware allows it.",
       _PIPELINE, "—"),
    _r("BUDGET-FORCED-DOESNT-FIT", "budget", "error",
       "method.parameter_budget names a budget that does not fit the hardware",
       "refuse: the forced budget runs out of memory",
       "A run that cannot fit wastes the queue time and fails at the first step.",
       _FURTHER, "—"),
    _r("BUDGET-NOTHING-FITS", "budget", "error",
       "no parameter budget (not even QLoRA) fits the hardware",
       "refuse: more memory, more devices or a smaller model is needed",
       "The estimate says every option runs out of memory.",
       _FURTHER, "'QLoRA ... even 10B+ parameter models can be fine-tuned on a single consumer GPU' — but not "
                 "every model on every GPU."),
    _r("BUDGET-UNKNOWN-MODEL-SIZE", "budget", "warning",
       "the base model's size is unknown (no config.json, not in the table, no size in its name)",
       "assume LoRA without a memory check",
       "Without a parameter count nothing can be said about memory; give a local path or a sized name.",
       _FURTHER, "—"),
    _r("BUDGET-CHECKPOINTING-TO-FIT", "budget", "decision",
       "the chosen budget fits only with activation checkpointing",
       "turn gradient checkpointing on",
       "Recomputing activations trades about a third more compute for much less activation memory.",
       f"{GUIDE_DOC}, 'What runs on CPU' (SFT row)", "—"),
    _r("BUDGET-MICRO-BATCH-TO-FIT", "budget", "decision",
       "the chosen budget fits only with a smaller micro batch (and the spec does not set one)",
       "halve the micro batch; raise gradient accumulation to keep the effective batch",
       "Activation memory grows with the tokens in flight; accumulation keeps the optimisation the same.",
       f"{GUIDE_DOC}, 'What runs on CPU' (SFT row)", "—"),
    _r("BUDGET-GPU-HOURS-EXCEEDED", "budget", "warning",
       "the estimated GPU-hours exceed constraints.budget.gpu_hours",
       "flag it: the plan costs more than the budget",
       "Cut epochs, data or sequence length, or raise the budget before spending it.",
       _FURTHER, "'Adaptation ... is the most expensive lever.'"),
    # ---- hardware -----------------------------------------------------------------------------------
    _r("HARDWARE-CPU-ONLY", "hardware", "decision",
       "constraints.hardware.gpus is 0",
       "train on CPU only (fp32; only tiny models are realistic)",
       "Without a GPU, host RAM is the memory budget and bf16 is off; large models would take weeks.",
       f"{GUIDE_DOC}, 'What runs on CPU'", "—"),
    # ---- launch -------------------------------------------------------------------------------------
    _r("LAUNCH-SINGLE-DEVICE", "launch", "decision",
       "the hardware has one device (one GPU, or CPU only) on one machine",
       "launch each stage as one plain python process",
       "One device needs no process group; accelerate would only add start-up time.",
       _PIPELINE, "—"),
    _r("LAUNCH-DDP-REPLICATED", "launch", "decision",
       "several devices, strategy auto, and the chosen budget fits one device by the memory estimate",
       "data parallel (DDP): every device holds the whole model and its optimiser state",
       "When the model fits one device, replicas are the fastest way to use several: no sharding traffic.",
       _PIPELINE, "—"),
    _r("LAUNCH-SHARDED", "launch", "decision",
       "several devices, strategy auto, and the chosen budget fits only when sharded (the memory estimate tried "
       "DDP first, then FSDP; ZeRO needs DeepSpeed, so it is used only when the spec names it)",
       "sharded data parallel (FSDP or ZeRO): gradients and optimiser state (FSDP: parameters too) are split "
       "across devices",
       "A replica that does not fit one device cannot be launched replicated; sharding divides the memory.",
       _PIPELINE, "—"),
    _r("LAUNCH-STRATEGY-FORCED", "launch", "decision",
       "constraints.hardware.strategy is set (not auto) and there are several devices",
       "launch with the strategy the spec names",
       "The user knows their cluster; the plan records the choice so a reviewer sees it.",
       _PIPELINE, "—"),
    _r("LAUNCH-NEEDS-DEEPSPEED", "launch", "warning",
       "constraints.hardware.strategy is zero2 or zero3",
       "launch with DeepSpeed, and say that it must be installed",
       "DeepSpeed is not part of specc's train extra (it builds against the local CUDA toolkit); without it "
       "accelerate launch stops at the first stage.",
       _PIPELINE, "—"),
    _r("LAUNCH-STRATEGY-DOESNT-FIT", "launch", "error",
       "constraints.hardware.strategy is set (not auto) and the chosen budget does not fit under it",
       "refuse: the forced strategy runs out of memory (the finding gives the numbers)",
       "A launch under which the plan's own estimate does not fit fails at the first step, after the queue wait.",
       _PIPELINE, "—"),
    _r("DISTILL-TEACHER-DOESNT-FIT", "method", "error",
       "the distillation teacher, in 16 bits with the KV cache of one generation batch, does not fit the GPUs of "
       "one node even when split over all of them",
       "refuse: name the smallest hardware that serves the teacher",
       "The teacher runs before (sequence) or beside (logit) training; a teacher that cannot be loaded fails the "
       "run after the queue wait.",
       _PIPELINE, "—"),
    _r("MODEL-SEQ-EXCEEDS-CONTEXT", "method", "error",
       "method.max_seq_length is longer than the base model's (or teacher's) context window "
       "(max_position_embeddings)",
       "refuse: name the window and the key",
       "Positions beyond the window fail at the first long example or train on positions the model never learnt.",
       _PIPELINE, "—"),
    # ---- data ---------------------------------------------------------------------------------------
    _r("DATA-MISSING", "data", "error",
       "a data file named in the spec does not exist",
       "refuse: the data must exist before planning",
       "The plan locks every input by content hash; a missing file cannot be locked or trained on.",
       _CONTRACT, "'data hashes must match what the plan locked'"),
    _r("DATA-UNREADABLE", "data", "error",
       "a data source cannot be read (bad first row, not UTF-8, empty, missing split, unresolvable revision, "
       "or the data stack needed to read it is not installed)",
       "refuse: fix the file",
       "Bad data found in code review is cheaper than a crashed training run.",
       _CONTRACT, "—"),
    _r("DATA-FORMAT-MISMATCH", "data", "error",
       "a data file's rows do not match its declared format, or its format cannot serve its role",
       "refuse: the stage would read the wrong fields",
       "A preference file fed to SFT (or prompts fed to DPO) fails at run time or trains on the wrong text.",
       _PIPELINE, "—"),
    _r("DATA-HUB-UNPINNED", "data", "warning",
       "a Hub dataset is named without a commit sha as its revision",
       "flag it, naming the commit the plan resolved so a reviewer can pin it",
       "A branch moves: the same spec would train on other rows next week, and the review would not hold.",
       _CONTRACT, "'data hashes must match what the plan locked'"),
    _r("DATA-GOLDEN-IS-TRAINING", "data", "error",
       "the golden set (or any member of a golden set given as a list) is the same source as a training input or "
       "a member of one (same file, or same Hub dataset and split)",
       "refuse: a golden set the model trains on measures nothing",
       "The firewall would fail on every row; say so at plan time, where it is cheapest to fix.",
       _CONTRACT, "—"),
    _r("DATA-MIXTURE-INVALID", "data", "error",
       "a mixture cannot be drawn: a member keeps no rows after fraction/max_rows, or members differ in format",
       "refuse: say which member",
       "An empty member would silently drop a source the reviewer expects in the mix.",
       _PIPELINE, "—"),
    _r("DATA-REPLAY", "data", "decision",
       "data.replay is given and the plan has an SFT stage on data.train",
       "mix the replay rows into the SFT stage at the stated share of its final rows (seeded draw)",
       "Rehearsing general data while tuning is the standard remedy for forgetting; stating the share, rows and "
       "tokens lets a reviewer see what the stage really trains on.",
       _RISKS, "'Forgetting is not fully solvable ... prefer the smallest intervention that achieves the goal.'"),
    _r("DATA-REPLAY-NO-SFT", "data", "error",
       "data.replay is given but the plan has no SFT stage on data.train (preference-only DPO/KTO/ORPO, RLHF or "
       "GRPO without demonstrations, distillation)",
       "refuse: replay rows are demonstrations and only an SFT stage trains on them",
       "A preference or RL stage cannot train on plain demonstrations; ignoring data.replay silently would let a "
       "reviewer believe forgetting was being countered.",
       _PIPELINE, "—"),
    _r("DATA-REPLAY-FORMAT", "data", "error",
       "data.replay's rows are in another format than data.train's",
       "refuse: map the replay source to the training format",
       "The SFT stage trains on one row format (and one loss masking); rows of two shapes cannot be mixed.",
       _PIPELINE, "—"),
    _r("DATA-NO-TRAINING-DATA", "data", "error",
       "the plan trains but the data its method needs is absent",
       "refuse: name the data the method needs",
       "SFT needs demonstrations, DPO needs pairs, RLHF needs pairs and prompts, distillation needs prompts.",
       _GUIDE, "'Training needs curated data, compute, and care.'"),
    _r("DATA-PERSONAL-DATA", "data", "warning",
       "training rows hold emails, phone numbers, payment card numbers, IBANs or API keys; the level follows "
       "data.personal_data.action (error, warn, or allow: info with the reason)",
       "flag it with counts and the first file:line, never the data",
       "A tuned model can repeat its training rows; personal data and secrets in them can come back out.",
       _RISKS, "—"),
    _r("DATA-FEW-SHOT-FIRST", "data", "warning",
       "the plan tunes on fewer than 100 demonstrations and evidence.prompting is absent",
       "try the rows as few-shot examples in the prompt first",
       "A handful of examples fits in a prompt; tuning on them costs more, overfits, and risks forgetting.",
       _RISKS, "'A large share of \"we need to fine-tune\" problems are solved by better prompting'"),
    _r("DATA-VALIDATION-NEEDED", "data", "error",
       "method asks for evaluation during training (eval_steps, load_best_model_at_end, "
       "metric_for_best_model, early_stopping_patience, eval_strategy: steps) but data.validation is absent",
       "refuse: name a validation split",
       "Without a validation split the trainer has nothing to evaluate: the setting would be silently ignored.",
       _CONTRACT, "—"),
    _r("DATA-VALIDATION-UNUSED", "data", "error",
       "data.validation is given but no training stage of the plan reads rows of its format",
       "refuse: the split would be locked and firewalled but never evaluated",
       "Demonstration rows are evaluated by the SFT stage, preference pairs by the DPO or reward stage.",
       _PIPELINE, "—"),
    _r("DATA-FEW-ROWS", "data", "info",
       "a training input has fewer than 100 rows",
       "flag it: little data",
       "SFT's success hinges on dataset quality and diversity; tiny sets overfit.",
       _GUIDE, "'its success hinges on dataset quality and diversity across task types.'"),
    # ---- contract -----------------------------------------------------------------------------------
    _r("CONTRACT-EVERY-TUNE", "contract", "decision",
       "the plan trains",
       "attach the eval contract: target metric on the golden set and a forgetting check on general suites",
       "Every tune risks forgetting; re-test general capability after every tune, not just the target.",
       _CONTRACT, "'after any tune, re-test general capability, not just the target task'"),
    _r("CONTRACT-FIREWALL", "contract", "decision",
       "the plan trains and a golden set is named",
       "firewall every training input (teacher prompts included) from the golden set",
       "Training data that leaks into the golden set makes the scores meaningless.",
       _CONTRACT, "'the training data must stay firewalled from the golden test set, or your scores become "
                  "meaningless.'"),
    _r("CONTRACT-FORGETTING-REMEDY", "contract", "decision",
       "the plan trains and names general suites",
       "if the forgetting gate fails, retune with the smallest change first: replay general data (a data.replay "
       "line; a larger data.replay.ratio when replay is given) at the same budget, then a gentler schedule, "
       "before anything bigger",
       "Rehearsing general examples while tuning keeps what pretraining taught without training more "
       "parameters or for more steps, which is what drives forgetting up.",
       _CONTRACT, "'LoRA still forgets, with the amount of forgetting rising predictably as you train more "
                  "parameters for more steps'; 'prefer the smallest intervention that achieves the goal.'"),
    _r("CONTRACT-REWARD-MODEL", "contract", "decision",
       "the plan trains a reward model alone (method reward)",
       "the target is pairwise accuracy on golden preference pairs, before (the base with a new seeded score head) "
       "and after; "
       "no forgetting gate",
       "A reward model is a scorer: what matters is how often it ranks the chosen answer above the rejected one "
       "on pairs it never saw. It does not generate, so general generation suites cannot score it, and the base "
       "model itself is left unchanged by the plan.",
       _CONTRACT, "'adaptation needs evaluation to verify it didn't break anything'"),
    _r("CONTRACT-REWARD-SUITES", "contract", "error",
       "method is reward and data.general_suites is not empty",
       "refuse: the suites would silently not run",
       "General suites generate or pick answers with a causal LM; a sequence classifier cannot take them.",
       _CONTRACT, "—"),
    _r("CONTRACT-REWARD-GOLDEN-PAIRS", "contract", "error",
       "method is reward and data.golden does not hold {prompt, chosen, rejected} pairs",
       "refuse: pairwise accuracy needs pairs",
       "The reward model's metric compares two answers to one prompt.",
       _CONTRACT, "—"),
    _r("CONTRACT-METRIC-MISMATCH", "contract", "error",
       "eval.metric is pairwise_accuracy but the method is not reward, or the method is reward and eval.metric "
       "names a generation metric",
       "refuse: the metric cannot score what the plan trains",
       "Pairwise accuracy scores a reward model; exact match, accuracy and perplexity score a generator.",
       _CONTRACT, "—"),
    _r("CONTRACT-NO-GOLDEN", "contract", "warning",
       "the plan trains and data.golden is absent",
       "flag it: the target metric cannot be measured and nothing is firewalled",
       "Without a golden set nobody can tell whether the tune reached the goal.",
       _CONTRACT, "'adaptation needs evaluation to verify it didn't break anything'"),
    _r("CONTRACT-NO-GENERAL-SUITE", "contract", "warning",
       "the plan trains and data.general_suites is empty",
       "flag it: forgetting cannot be measured",
       "Forgetting is not fully solvable; without a general suite it goes unseen.",
       _CONTRACT, "'budget for re-testing general ability after every tune'"),
    _r("CONTRACT-NO-BAR", "contract", "info",
       "the plan trains and eval.bar is not set",
       "the target metric is reported but gates nothing",
       "A bar turns the golden-set score into a pass/fail gate.",
       _CONTRACT, "—"),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def get_rule(rule_id: str) -> Rule | None:
    """The rule with this id (case-insensitive), or None."""
    return RULES_BY_ID.get(rule_id.strip().upper())


def suggest_rule_ids(rule_id: str, limit: int = 3) -> list[str]:
    """Close matches for a mistyped id, best first; also ids that contain the text typed."""
    wanted = rule_id.strip().upper()
    close = difflib.get_close_matches(wanted, RULES_BY_ID, n=limit, cutoff=0.6)
    if wanted:
        close += [rid for rid in RULES_BY_ID if wanted in rid and rid not in close]
    return close[:limit]

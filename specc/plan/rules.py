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

Topic = Literal["lever", "method", "budget", "licence", "data", "contract", "hardware", "launch"]
Output = Literal["decision", "error", "warning", "info"]
"""What a firing produces: a traced decision (``plan.decisions``) or a finding of that level."""

GUIDE_DOC = "docs/DECISION-GUIDE.md"
"""The document every rule's ``section`` cites (in the repository; a test checks each section heading exists)."""
_GUIDE = f"{GUIDE_DOC}, 'The decision guide'"
_FURTHER = f"{GUIDE_DOC}, 'The decision guide' (further rules)"
_CONTRACT = f"{GUIDE_DOC}, 'The eval contract'"
_PIPELINE = f"{GUIDE_DOC}, 'Pipeline'"


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
    _r("METHOD-DPO-PAIRS", "method", "decision",
       "preference pairs (data.preference) are given without prompts for online sampling",
       "direct preference optimisation (DPO)",
       "DPO folds preference into one loss over chosen/rejected pairs: two models, simpler and stable.",
       _GUIDE, "'DPO skips the separate reward model and the RL loop ... needing only two models — simpler and "
               "more stable to run.'"),
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
       "DDP first, then ZeRO-2 for full tuning, then FSDP)",
       "sharded data parallel (FSDP or ZeRO): gradients and optimiser state (FSDP: parameters too) are split "
       "across devices",
       "A replica that does not fit one device cannot be launched replicated; sharding divides the memory.",
       _PIPELINE, "—"),
    _r("LAUNCH-STRATEGY-FORCED", "launch", "decision",
       "constraints.hardware.strategy is set (not auto) and there are several devices",
       "launch with the strategy the spec names",
       "The user knows their cluster; the plan records the choice so a reviewer sees it.",
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
       "the golden set is the same source as a training input (same file, or same Hub dataset and split)",
       "refuse: a golden set the model trains on measures nothing",
       "The firewall would fail on every row; say so at plan time, where it is cheapest to fix.",
       _CONTRACT, "—"),
    _r("DATA-MIXTURE-INVALID", "data", "error",
       "a mixture cannot be drawn: a member keeps no rows after fraction/max_rows, or members differ in format",
       "refuse: say which member",
       "An empty member would silently drop a source the reviewer expects in the mix.",
       _PIPELINE, "—"),
    _r("DATA-NO-TRAINING-DATA", "data", "error",
       "the plan trains but the data its method needs is absent",
       "refuse: name the data the method needs",
       "SFT needs demonstrations, DPO needs pairs, RLHF needs pairs and prompts, distillation needs prompts.",
       _GUIDE, "'Training needs curated data, compute, and care.'"),
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

"""The Plan: what specc decided, as a reviewable artifact separate from what the user wrote (the Spec).

A Plan is produced by :func:`specc.plan.planner.make_plan` (a pure function of the spec and facts read from disk),
rendered for people by :mod:`specc.plan.render`, compared by :mod:`specc.plan.diff`, compiled into a build directory by
:mod:`specc.build.emitter`, and executed stage by stage by :mod:`specc.run.runner`. Keeping it a strict, frozen pydantic
model means the JSON form (``plan.json``) round-trips exactly and can be diffed in code review.

Conventions shared by the planner, the emitter and the runner
--------------------------------------------------------------
READ docs/CONVENTIONS.md: the binding build-directory layout, template rules, script shape, exit codes,
progress-line format, W&B tracking API and stage graph that the emitter, templates and runner all follow.

* Paths inside a Plan are POSIX strings. Data paths are as the spec wrote them (relative to the spec's
  directory). Stage inputs/outputs produced by the build are relative to the build directory
  (``artifacts/<stage>/...``, ``results/<name>.json``, ``reports/<name>.json``). No absolute paths.
* Stages run in list order; ``needs`` names earlier stages whose outputs a stage consumes.
* ``Stage.config`` holds every resolved value the stage's script needs; the emitter renders it into the
  script as a Python literal (never as source).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PLAN_FORMAT = 1

Lever = Literal["prompting", "retrieval", "fine_tune", "distill"]
Method = Literal["none", "sft", "dpo", "orpo", "kto", "reward", "rlhf", "grpo", "distill"]
ParameterBudget = Literal["full", "lora", "qlora"]
StageKind = Literal[
    "firewall",  # golden-set firewall + data-lock check; fails the run on overlap
    "baseline",  # evaluate the base model on the target metric and general suites
    "sft",  # supervised fine-tuning (full / LoRA / QLoRA)
    "dpo",  # direct preference optimisation
    "kto",  # Kahneman-Tversky optimisation on unpaired good/bad answers
    "orpo",  # odds-ratio preference optimisation (pairs, no reference model)
    "reward",  # reward model on preference pairs (RLHF stage 2)
    "rl",  # online RL against the reward model (RLOO / GRPO; RLHF stage 3)
    "generate",  # teacher bulk generation (sequence-level distillation)
    "distill_logit",  # logit-level distillation (shared vocabulary)
    "merge",  # merge adapters into the base weights
    "eval",  # target metric + forgetting gate against the baseline
    "push",  # upload the gated result to the Hugging Face Hub (outputs.push_to_hub)
]
Launcher = Literal["python", "accelerate", "torchrun"]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleFiring(Frozen):
    """One decision, traced to the guide rule that made it."""

    rule: str = Field(description="Stable rule id, e.g. LEVER-PROMPT-FIRST; `specc explain` prints it.")
    topic: Literal["lever", "serving", "method", "budget", "licence", "data", "safety", "forgetting", "contract",
                   "hardware", "launch"]
    verdict: str = Field(description="What was decided, e.g. 'use retrieval for changing facts'.")
    reason: str = Field(description="Why, with the spec's own numbers where they matter.")


class Finding(Frozen):
    """Something a reviewer must see. Errors make the plan invalid (exit 1); warnings fail only `--strict`."""

    level: Literal["error", "warning", "info"]
    rule: str
    message: str
    hint: str = ""


class DataFact(Frozen):
    """A data file as the plan saw it; sha256 and rows are the lock that training stages verify."""

    role: Literal["train", "preference", "prompts", "validation", "replay", "golden", "suite"]
    name: str = Field(description="Role, or the suite's name for suites.")
    path: str = Field(description="Path as written in the spec (relative to the spec directory).")
    format: str
    exists: bool
    sha256: str | None = None
    rows: int | None = None
    bytes: int | None = Field(default=None, description="File size; the token estimate divides it by 4.")
    source: dict[str, Any] | None = Field(
        default=None,
        description=("How the stages load it when it is not a plain JSONL file: kind (json, csv, parquet, directory, "
                     "saved, hub), the Hub id, the commit its revision resolved to, subset, split, data_files, the "
                     "format as written (alpaca, sharegpt) and column/role mappings. None for plain JSONL."),
    )
    mix: dict[str, Any] | None = Field(
        default=None,
        description=("For a member of a mixture: its weight, max_rows, fraction, the rows it contributes "
                     "(rows_used) and their estimated tokens (specc.data.mixture); for data.replay: its ratio, the task "
                     "rows it is mixed into (task_rows), the replay rows drawn (rows_used) and their tokens. None "
                     "otherwise."),
    )
    licence: str | None = Field(
        default=None,
        description=("The dataset's licence id: as the spec declares it (`licence:`), else as the dataset card of a "
                     "Hub source states it at the locked commit. None when neither says."),
    )
    licence_source: str | None = Field(
        default=None,
        description=("Where the licence was read: `spec`, or the card's words "
                     "(`dataset card at <commit>: license: ...`)."),
    )


class ModelInfo(Frozen):
    """A model the plan uses and what is known about it without downloading anything."""

    role: Literal["base", "teacher"]
    ref: str
    source: Literal["hub", "local"]
    revision: str | None = None
    licence: str | None = None
    licence_verdict: str = Field(default="", description="What the licence says about this use.")
    parameters: int | None = None
    parameters_source: str | None = Field(default=None, description="config.json, known-size table, or name.")
    vocab_size: int | None = None


class MemoryRow(Frozen):
    """Estimated training memory for one parameter budget."""

    budget: ParameterBudget
    per_device_gb: float
    fits: bool
    components_gb: dict[str, float] = Field(default_factory=dict)
    strategy: str = Field(default="none", description="How the estimate lays the model over the devices: none "
                          "(one device), ddp (replicas), zero2 or fsdp (sharded).")
    note: str = ""


class Estimate(Frozen):
    """Memory per budget and compute for the chosen one. Estimates, with their formulas in docs/ESTIMATOR.md."""

    memory: list[MemoryRow] = Field(default_factory=list)
    train_tokens: int | None = None
    optimizer_steps: int | None = None
    gpu_hours: float | None = None
    notes: list[str] = Field(default_factory=list)


class ForgettingRisk(Frozen):
    """How much the tune may erode general capability, estimated before training (:mod:`specc.plan.forgetting`)."""

    level: Literal["low", "medium", "high"]
    trainable_parameters: int
    optimizer_steps: int
    narrowness: float = Field(description="2 for one narrow behaviour, 1 for two, 0.5 for broad; ×2 past 3 epochs.")
    narrowness_reason: str
    exposure: float = Field(description="trainable parameters × optimizer steps × narrowness.")
    advice: list[str] = Field(default_factory=list, description="What lowers the risk (medium or high risk only).")


class Stage(Frozen):
    """One step of the build: one script, one trainer, declared inputs and outputs."""

    id: str = Field(description="Unique stage id; also the W&B run name.")
    kind: StageKind
    title: str
    script: str = Field(description="Script path relative to the build directory.")
    launcher: Launcher = "python"
    needs: list[str] = Field(default_factory=list)
    inputs: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)


class Launch(Frozen):
    """How training stages are launched (accelerate configs are emitted from this)."""

    num_machines: int = 1
    num_processes: int = 1
    strategy: Literal["none", "ddp", "fsdp", "zero2", "zero3"] = "none"
    use_cpu: bool = False
    cpu_offload: bool = Field(default=False, description="Sharded state offloaded to host RAM (FSDP: parameters, "
                              "gradients and optimiser state; ZeRO-2: optimiser state; ZeRO-3: both).")
    main_process_ip: str | None = None
    main_process_port: int | None = None
    launcher: Launcher = Field(default="python",
                               description="How training stages start: python (one process) or accelerate.")


class ContractSuite(Frozen):
    name: str
    kind: str
    path: str | None = None
    task: str | None = None
    limit: int | None = None


class Contract(Frozen):
    """The eval contract's terms (the baseline scores are filled in by the baseline stage at run time)."""

    metric: str
    bar: float | None
    golden: DataFact | list[DataFact] | None = Field(
        description="The golden set: one source's fact, or each member's fact of a golden set given as a list.")
    suites: list[ContractSuite]
    max_abs_drop: float | None
    max_rel_drop: float | None
    firewall: dict[str, Any]
    max_new_tokens: int
    personal_data: dict[str, str] = Field(
        default_factory=lambda: {"action": "warn", "reason": ""},
        description="data.personal_data: what the firewall stage does when training rows hold personal data.")
    forgetting_advice: list[str] = Field(
        default_factory=list, description="What to change when the forgetting gate fails (from the risk estimate).")


class TrackingSettings(Frozen):
    backend: Literal["wandb", "none"]
    project: str
    entity: str | None
    mode: Literal["auto", "online", "offline", "disabled"]
    log_model: bool
    group: str = Field(description="W&B group: plan name + short lock hash, so all stages of one plan group.")


class Outputs(Frozen):
    """The resolved ``outputs`` section: what the model card states and what the push stage uploads."""

    intended_use: str | None = Field(default=None, description="goal.intended_use, stated in the model card.")
    push_to_hub: bool = False
    hub_model_id: str | None = None
    hub_private_repo: bool = True
    hub_artifacts: list[str] = Field(default_factory=list, description="adapter and/or model.")
    push_if_gate_fails: bool = False


class Plan(Frozen):
    """Everything specc decided for one spec."""

    format: int = PLAN_FORMAT
    generator: str = Field(description="specc version that made the plan.")
    name: str
    spec_file: str = Field(description="The spec's file name (no directory).")
    spec_sha256: str
    summary: str = ""
    behaviours: list[str] = Field(default_factory=list)
    levers: list[Lever]
    trains: bool
    method: Method
    distillation: Literal["sequence", "logit"] | None = None
    parameter_budget: ParameterBudget | None = None
    decisions: list[RuleFiring] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    recommendations: list[str] = Field(default_factory=list)
    models: list[ModelInfo] = Field(default_factory=list)
    data: list[DataFact] = Field(default_factory=list)
    estimate: Estimate | None = None
    forgetting: ForgettingRisk | None = Field(default=None, description="Forgetting risk of the tune, estimated.")
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict, description="Every resolved training value; the stage configs are laid out from these.")
    hyperparameter_sources: dict[str, str] = Field(
        default_factory=dict,
        description="Where each hyper-parameter came from: spec, default, rule:<ID> or derived.")
    launch: Launch | None = None
    contract: Contract | None = None
    tracking: TrackingSettings | None = None
    stages: list[Stage] = Field(default_factory=list)
    outputs: Outputs | None = Field(default=None, description="What leaves the build (training plans): the model "
                                    "card's intended use and the Hub push after the eval gate.")

    @property
    def ok(self) -> bool:
        """False when any finding is an error: such a plan is not compiled or run."""
        return not any(f.level == "error" for f in self.findings)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, two-space indent, trailing newline. Byte-stable for equal plans."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def lock_hash(self) -> str:
        """Short hash of the canonical plan: identifies a build (W&B group, manifest)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)

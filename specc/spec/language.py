"""The spec language: what a user writes, as strict pydantic models.

Why pydantic: one declaration gives validation, defaults, documentation (every ``description`` becomes
part of the JSON Schema that editors use for autocompletion) and precise error locations. Every model
forbids unknown keys, so a typo is an error, never a silently ignored setting.

A spec states *goals* (what behaviour is wanted) and *constraints* (hardware, latency, how fast facts
change, what was already tried). It deliberately does not state *decisions*: those are the planner's job
(``specc.plan.planner``), and the optional ``method`` section only overrides them.

Paths in a spec are relative to the directory holding the spec file (never to the current directory), so
a spec means the same thing wherever ``specc`` is run from. Environment-variable interpolation (``${X}``)
is not supported on purpose: a plan must be reproducible from the spec and the data alone, and secrets
(W&B key, hub token) are only ever read from the environment at run time.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, RootModel, Tag, field_validator, model_validator

from specc.spec.base import Strict
from specc.spec.adapters import AdapterSettings
from specc.spec.outputs import Outputs
from specc.spec.training import TrainerSettings

SCHEMA_VERSION = 1

Behaviour = Literal[
    "style",
    "tone",
    "format",
    "skill",
    "reasoning",
    "knowledge",
    "preference",
    "latency",
    "serving_cost",
]
KnowledgeChange = Literal["never", "yearly", "monthly", "weekly", "daily", "realtime"]
DataFormat = Literal[
    "auto", "messages", "prompt_completion", "preference", "unpaired_preference", "text", "prompts", "alpaca", "sharegpt"
]
MethodChoice = Literal["auto", "sft", "dpo", "orpo", "kto", "reward", "rlhf", "grpo", "distill"]
BudgetChoice = Literal["auto", "full", "lora", "qlora"]
SuiteKind = Literal["exact_match", "multiple_choice", "perplexity", "lm_eval", "refusal"]
IntendedUse = Literal["commercial", "research", "internal"]
PiiAction = Literal["error", "warn", "allow"]
TargetMetric = Literal["exact_match", "accuracy", "perplexity", "pairwise_accuracy"]
TrackingMode = Literal["auto", "online", "offline", "disabled"]
Strategy = Literal["auto", "ddp", "fsdp", "zero2", "zero3"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _no_control_characters(value: str | None) -> str | None:
    """Names and paths end up in file names, shell exports and logs: no newlines, tabs or NULs there."""
    if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("control characters (newline, tab, NUL...) are not allowed here")
    return value


def _no_interpolation(value: str | None) -> str | None:
    _no_control_characters(value)
    if value is not None and "${" in value:
        raise ValueError(
            "environment interpolation (${...}) is not supported; write the path relative to the spec file"
        )
    return value


class Goal(Strict):
    """What behaviour is wanted. The planner maps behaviours to levers (prompting, retrieval, tuning)."""

    behaviours: list[Behaviour] = Field(
        min_length=1,
        description=(
            "The qualities wanted from the model. style/tone/format/skill/reasoning point to fine-tuning when "
            "prompting falls short; knowledge points to retrieval (or tuning for stable facts); preference "
            "(helpful, harmless, honest: taught by comparison) points to DPO/RLHF; latency and serving_cost "
            "point to a smaller tuned or distilled model."
        ),
    )
    summary: str = Field(
        default="",
        description="One or two sentences on what success looks like; shown in the plan for reviewers.",
    )
    consistency_required: bool = Field(
        default=False,
        description=(
            "True when the behaviour must hold on every call without being re-explained in the prompt "
            "(a house style, a strict output format). Prompting is then often not enough."
        ),
    )
    intended_use: IntendedUse | None = Field(
        default=None,
        description=(
            "What the adapted model is for: commercial (a product or paid service), research, or internal "
            "(inside your organisation, not sold). The licences of the base model, the teacher and every "
            "training dataset are checked against it; a non-commercial licence refuses a commercial plan. "
            "Unset: licence limits are warnings that ask you to state it."
        ),
    )

    @field_validator("behaviours")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("behaviours must not repeat")
        return v


class Attempt(Strict):
    """A cheaper lever that was already tried, scored on the same target metric as ``eval``."""

    score: float = Field(ge=0, description="Score achieved on the golden set's target metric with this lever.")
    notes: str = Field(default="", description="What was tried (prompt variants, retriever, corpus).")


class Evidence(Strict):
    """What was already tried. Fine-tuning without evidence that prompting fell short is a finding."""

    prompting: Attempt | None = Field(
        default=None, description="Best prompting result (zero/few-shot, instructions) against the target."
    )
    retrieval: Attempt | None = Field(
        default=None, description="Best retrieval-augmented result against the target, if tried."
    )


class Rendezvous(Strict):
    """Where the nodes of a multi-node job meet (passed to accelerate/torchrun)."""

    host: str = Field(description="Address of the main node (accelerate --main_process_ip).")
    port: int = Field(default=29500, ge=1, le=65535, description="Port on the main node. Default 29500.")


class Hardware(Strict):
    """The machines training may use. ``gpus: 0`` means CPU only (only tiny models are realistic)."""

    gpus: int = Field(default=1, ge=0, le=4096, description="GPUs per node. 0 = CPU only. Default 1.")
    gpu_memory_gb: float = Field(
        default=24, gt=0, le=4096, description="Memory of one GPU in GB. Default 24 (a consumer card)."
    )
    nodes: int = Field(default=1, ge=1, le=1024, description="Number of machines. Default 1.")
    gpu_type: str | None = Field(
        default=None, description="GPU model (e.g. A100-80GB, H100); refines the GPU-hour estimate."
    )
    cpu_memory_gb: float = Field(
        default=24, gt=0, le=65536, description="Host RAM per node in GB; the budget when gpus is 0."
    )
    strategy: Strategy = Field(
        default="auto",
        description=(
            "How to spread training over several devices: ddp (replicate), fsdp, zero2, zero3 (shard). "
            "auto picks the cheapest that fits the memory estimate: ddp, else fsdp. zero2/zero3 need DeepSpeed "
            "installed (not part of specc's train extra)."
        ),
    )
    cpu_offload: bool = Field(
        default=False,
        description=(
            "Move training state to host RAM when sharded: FSDP and zero3 offload parameters, gradients and "
            "optimiser state; zero2 offloads the optimiser state. Slower; lets larger models fit. Default false."
        ),
    )
    memory_headroom: float = Field(
        default=0.05, ge=0, le=0.5,
        description=(
            "Share of each GPU's memory the plan keeps free beyond the estimate (which already counts the CUDA "
            "context and fragmentation). Default 0.05; raise it for a safety margin, lower it at your own risk."
        ),
    )
    rendezvous: Rendezvous | None = Field(
        default=None, description="Required when nodes > 1: the main node's address and port."
    )

    @model_validator(mode="after")
    def _multi_node_needs_rendezvous(self) -> Hardware:
        if self.nodes > 1 and self.rendezvous is None:
            raise ValueError("nodes > 1 needs a rendezvous (host, port) for the main node")
        return self


class Serving(Strict):
    """Serving-side constraints that tuning or distillation may be the answer to."""

    max_latency_ms: int | None = Field(
        default=None, gt=0, le=86_400_000, description="Latency budget per request (p50) in milliseconds."
    )
    current_latency_ms: int | None = Field(
        default=None,
        gt=0,
        le=86_400_000,
        description="Latency of the current solution (e.g. retrieval pipeline or large model), if measured.",
    )
    too_costly: bool = Field(
        default=False,
        description="True when a capable model works but costs too much to serve (a reason to distill).",
    )
    max_cost_per_call: float | None = Field(
        default=None, gt=0, le=1e9, allow_inf_nan=False,
        description="Serving cost budget per request (any currency unit, the same as current_cost_per_call).",
    )
    current_cost_per_call: float | None = Field(
        default=None, gt=0, le=1e9, allow_inf_nan=False,
        description="Measured serving cost per request of the current solution, in the unit of max_cost_per_call.",
    )
    max_context_tokens: int | None = Field(
        default=None, gt=0, le=100_000_000,
        description=(
            "Budget of prompt tokens sent per request (instructions, few-shot examples, retrieved passages): "
            "the context cost. Tuning the behaviour into the weights shortens the prompt."
        ),
    )
    current_context_tokens: int | None = Field(
        default=None, gt=0, le=100_000_000,
        description="Prompt tokens per request of the current (prompted) solution, if measured.",
    )


class Budget(Strict):
    """What the user is willing to spend on training."""

    gpu_hours: float | None = Field(default=None, ge=0, description="GPU-hours available for this run.")
    allow_full_finetune: bool = Field(
        default=False,
        description=(
            "Full fine-tuning stores a whole model copy and forgets more; it is chosen only when this is true "
            "(or method.parameter_budget says full) and it fits. Default false: LoRA/QLoRA."
        ),
    )


class Constraints(Strict):
    """Constraints on the solution: hardware, serving, how fast facts change, money."""

    hardware: Hardware = Field(default_factory=Hardware, description="Training hardware.")
    serving: Serving = Field(default_factory=Serving, description="Serving constraints.")
    knowledge_change: KnowledgeChange = Field(
        default="never",
        description=(
            "How often the facts the model must know change. monthly or faster sends knowledge to retrieval: "
            "documents can be updated without retraining. Default never."
        ),
    )
    citations_required: bool = Field(
        default=False, description="Answers must cite sources: retrieval is required for that."
    )
    budget: Budget = Field(default_factory=Budget, description="Training budget.")


class ModelRef(Strict):
    """A model named by hub id (on a user's machine) or local path (relative to the spec file)."""

    id: str | None = Field(default=None, description="Hub id, e.g. meta-llama/Llama-3.1-8B-Instruct.")
    path: str | None = Field(default=None, description="Local directory with config.json, relative to the spec.")
    revision: str | None = Field(
        default=None, description="Hub revision (commit sha or tag) to pin; recorded in the lock."
    )
    licence: str | None = Field(
        default=None,
        description="Licence id (apache-2.0, mit, llama3.1, gemma, ...). Guessed for known models when omitted.",
    )
    licence_acknowledged: bool = Field(
        default=False,
        description=(
            "Set true to state you have read this model's terms and they allow this use. Required when the "
            "licence is unknown to specc's registry."
        ),
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelRef:
        if (self.id is None) == (self.path is None):
            raise ValueError("give exactly one of `id` (hub id) or `path` (local directory)")
        return self

    _check_path = field_validator("path")(lambda cls, v: _no_interpolation(v))
    _check_names = field_validator("id", "revision", "licence")(lambda cls, v: _no_control_characters(v))

    @property
    def ref(self) -> str:
        """The string a loader passes to ``from_pretrained``."""
        return self.id if self.id is not None else str(self.path)


class DataFile(Strict):
    """One data source: a local file or folder (``path``) or a Hugging Face Hub dataset (``hub``).

    Local sources may be JSONL, JSON, CSV or Parquet files, a directory of such files, or a folder written
    by ``datasets.save_to_disk``. Emitted scripts read every source through ``datasets`` (one loader,
    :mod:`specc.runtime.datasource`); JSONL files are also read without it by the light commands.
    """

    path: str | None = Field(
        default=None,
        description=(
            "Local data, relative to the spec file: a .jsonl/.json/.csv/.parquet file, a directory of such files, "
            "or a datasets.save_to_disk folder. Give exactly one of path or hub."
        ),
    )
    hub: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$",
        description="Hugging Face Hub dataset id (org/name), loaded with datasets.load_dataset.",
    )
    revision: str | None = Field(
        default=None,
        description=(
            "Hub only: commit sha, tag or branch to load. The plan records the commit it resolves to; without "
            "a commit sha the plan warns and names the commit, so it can be pasted here."
        ),
    )
    subset: str | None = Field(default=None, description="Hub only: the dataset's configuration (load_dataset name).")
    split: str | None = Field(
        default=None,
        description="Split to read, with datasets' slicing (e.g. train[:20%]). Default: train.",
    )
    data_files: str | list[str] | None = Field(
        default=None, description="Hub only: the files of the repository to load (load_dataset data_files)."
    )
    format: DataFormat = Field(
        default="auto",
        description=(
            "Row format: messages ({messages:[{role,content}]}), prompt_completion ({prompt,completion}), "
            "preference ({prompt,chosen,rejected}), unpaired_preference ({prompt,completion,label}: KTO rows), "
            "text ({text}), prompts ({prompt}), alpaca ({instruction,input,output}, read as prompt/completion), "
            "sharegpt ({conversations:[{from,value}]}, read as messages). auto detects it from the first row."
        ),
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Renamed columns, {ours: theirs}: e.g. {prompt: question, completion: answer} reads the dataset's "
            "question column as prompt. Ours are the format's names (prompt, completion, messages, text, chosen, "
            "rejected, label, instruction, input, output, conversations)."
        ),
    )
    roles: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "sharegpt only: extra speaker names, {theirs: ours} (ours: system, user, assistant). human, user, gpt, "
            "assistant, model, bot and system are known already."
        ),
    )
    licence: str | None = Field(
        default=None,
        description=(
            "The dataset's licence id (cc-by-4.0, cc-by-nc-4.0, apache-2.0, ...), as its dataset card states it. "
            "Checked against goal.intended_use like model licences."
        ),
    )

    _check_path = field_validator("path")(lambda cls, v: _no_interpolation(v))
    _check_licence = field_validator("licence")(lambda cls, v: _no_control_characters(v))
    _check_names = field_validator("revision", "subset", "split")(lambda cls, v: _no_control_characters(v))

    @model_validator(mode="after")
    def _one_source(self) -> DataFile:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of `path` (local data) or `hub` (a Hub dataset id)")
        if self.path is not None:
            hub_only = [k for k in ("revision", "subset", "data_files") if getattr(self, k) is not None]
            if hub_only:
                raise ValueError(f"{', '.join(hub_only)} apply to `hub` sources only")
        for ours, theirs in self.columns.items():
            _no_control_characters(ours)
            _no_control_characters(theirs)
        if self.roles and self.format not in ("sharegpt", "auto"):
            raise ValueError("`roles` maps sharegpt speaker names; it needs format: sharegpt (or auto)")
        bad = sorted(v for v in self.roles.values() if v not in ("system", "user", "assistant"))
        if bad:
            raise ValueError(f"`roles` values must be system, user or assistant, not {', '.join(bad)}")
        return self

    @property
    def where(self) -> str:
        """How messages name this source: the spec's path, or ``hub:org/name`` with subset and split."""
        if self.path is not None:
            return self.path
        from specc.data.sources import hub_name

        return hub_name(self.hub or "", self.subset, self.split)


class PersonalData(Strict):
    """What to do when training rows hold personal data (emails, phone numbers, payment cards, IBANs, API keys)."""

    action: PiiAction = Field(
        default="warn",
        description=(
            "error: refuse the plan and stop the firewall stage (exit 3); warn (default): a plan warning and a "
            "report, training proceeds; allow: proceed, recorded with `reason`."
        ),
    )
    reason: str = Field(
        default="",
        description="Why personal data may stay in the training rows (required with action: allow).",
    )

    @model_validator(mode="after")
    def _allow_needs_reason(self) -> PersonalData:
        if self.action == "allow" and not self.reason.strip():
            raise ValueError("action: allow needs a `reason` (why personal data may stay in the training rows)")
        return self


class MixMember(DataFile):
    """One source of a mixture (a data role given as a list): a data source plus its share."""

    weight: float | None = Field(
        default=None, ge=0,
        description=("Share of the mixture, relative to the other members' weights (give every member a weight, "
                     "or none: then each contributes the rows it keeps)."),
    )
    max_rows: int | None = Field(default=None, gt=0, description="Keep at most this many rows of this source.")
    fraction: float | None = Field(default=None, gt=0, le=1, description="Keep this fraction of this source's rows.")


class Mixture(RootModel[list[MixMember]]):
    """A data role given as a list of sources, mixed deterministically given the seed
    (:mod:`specc.data.mixture`)."""

    model_config = ConfigDict(frozen=True)
    root: list[MixMember] = Field(min_length=1, description="The sources of the mixture.")

    @model_validator(mode="after")
    def _weights(self) -> Mixture:
        weights = [m.weight for m in self.root]
        if any(w is not None for w in weights):
            if any(w is None for w in weights):
                raise ValueError("give a weight to every member of the mixture, or to none")
            if sum(w for w in weights if w is not None) <= 0:
                raise ValueError("the weights of the mixture sum to zero: at least one must be positive")
        return self

    @property
    def members(self) -> list[MixMember]:
        return list(self.root)

    @property
    def where(self) -> str:
        return "mixture of " + ", ".join(m.where for m in self.root)

    @property
    def format(self) -> str:
        """The members' format when they agree (what format-dependent defaults look at), else auto."""
        formats = {m.format for m in self.root}
        return formats.pop() if len(formats) == 1 else "auto"


Source = Annotated[
    Union[Annotated[DataFile, Tag("source")], Annotated[Mixture, Tag("mixture")]],
    Discriminator(lambda v: "mixture" if isinstance(v, (list, Mixture)) else "source"),
]
"""A data role: one source, or a list of sources (a mixture). The list/mapping shape picks the branch, so an
error names the fields of the shape that was written, not of both."""


class HeldOutFraction(Strict):
    """A validation split carved out of the training rows: a seeded, deterministic share of data.train (the SFT
    stage's input) or, without data.train, of data.preference (the DPO/ORPO/KTO/reward stage's input)."""

    fraction: float = Field(gt=0, le=0.5, description=("Share of the training rows held out for validation: of "
                                                       "data.train, or of data.preference when there is no "
                                                       "data.train."))


Validation = Annotated[
    Union[Annotated[DataFile, Tag("source")], Annotated[HeldOutFraction, Tag("fraction")]],
    Discriminator(lambda v: "fraction" if isinstance(v, HeldOutFraction)
                  or (isinstance(v, dict) and "fraction" in v) else "source"),
]
"""``data.validation``: its own source, or ``{fraction: 0.05}`` of the training rows."""


class Replay(DataFile):
    """General-purpose rows mixed into the SFT stage's training rows, the standard remedy for forgetting.

    ``ratio`` is the replay share of the final training mix: with N task rows the stage trains on N task rows
    plus N × ratio / (1 − ratio) replay rows (seeded draw, repeated when the source has fewer;
    :func:`specc.data.mixture.replay_rows`)."""

    ratio: float = Field(
        gt=0, lt=1,
        description=("Share of replay rows in the final training mix (0.2: one row in five is replay). The task "
                     "rows are all kept; replay rows are drawn with the seed (repeated when the source has fewer)."),
    )


class GoldenMember(DataFile):
    """One source of a golden set given as a list: a data source, whole (no weight, max_rows or fraction)."""

    @model_validator(mode="before")
    @classmethod
    def _not_sampled(cls, value: Any) -> Any:
        if isinstance(value, dict):
            sampled = [k for k in ("weight", "max_rows", "fraction") if k in value]
            if sampled:
                raise ValueError(
                    f"{', '.join(sampled)}: a golden set is not sampled (every row of every member is scored and "
                    "firewalled, so a score means the same rows each run); to use part of a source, slice it "
                    "with split (e.g. split: test[:200]) or give a smaller file")
        return value


class GoldenSet(RootModel[list[GoldenMember]]):
    """``data.golden`` given as a list of sources: the union of the members' rows, in spec order. Every reader
    of the golden set (firewall, ``specc check``, the eval stages, the lock, the guard) reads every member."""

    model_config = ConfigDict(frozen=True)
    root: list[GoldenMember] = Field(
        min_length=1,
        description=("The golden set's sources; their rows are scored and firewalled as one set, each row named by "
                     "its own file and line. No weight, max_rows or fraction: a golden set is not sampled."),
    )

    @property
    def members(self) -> list[GoldenMember]:
        return list(self.root)

    @property
    def where(self) -> str:
        return "golden set of " + ", ".join(m.where for m in self.root)


Golden = Annotated[
    Union[Annotated[DataFile, Tag("source")], Annotated[GoldenSet, Tag("list")]],
    Discriminator(lambda v: "list" if isinstance(v, (list, GoldenSet)) else "source"),
]
"""``data.golden``: one source, or a list of sources whose rows are the golden set together."""


def members_of(entry: DataFile | Mixture | GoldenSet | None) -> list[DataFile]:
    """The sources of a data role: none, one, or the members of a mixture or a golden set given as a list."""
    if entry is None:
        return []
    return entry.members if isinstance(entry, (Mixture, GoldenSet)) else [entry]


class Suite(Strict):
    """A general-capability suite re-run before and after every tune to catch forgetting."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Suite name in reports.")
    kind: SuiteKind = Field(
        description=(
            "exact_match (greedy generation vs reference), multiple_choice (log-likelihood of each choice), "
            "perplexity (held-out text; lower is better), lm_eval (an lm-evaluation-harness task, when installed), "
            "refusal (refusal rate on harmful requests, scored by pattern; specc's built-in set when no path)."
        )
    )
    path: str | None = Field(
        default=None,
        description=("Local suite rows, relative to the spec file: a .jsonl/.json/.csv/.parquet file, a directory of "
                     "such files or a datasets.save_to_disk folder (not for lm_eval). For refusal: rows {prompt}; "
                     "omit to use the built-in set. Give at most one of path or hub."),
    )
    hub: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$",
        description="Hugging Face Hub dataset id (org/name) holding the suite's rows, loaded with datasets.load_dataset.",
    )
    revision: str | None = Field(
        default=None,
        description="Hub only: commit sha, tag or branch; the plan locks the commit it resolves to (as for data.train).",
    )
    subset: str | None = Field(default=None, description="Hub only: the dataset's configuration (load_dataset name).")
    split: str | None = Field(
        default=None, description="Split to read, with datasets' slicing (e.g. test[:200]). Default: train.",
    )
    data_files: str | list[str] | None = Field(
        default=None, description="Hub only: the files of the repository to load (load_dataset data_files)."
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Renamed columns, {ours: theirs}: e.g. {prompt: question, completion: answer}.",
    )
    task: str | None = Field(default=None, description="lm-evaluation-harness task name (lm_eval only).")
    limit: int | None = Field(default=None, gt=0, description="Evaluate only the first N rows (quick checks).")

    _check_path = field_validator("path")(lambda cls, v: _no_interpolation(v))
    _check_task = field_validator("task")(lambda cls, v: _no_control_characters(v))
    _check_names = field_validator("revision", "subset", "split")(lambda cls, v: _no_control_characters(v))

    @model_validator(mode="after")
    def _source(self) -> Suite:
        given = self.path is not None or self.hub is not None
        if self.path is not None and self.hub is not None:
            raise ValueError("give at most one of `path` (local rows) or `hub` (a Hub dataset id)")
        hub_only = [k for k in ("revision", "subset", "data_files") if getattr(self, k) is not None]
        if hub_only and self.hub is None:
            raise ValueError(f"{', '.join(hub_only)} apply to `hub` suites only")
        for ours, theirs in self.columns.items():
            _no_control_characters(ours)
            _no_control_characters(theirs)
        if self.kind == "lm_eval":
            if not self.task or given or self.split or self.columns:
                raise ValueError("an `lm_eval` suite names a `task` and no `path` or `hub`")
        elif self.kind == "refusal":
            if self.task:
                raise ValueError("a `refusal` suite names no `task` (a `path` or `hub` of {prompt} rows, or none "
                                 "for the built-in set)")
        elif not given or self.task:
            raise ValueError(f"an `{self.kind}` suite names a `path` or a `hub` dataset, and no `task`")
        return self

    @property
    def reads_rows(self) -> bool:
        """The suite's rows come from a source of the spec (not an lm_eval task, not the built-in refusal set)."""
        return self.path is not None or self.hub is not None

    def as_source(self) -> DataFile:
        """The suite's rows as a data source (read, locked and pinned like any data role's)."""
        return DataFile(path=self.path, hub=self.hub, revision=self.revision, subset=self.subset, split=self.split,
                        data_files=self.data_files, columns=dict(self.columns))

    @property
    def where(self) -> str:
        return self.as_source().where if self.reads_rows else (self.task or "built-in")


class Data(Strict):
    """The data the plan may use. What is present shapes the method (preference pairs → DPO, ...)."""

    train: Source | None = Field(
        default=None,
        description="Demonstrations for SFT (messages or prompt/completion); a list of sources is a mixture.",
    )
    preference: Source | None = Field(
        default=None,
        description=(
            "Chosen/rejected pairs ({prompt, chosen, rejected}) for DPO or a reward model, or unpaired answers "
            "labelled good or bad ({prompt, completion, label: true|false}) for KTO; a list of sources is a mixture."
        ),
    )
    prompts: Source | None = Field(
        default=None,
        description="Prompts only: what a distillation teacher answers, or what online RL samples from.",
    )
    golden: Golden | None = Field(
        default=None,
        description=("Held-out golden set for the target metric, from any source (a Hub split, Parquet, CSV, a folder "
                     "of files), or a list of sources: their rows together are the golden set (in spec order; "
                     "reports name each row's own file and line; no weights: it is not sampled). Never opened by "
                     "a training stage."),
    )
    validation: Validation | None = Field(
        default=None,
        description=(
            "Validation rows for evaluation during training (eval_loss every eval_steps, best checkpoint, early "
            "stopping), in the training stage's row format: a source (firewalled against the golden set like "
            "training data), or {fraction: 0.05} held out of the evaluating stage's own input: data.train when "
            "given (SFT), else data.preference (DPO, ORPO, KTO, reward model); a seeded, deterministic split."
        ),
    )
    replay: Replay | None = Field(
        default=None,
        description=(
            "General-purpose rows mixed into supervised training at a stated share, the remedy for forgetting: "
            "{path: data/general.jsonl, ratio: 0.2} (any source: local file or hub). Rows in the SFT stage's "
            "format; firewalled against the golden set like training data."
        ),
    )
    general_suites: list[Suite] = Field(
        default_factory=list,
        description="General-capability suites for the forgetting check after every tune.",
    )
    personal_data: PersonalData = Field(
        default_factory=PersonalData,
        description="Policy for personal data found in training rows by the plan, `specc check` and the firewall stage.",
    )

    @model_validator(mode="after")
    def _unique_suites(self) -> Data:
        names = [s.name for s in self.general_suites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"suite names must be unique; repeated: {', '.join(dupes)}")
        return self


class MethodOverrides(TrainerSettings, AdapterSettings):
    """Optional overrides of the planner's decisions and hyper-parameters. Omitted means: let specc decide.
    The trainer surface (optimiser, schedule, evaluation during training, per-stage overrides) is
    :class:`specc.spec.training.TrainerSettings`."""

    method: MethodChoice = Field(
        default="auto",
        description=(
            "sft, dpo, orpo (pairs, no reference model; trl.experimental), kto (unpaired good/bad answers), reward "
            "(a reward model alone, from preference pairs), rlhf, grpo (online RL with method.reward_functions "
            "on data.prompts), distill, or auto (the guide decides)."
        ),
    )
    parameter_budget: BudgetChoice = Field(
        default="auto",
        description="full, lora, qlora, or auto (smallest intervention that fits the hardware).",
    )
    lora_r: int | None = Field(default=None, ge=1, le=1024, description="LoRA rank. Default 16.")
    lora_alpha: int | None = Field(default=None, ge=1, le=4096, description="LoRA alpha. Default 2 × rank.")
    lora_dropout: float | None = Field(default=None, ge=0, lt=1, description="LoRA dropout. Default 0.05.")
    lora_targets: Literal["all-linear", "attention"] | list[str] | None = Field(
        default=None,
        description="Modules LoRA adapts: all-linear (default; best quality), attention, or explicit names.",
    )
    quant_bits: Literal[4, 8] | None = Field(default=None, description="QLoRA base quantisation. Default 4 (NF4).")
    epochs: float | None = Field(default=None, gt=0, le=100, description="Passes over the data. Default 3 (1 for RL).")
    max_steps: int | None = Field(
        default=None, gt=0, description="Stop after this many optimiser steps (overrides epochs; for smoke runs)."
    )
    learning_rate: float | None = Field(
        default=None, gt=0, lt=1, description="Peak learning rate. Default 2e-4 for LoRA/QLoRA, 2e-5 full, 5e-6 DPO/RL."
    )
    max_seq_length: int | None = Field(default=None, ge=16, le=1_048_576, description="Tokens per example. Default 2048.")
    micro_batch_size: int | None = Field(default=None, ge=1, le=4096, description="Examples per device per step. Default 4.")
    gradient_accumulation: int | None = Field(default=None, ge=1, le=4096, description="Micro-batches per optimiser step. Default 4.")
    gradient_checkpointing: bool | None = Field(
        default=None, description="Trade compute for activation memory. Default: on when it is needed to fit."
    )
    packing: bool | None = Field(default=None, description="Pack short SFT examples into full sequences. Default false.")
    assistant_only_loss: bool | None = Field(
        default=None, description="Train only on assistant tokens (chat data). Default true for messages data."
    )
    precision: Precision = Field(
        default="auto", description="auto chooses bf16/fp16/fp32 from the device at run time (CPU: fp32)."
    )
    rl_algorithm: Literal["rloo", "grpo"] | None = Field(
        default=None, description="Online RL algorithm for RLHF stage 3 (trl has no PPO). Default rloo."
    )
    distillation: Literal["auto", "sequence", "logit"] = Field(
        default="auto",
        description="sequence (teacher generates, student SFTs) or logit (needs a shared vocabulary). auto: sequence.",
    )
    seed: int = Field(default=42, ge=0, le=2**32 - 1, description="Random seed for every stage. Default 42.")


class Forgetting(Strict):
    """How much general capability may be lost. Compared against each suite's baseline score."""

    max_abs_drop: float | None = Field(
        default=0.02, ge=0, description="Largest allowed absolute drop of a suite's score. Default 0.02."
    )
    max_rel_drop: float | None = Field(
        default=0.05, ge=0, le=1, description="Largest allowed relative drop (fraction of baseline). Default 0.05."
    )


class Firewall(Strict):
    """Keeps training data away from the golden set, or scores mean nothing."""

    ngram: int = Field(default=13, ge=3, le=64, description="n-gram length in words for overlap. Default 13.")
    threshold: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Largest allowed fraction of golden rows found in training data, below 1. Default 0: any "
        "hit fails.",
    )
    near_duplicates: bool = Field(default=False, description="Also look for near-duplicates (MinHash + Jaccard).")
    jaccard: float = Field(default=0.8, gt=0, le=1, description="Near-duplicate Jaccard threshold. Default 0.8.")
    ignore: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Boilerplate shared by training and golden rows (a system prompt, an instruction template), "
        "at least two words each: cut out of every field before matching, and reported with how often it was "
        "found. Default: none.",
    )

    @field_validator("threshold")
    @classmethod
    def _below_one(cls, value: float) -> float:
        if value >= 1:
            raise ValueError(
                "a threshold of 1 passes even training data equal to the golden set; if shared boilerplate (a "
                "system prompt, an instruction template) flags every golden row, list it under "
                "eval.firewall.ignore instead"
            )
        return value

    @field_validator("ignore")
    @classmethod
    def _boilerplate_has_words(cls, value: list[str]) -> list[str]:
        from specc.contract.settings import ignore_problem  # stdlib-only; the firewall's own definition

        problems = [problem for text in value if (problem := ignore_problem(text)) is not None]
        if problems:
            raise ValueError("; ".join(problems))
        return value


class Eval(Strict):
    """The eval contract's terms: target metric and bar, forgetting budget, firewall."""

    metric: TargetMetric = Field(
        default="exact_match",
        description="Target metric computed on the golden set: exact_match, accuracy, perplexity, or "
                    "pairwise_accuracy (a reward model: the share of golden pairs scored chosen above rejected; "
                    "the default when method is reward).",
    )
    bar: float | None = Field(
        default=None, description="The score the adapted model must reach (for perplexity: must not exceed)."
    )
    forgetting: Forgetting = Field(default_factory=Forgetting, description="Forgetting budget per suite.")
    firewall: Firewall = Field(default_factory=Firewall, description="Golden-set firewall settings.")
    max_new_tokens: int = Field(default=64, ge=1, le=8192, description="Generation length for exact-match scoring.")


class Tracking(Strict):
    """Weights & Biases tracking. Keys are read from the environment at run time, never from the spec."""

    _names = field_validator("project", "entity")(lambda cls, v: _no_control_characters(v))

    backend: Literal["wandb", "none"] = Field(default="wandb", description="wandb, or none to disable tracking.")
    project: str | None = Field(default=None, description="W&B project. Default: the spec's name.")
    entity: str | None = Field(default=None, description="W&B entity (team or user).")
    mode: TrackingMode = Field(
        default="auto",
        description="online, offline, disabled, or auto (offline when WANDB_API_KEY is not set).",
    )
    log_model: bool = Field(default=False, description="Upload the adapter/model as a W&B artifact.")


class Spec(Strict):
    """A specc experiment spec (schema version 1)."""

    specc: Literal[1] = Field(description="Spec schema version. Must be 1.")
    name: str = Field(
        description="Experiment name: lowercase letters, digits, '.', '_' or '-'; names the build directory.",
    )
    description: str = Field(default="", description="Free text for reviewers.")
    goal: Goal = Field(description="What behaviour is wanted.")
    evidence: Evidence = Field(default_factory=Evidence, description="What was already tried.")
    constraints: Constraints = Field(default_factory=Constraints, description="Hardware, serving, facts, budget.")
    base_model: ModelRef = Field(description="The model to adapt (the student, for distillation).")
    teacher: ModelRef | None = Field(default=None, description="Teacher model for distillation (open weights only).")
    data: Data = Field(default_factory=Data, description="Training, preference, prompt and evaluation data.")
    method: MethodOverrides = Field(default_factory=MethodOverrides, description="Optional overrides.")
    eval: Eval = Field(default_factory=Eval, description="Eval contract terms.")
    tracking: Tracking = Field(default_factory=Tracking, description="Experiment tracking.")
    outputs: Outputs = Field(default_factory=Outputs,
                             description="What leaves the build: the Hub push after the eval gate (opt-in).")

    @field_validator("name")
    @classmethod
    def _name_is_a_safe_slug(cls, v: str) -> str:
        if not _NAME_RE.fullmatch(v):
            raise ValueError(
                "name must be 1-64 characters of lowercase letters, digits, '.', '_' or '-', starting with a "
                "letter or digit (it names the build directory)"
            )
        return v


SECTION_KEYS: dict[str, tuple[str, ...]] = {}
"""For 'this key belongs in section X' hints: every key of every section, filled below."""


def _collect(model: type[BaseModel], prefix: str) -> None:
    if issubclass(model, RootModel):  # a list section (a mixture): keys of its items, data.train[n]
        for sub in _submodels(model.model_fields["root"].annotation):
            _collect(sub, f"{prefix}[n]")
        return
    for key, field in model.model_fields.items():
        SECTION_KEYS.setdefault(key, ())
        SECTION_KEYS[key] = SECTION_KEYS[key] + (prefix,)
        ann = field.annotation
        for sub in _submodels(ann):
            _collect(sub, f"{prefix}.{key}" if prefix else key)


def _submodels(ann: object) -> list[type[BaseModel]]:
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(ann):
        out.extend(_submodels(arg))
    return out


_collect(Spec, "")

__all__ = ["Spec", "SCHEMA_VERSION", "SECTION_KEYS", "GoldenSet", "Mixture", "Source", "members_of"] + [
    n for n in dir() if isinstance(globals()[n], type) and issubclass(globals()[n], Strict)
]


"""Plan → stage graph: which scripts a build has, what each reads and writes, and its resolved config.

Why a separate module: the planner decides *what* to do (method, parameter budget, levers); this module
decides *how the build is laid out* so that the emitter, the runner and the scripts agree on one set of
conventions. :func:`build_stages` is called by the planner at the end of :func:`specc.plan.planner.make_plan`
and its result is stored in the Plan, so a reviewer sees every resolved hyper-parameter before any
script runs. It reads the Plan alone (never the Spec): every value comes from ``plan.hyperparameters``,
``plan.models``, ``plan.data``, ``plan.contract`` and ``plan.launch``, so a plan.json compiles by itself.

Conventions (shared with :mod:`specc.build.emitter`, the templates and :mod:`specc.runtime`)
-------------------------------------------------------------------------------------
* Binding conventions are in ``docs/CONVENTIONS.md``; this is the part this module implements.
* One stage = one script ``stages/NN_<id>.py`` (NN = run order); stage ids are also W&B run names.
* Graph: ``firewall`` → ``baseline`` → training stage(s) → ``merge`` (LoRA/QLoRA only) → ``eval``.
  Training stages per method: sft: ``sft``; dpo: [``sft`` when demonstrations exist] → ``dpo``;
  rlhf: [``sft``] → ``reward`` → ``rl``; distill/sequence: ``generate`` → ``sft``;
  distill/logit: ``distill_logit``.
* Paths in ``Stage.config``: data files (``config["data"]``, suites, golden) carry ``spec_path``, relative
  to the *spec directory* exactly as in ``Plan.data``; the emitter adds ``path``, the same file relative to
  the build directory, when it renders a script (a plan does not depend on where it is compiled). Everything a stage produces or consumes from another stage
  (``inputs``/``outputs`` and ``config["init"]``) is relative to the *build directory* and lies inside it
  (``artifacts/<stage>/…``, ``results/<name>.json``, ``reports/<name>.json``).
* ``config["model"]`` is the base model as ``{"ref", "source": "hub"|"local", "revision"}``; a local ref
  is relative to the spec directory. ``config["init"]`` (optional) says where the weights to start from
  were produced earlier in the build: ``{"model": dir}`` (a full model) or ``{"adapter": dir}`` (a PEFT
  adapter over ``config["model"]``), the latter optionally with ``"base_adapters": [dir, …]``: adapters
  that are merged into the base, in order, *before* ``adapter`` applies (SFT → DPO trains the DPO adapter
  on the SFT-merged model, so the final model is base + SFT + DPO).
* Every hyper-parameter comes from ``plan.hyperparameters`` (resolved once by
  :mod:`specc.plan.hyperparameters`); this module only lays them out per stage. ``save_steps`` is derived per
  stage from the plan's own row counts (about ten checkpoints per run) unless the plan pins it.
* ``config["train"]`` uses the TRL/transformers argument names, so an emitted script reads like TRL's own.
"""

from __future__ import annotations

from typing import Any

from specc.plan.defaults import save_steps_for
from specc.plan.launch import config_name
from specc.plan.model import DataFact, ModelInfo, Plan, Stage
from specc.plan.trainer_args import escape_args, escape_config
from specc.plan.push import MERGED, add_push_stage, card_folders
from specc.plan.trainer_args import (chat_template_entry, evaluation_args, evaluation_config, optimisation_args,
                                     validation_kind)

SFT_ON_TRAIN_METHODS = frozenset({"sft", "dpo", "orpo", "kto", "reward", "rlhf", "grpo"})
"""Methods whose plan has an SFT stage on data.train when data.train is given (laid out below); data.replay
joins that stage (:mod:`specc.plan.replay` reads this set, so the two cannot disagree)."""

__all__ = ["build_stages", "TRAINING_KINDS", "init_inputs"]

NOT_FILES = frozenset({"hub", "held_out"})
"""Source kinds that are no file under the spec directory (a Hub dataset; a held-out share of data.train)."""

TRAINING_KINDS = frozenset({"sft", "dpo", "orpo", "kto", "reward", "rl", "distill_logit"})
"""Stage kinds that train (and so run under the plan's launcher: accelerate/torchrun when distributed)."""



def _hp(plan: Plan, key: str) -> Any:
    """A resolved value of the plan. A missing key is a planner bug, never a reason to guess a default."""
    try:
        return plan.hyperparameters[key]
    except KeyError:
        raise KeyError(f"plan.hyperparameters has no {key!r}: the planner did not resolve it") from None


def _fact(plan: Plan, role: str) -> DataFact | None:
    return next((d for d in plan.data if d.role == role), None)


def _data(fact: DataFact | None, plan: Plan | None = None) -> dict[str, Any] | None:
    if fact is None:
        return None
    out = {"role": fact.role, "name": fact.name, "spec_path": fact.path, "format": fact.format,
           "sha256": fact.sha256}
    if fact.source is not None:  # how specc.runtime.datasource loads it (kind, Hub commit, mappings)
        out["source"] = dict(fact.source)
    if fact.source is not None and fact.source.get("kind") == "held_out" and plan is not None:
        out["source"]["seed"] = int(_hp(plan, "seed"))
    if fact.mix is not None:  # a mixture member: its share (the seed makes the draw deterministic)
        out["mix"] = {**fact.mix, "seed": int(_hp(plan, "seed"))} if plan is not None else dict(fact.mix)
    return out


def _role_data(plan: Plan, role: str) -> dict[str, Any] | list[dict[str, Any]] | None:
    """A role's data entry, or the list of its members' entries when the role is a mixture."""
    facts = [d for d in plan.data if d.role == role]
    if len(facts) > 1 or (facts and (facts[0].mix is not None or facts[0].name != role)):  # golden[0]: a list
        return [_data(f, plan) for f in facts]  # type: ignore[misc]
    return _data(facts[0], plan) if facts else None


def _entries(*values: Any) -> list[dict[str, Any]]:
    """Data entries of roles, mixtures flattened into their members."""
    out: list[dict[str, Any]] = []
    for value in values:
        out.extend(value if isinstance(value, list) else [value] if value else [])
    return out


def _model(plan: Plan, role: str) -> dict[str, Any] | None:
    info: ModelInfo | None = next((m for m in plan.models if m.role == role), None)
    if info is None:
        return None
    out = {"ref": info.ref, "source": info.source, "revision": info.revision}
    if role == "base" and plan.hyperparameters.get("attn_implementation"):
        # from_pretrained's own argument: every stage that loads the base model uses the same kernel
        out["attn_implementation"] = plan.hyperparameters["attn_implementation"]
    if role == "base" and plan.hyperparameters.get("special_tokens"):
        # tokenizer.add_special_tokens' keys: every stage that loads the base adds them and resizes the embedding
        out["special_tokens"] = dict(plan.hyperparameters["special_tokens"])
    return out


def _suites(plan: Plan) -> list[dict[str, Any]]:
    """The general suites as the eval stages read them; a suite from any source other than a plain JSONL file
    carries its ``source`` (kind, Hub commit, split, columns), as data roles do."""
    if plan.contract is None:
        return []
    out = []
    for s in plan.contract.suites:
        entry: dict[str, Any] = {"name": s.name, "kind": s.kind, "spec_path": s.path, "task": s.task, "limit": s.limit}
        fact = next((d for d in plan.data if d.role == "suite" and d.name == s.name), None)
        if fact is not None and fact.source is not None:
            entry.update(role="suite", source=dict(fact.source))
        out.append(entry)
    return out


def _firewall_suites(plan: Plan) -> dict[str, Any]:
    """Suites that read rows, for the firewall stage's CONFIG: its guard records the rows of every Hub source it
    is given (``reports/data-lock.json``), and the baseline and eval stages score exactly those rows or refuse;
    and it matches the training rows against every suite's rows (a warning: issue 11 item 7, general-suite
    overlap), as ``specc check`` does."""
    rows = [s for s in _suites(plan) if s.get("spec_path") or s.get("source")]
    return {"suites": rows} if rows else {}


def _peft(plan: Plan, budget: str) -> dict[str, Any] | None:
    if budget not in ("lora", "qlora"):
        return None
    targets = _hp(plan, "lora_target_modules")
    return {
        "r": int(_hp(plan, "lora_r")),
        "lora_alpha": int(_hp(plan, "lora_alpha")),
        "lora_dropout": float(_hp(plan, "lora_dropout")),
        "target_modules": targets if isinstance(targets, str) else list(targets),
        "use_dora": bool(_hp(plan, "use_dora")),
        "use_rslora": bool(_hp(plan, "use_rslora")),
        **({"modules_to_save": list(plan.hyperparameters["modules_to_save"])}
           if plan.hyperparameters.get("modules_to_save") else {}),
    }


def _quantization(plan: Plan, budget: str) -> dict[str, Any] | None:
    if budget != "qlora":
        return None
    # BitsAndBytesConfig's own argument names; the compute dtype follows the run-time precision.
    if int(_hp(plan, "quant_bits")) == 8:
        return {"load_in_8bit": True}
    quant = {"load_in_4bit": True, "bnb_4bit_quant_type": str(_hp(plan, "bnb_4bit_quant_type")),
             "bnb_4bit_use_double_quant": bool(_hp(plan, "bnb_4bit_use_double_quant"))}
    if plan.launch is not None and plan.launch.strategy in ("fsdp", "zero3"):
        # Sharding flattens parameters of one dtype: 4-bit weights are stored in the compute dtype
        # (specc.runtime.placement matches it to the run-time precision).
        quant["bnb_4bit_quant_storage"] = _STORAGE_DTYPE.get(str(_hp(plan, "precision")), "bfloat16")
    return quant


_STORAGE_DTYPE = {"auto": "bfloat16", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def _per_stage(plan: Plan, key: str, kind: str) -> Any:
    """The planner's per-stage value (``learning_rates`` / ``epochs_by_stage``) for a training stage kind."""
    table = _hp(plan, key)
    if kind not in table:
        raise KeyError(f"plan.hyperparameters[{key!r}] has no entry for stage kind {kind!r}")
    return table[kind]


def _stage_steps(max_steps: int, rows: int | None, epochs: float, per_step: int) -> int | None:
    """Optimiser steps of one training stage: ``max_steps`` when set, else rows × epochs / batch."""
    if max_steps > 0:
        return max_steps
    if not rows:
        return None
    return -(-int(rows * epochs) // max(1, per_step))


def _train_args(plan: Plan, kind: str, *, rows: int | None = None, devices: int = 1,
                evaluates: bool = False) -> dict[str, Any]:
    """The stage's trainer config, every key named as the TRL/transformers config of that stage names it
    (SFTConfig, DPOConfig, RewardConfig, RLOOConfig/GRPOConfig, DistillationConfig), so CONFIG["train"] is passed
    to the trainer as it stands."""
    num_epochs = float(_per_stage(plan, "epochs_by_stage", kind))
    max_steps = int(_hp(plan, "max_steps"))
    micro = int(_hp(plan, "micro_batch_size"))
    accum = int(_hp(plan, "gradient_accumulation"))
    save_steps = plan.hyperparameters.get("save_steps")  # a plan may pin it; else ~10 checkpoints per stage
    if save_steps is None:
        save_steps = save_steps_for(_stage_steps(max_steps, rows, num_epochs, micro * accum * devices))
    args = {
        "num_train_epochs": num_epochs,
        "max_steps": max_steps,
        "learning_rate": float(_per_stage(plan, "learning_rates", kind)),
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": accum,
        **({} if kind in ("rl", "distill_logit") else {"max_length": int(_hp(plan, "max_seq_length"))}),
        "activation_checkpointing": bool(_hp(plan, "gradient_checkpointing")),
        "seed": int(_hp(plan, "seed")),
        "logging_steps": int(_hp(plan, "logging_steps")),
        "save_steps": int(save_steps),
        "save_total_limit": int(_hp(plan, "save_total_limit")),
        **_kind_args(plan, kind),
    }
    if kind == "orpo":  # trl.experimental's ORPOConfig names it gradient_checkpointing (default True there)
        args["gradient_checkpointing"] = args.pop("activation_checkpointing")
    args.update(optimisation_args(plan, kind))
    if plan.hyperparameters.get("use_liger_kernel") is not None:
        args["use_liger_kernel"] = bool(plan.hyperparameters["use_liger_kernel"])
    if evaluates:
        args.update(evaluation_args(plan, args["save_steps"]))
    args.update(escape_args(plan, kind))  # method.trainer_args: the spec refused keys set above
    return args


def _kind_args(plan: Plan, kind: str) -> dict[str, Any]:
    """Trainer arguments only one stage kind has (TRL's names). Generating stages bound the completion
    instead of the whole sequence (``max_length`` is then not an argument of theirs: popped by the caller)."""
    if kind == "sft":
        return {"packing": bool(_hp(plan, "packing")),
                "assistant_only_loss": plan.hyperparameters.get("assistant_only_loss")}
    if kind == "dpo":
        return {"beta": float(_hp(plan, "dpo_beta"))}
    if kind == "kto":
        return {"beta": float(_hp(plan, "kto_beta"))}
    if kind == "orpo":
        return {"beta": float(_hp(plan, "orpo_beta"))}
    if kind == "rl":
        weights = [float(f["weight"]) for f in plan.hyperparameters.get("reward_functions") or []]
        return {**({"reward_weights": weights} if weights else {}),
                "num_generations": int(_hp(plan, "rl_num_generations")),
                "max_completion_length": int(_hp(plan, "rl_max_completion_length")),
                "beta": float(_hp(plan, "rl_beta")), "temperature": float(_hp(plan, "rl_temperature"))}
    if kind == "distill_logit":
        return {"max_completion_length": int(_hp(plan, "distill_max_completion_length")),
                "beta": float(_hp(plan, "distill_beta")), "temperature": float(_hp(plan, "distill_temperature"))}
    return {}


def init_inputs(init: dict[str, Any] | None, prefix: str = "init_") -> dict[str, str]:
    """A stage's ``init`` as flat declared inputs (``init_adapter``, ``init_base_adapter_1`` …)."""
    out: dict[str, str] = {}
    for key, value in (init or {}).items():
        if isinstance(value, list):
            out.update({f"{prefix}{key.rstrip('s')}_{i}": v for i, v in enumerate(value, 1)})
        else:
            out[f"{prefix}{key}"] = value
    return out


class _Graph:
    """Accumulates stages in run order and tracks where the current model lives."""

    def __init__(self, plan: Plan, launcher: str, launch_config: str | None) -> None:
        self.plan, self.launcher, self.launch_config = plan, launcher, launch_config
        self.stages: list[Stage] = []
        self.init: dict[str, str] | None = None  # where the latest trained weights are (build-relative)
        self.last_trainer: str | None = None
        self.budget = plan.parameter_budget or "lora"
        self.base = _model(plan, "base")
        self.devices = plan.launch.num_processes if plan.launch is not None else 1

    def add(self, sid: str, kind: str, title: str, *, needs: list[str], inputs: dict[str, str],
            outputs: dict[str, str], config: dict[str, Any]) -> None:
        launcher = self.launcher if kind in TRAINING_KINDS else "python"
        config = {**config, "output_dir": config.get("output_dir", f"artifacts/{sid}")}
        if launcher == "accelerate" and self.launch_config:
            config["launch_config"] = self.launch_config
        script = f"stages/{len(self.stages) + 1:02d}_{sid}.py"
        self.stages.append(Stage(id=sid, kind=kind, title=title, script=script, launcher=launcher,
                                 needs=needs, inputs=inputs, outputs=outputs, config=config))

    def with_model_card(self, sid: str, folders: list[dict[str, str]]) -> None:
        """Give stage ``sid`` the model-card folders it writes (before the eval stage's verdict) at its end."""
        i = next(i for i, s in enumerate(self.stages) if s.id == sid)
        stage = self.stages[i]
        self.stages[i] = stage.model_copy(update={"config": {**stage.config, "model_card": {"folders": folders}}})

    def common(self) -> dict[str, Any]:
        template = chat_template_entry(self.plan)
        return {"model": self.base, "precision": _hp(self.plan, "precision"),
                **({"chat_template": template} if template else {})}

    def trained(self, sid: str, kind: str, title: str, data: dict[str, Any] | None, *,
                extra_inputs: dict[str, str] | None = None, extra_config: dict[str, Any] | None = None,
                peft: bool = True, continues_adapter: bool = False, rows: int | None = None,
                replay: dict[str, Any] | None = None) -> None:
        """Add a training stage that starts from the current weights and becomes the current weights.

        With an adapter budget a stage normally merges the adapter it starts from into the base and
        trains a new one (so the new adapter needs that merged base: ``base_adapters``);
        ``continues_adapter`` stages (online RL) keep training the adapter they start from instead.
        """
        peft_cfg = _peft(self.plan, self.budget) if peft else None
        evaluates = validation_kind(self.plan) == kind  # data.validation is evaluated by this stage
        out_dir = f"artifacts/{sid}"
        final = f"{out_dir}/adapter" if peft_cfg else f"{out_dir}/model"
        inputs = dict(extra_inputs or {})
        inputs.update(init_inputs(self.init))
        if rows is None and isinstance(data, list):  # a mixture: the rows its members contribute
            rows = sum(int((d.get("mix") or {}).get("rows_used") or 0) for d in data)
        elif rows is None and data is not None:
            fact = next((d for d in self.plan.data if d.role == data.get("role") and d.path == data.get("spec_path")),
                        None)
            rows = fact.rows if fact is not None else None
        if replay is not None and rows is not None:  # the replay rows the stage adds (specc.data.mixture)
            rows = rows + int((replay.get("mix") or {}).get("rows_used") or 0)
        config = {
            **self.common(),
            "init": self.init,
            "data": data,
            "peft": peft_cfg,
            "quantization": _quantization(self.plan, self.budget) if peft_cfg else None,
            "train": _train_args(self.plan, kind, rows=rows, devices=self.devices, evaluates=evaluates),
            # Not a trainer argument: common.stage_callbacks paces intermediate checkpoints by wall time.
            "checkpoint_min_interval_s": int(_hp(self.plan, "checkpoint_min_interval_s")),
            "output_dir": out_dir,
            "checkpoint_dir": f"{out_dir}/checkpoints",
            **(evaluation_config(self.plan, _data(_fact(self.plan, "validation"), self.plan)) if evaluates else {}),
            **({"replay": replay} if replay is not None else {}),
            **(extra_config or {}),
            **escape_config(self.plan, kind),
        }
        needs = ["firewall"] + ([self.last_trainer] if self.last_trainer else [])
        for dep in (extra_inputs or {}).values():
            producer = dep.split("/")[1] if dep.startswith("artifacts/") else None
            if producer and producer not in needs:
                needs.append(producer)
        self.add(sid, kind, title, needs=needs, inputs=inputs,
                 outputs={"adapter" if peft_cfg else "model": final, "checkpoints": f"{out_dir}/checkpoints"},
                 config=config)
        if not peft_cfg:
            self.init = {"model": final}
        elif self.init and "adapter" in self.init and not continues_adapter:
            # load_model merged the starting adapter(s) into the base; the new adapter applies on top of that.
            self.init = {"adapter": final,
                         "base_adapters": [*self.init.get("base_adapters", []), self.init["adapter"]]}
        else:
            self.init = {"adapter": final, **({"base_adapters": list(self.init["base_adapters"])}
                                              if self.init and self.init.get("base_adapters") else {})}
        self.last_trainer = sid


def _reward_model_tail(g: _Graph, pref: Any, eval_cfg: dict[str, Any]) -> list[Stage]:
    """A reward model alone: the reward stage, then eval scores its pairwise accuracy (no merge: a sequence
    classifier's adapter does not merge into the causal LM that ``merge`` writes; the eval stage loads it with
    :func:`specc.runtime.rewards.load_reward_model`, like the RL stage of RLHF)."""
    start = g.init
    g.trained("reward", "reward", "Reward model on preference pairs", pref, peft=True)
    reward = {k: v for k, v in g.stages[-1].outputs.items() if k != "checkpoints"}
    g.add("eval", "eval", "Score the reward model: pairwise accuracy on the golden pairs", needs=["baseline", "reward"],
          inputs={**{f"reward_{k}": v for k, v in reward.items()}, **init_inputs(start, prefix="reward_init_"),
                  "baseline": "results/baseline.json"},
          outputs={"results": "results/eval.json"},
          config={**g.common(), "init": None, "reward": {**reward, **({"init": start} if start else {})},
                  **eval_cfg, "baseline": "results/baseline.json"})
    return g.stages


def build_stages(plan: Plan) -> list[Stage]:
    """The stage graph of a training plan (empty for plans that do not train), with resolved configs."""
    if not plan.trains or plan.method == "none" or plan.launch is None:
        return []
    launcher = plan.launch.launcher
    g = _Graph(plan, launcher, config_name(plan.launch) if launcher == "accelerate" else None)
    golden = _role_data(plan, "golden")  # one entry, or every member's when the golden set is a list
    train, pref, prompts = (_role_data(plan, r) for r in ("train", "preference", "prompts"))
    # spec-relative files; a Hub source is no file: its commit is locked and its rows fingerprinted by the guard
    inputs_of = lambda *ds: {d["name"] if d.get("mix") or d["role"] == "golden" else d["role"]: d["spec_path"]  # noqa: E731
                             for d in _entries(*ds) if (d.get("source") or {}).get("kind") not in NOT_FILES}
    validation = _role_data(plan, "validation")
    scanned = validation if (validation or {}).get("source", {}).get("kind") != "held_out" else None
    replay = _data(_fact(plan, "replay"), plan)  # general rows the SFT stage mixes in (it IS training data)
    contract = plan.contract.model_dump(mode="json") if plan.contract else None
    fw = contract["firewall"] if contract else {}
    g.add("firewall", "firewall", "Golden-set firewall and data-lock check", needs=[],
          inputs={**inputs_of(train, pref, prompts, scanned, replay), **inputs_of(golden)},
          outputs={"report": "reports/firewall.json", "personal_data": "reports/personal_data.json"},
          config={"golden": golden, "training": _entries(train, pref, prompts, scanned, replay), "settings": fw,
                  "personal_data": contract["personal_data"] if contract else {"action": "warn", "reason": ""},
                  **_firewall_suites(plan)})
    eval_cfg = {"golden": golden, "suites": _suites(plan),
                "metric": contract["metric"] if contract else "exact_match",
                "max_new_tokens": contract["max_new_tokens"] if contract else 64}
    if eval_cfg["metric"] == "pairwise_accuracy":  # a reward model: the baseline's new head is seeded
        eval_cfg.update(seed=int(_hp(plan, "seed")), max_length=int(_hp(plan, "max_seq_length")))
    g.add("baseline", "baseline", "Score the base model (target metric and general suites)",
          needs=["firewall"], inputs={}, outputs={"results": "results/baseline.json"},
          config={**g.common(), **eval_cfg})

    method = plan.method
    if method == "distill":
        teacher = _model(plan, "teacher")
        if (plan.distillation or "sequence") == "logit":
            g.trained("distill_logit", "distill_logit", "Logit-level distillation from the teacher",
                      prompts or train, extra_config={"teacher": teacher})
        else:
            g.add("generate", "generate", "Teacher answers the prompts (sequence-level distillation)",
                  needs=["firewall"], inputs=inputs_of(prompts),
                  outputs={"data": "artifacts/generate/train.jsonl"},
                  config={"model": teacher, "precision": g.common()["precision"], "data": prompts,
                          # the contract's answer length (resolved by the planner), never a fixed 256
                          "max_new_tokens": int(_hp(plan, "max_new_tokens")),
                          "batch_size": int(_hp(plan, "micro_batch_size")),
                          "seed": int(_hp(plan, "seed")),
                          "output": "artifacts/generate/train.jsonl"})
            generated = {"role": "train", "name": "generated", "path": "artifacts/generate/train.jsonl",
                         "format": "prompt_completion", "sha256": None}
            prompt_fact = _fact(plan, "prompts")
            g.trained("sft", "sft", "SFT the student on the teacher's answers", generated,
                      extra_inputs={"data": "artifacts/generate/train.jsonl"},
                      rows=prompt_fact.rows if prompt_fact is not None else None)
    else:
        if method == "sft" or (method in SFT_ON_TRAIN_METHODS and train):
            g.trained("sft", "sft", "Supervised fine-tuning", train, replay=replay)
        if method == "dpo":
            g.trained("dpo", "dpo", "Direct preference optimisation", pref,
                      extra_config={"beta": float(_hp(plan, "dpo_beta"))})
        elif method == "orpo":
            g.trained("orpo", "orpo", "ORPO on preference pairs (no reference model)", pref)
        elif method == "kto":
            g.trained("kto", "kto", "KTO on answers labelled good or bad", pref)
        elif method == "reward":
            return _reward_model_tail(g, pref, eval_cfg)
        elif method == "grpo":
            # scored by the plan's reward functions (specc.runtime.reward_functions), no reward stage
            g.trained("rl", "rl", "GRPO on the prompts, scored by reward functions", prompts, continues_adapter=True,
                      extra_config={"algorithm": _hp(plan, "rl_algorithm"),
                                    "reward_functions": [dict(f) for f in _hp(plan, "reward_functions")]})
        elif method == "rlhf":
            policy_init = g.init
            g.trained("reward", "reward", "Reward model on preference pairs", pref, peft=True)
            reward_out = g.stages[-1].outputs
            g.init, g.last_trainer = policy_init, "reward"
            # the policy continues its starting adapter (specc.runtime.rewards.load_policy)
            g.trained("rl", "rl", "Online RL against the reward model", prompts, continues_adapter=True,
                      extra_inputs={f"reward_{k}": v for k, v in reward_out.items() if k != "checkpoints"},
                      extra_config={"algorithm": _hp(plan, "rl_algorithm"),
                                    "reward": {k: v for k, v in reward_out.items() if k != "checkpoints"}})
    final = g.init or {}
    folders = card_folders(final)  # the trained adapter and the (merged) model: each gets a model card
    if plan.outputs is not None and g.last_trainer:  # the last trainer writes its folder's card ("not evaluated")
        g.with_model_card(g.last_trainer, [f for f in folders if f["dir"] != MERGED])
    if "adapter" in final:
        g.add("merge", "merge", "Merge the adapter into the base weights", needs=[g.last_trainer or "firewall"],
              inputs={"adapter": final["adapter"], **init_inputs({"base_adapters": final.get("base_adapters", [])},
                                                                  prefix="")},
              outputs={"model": "artifacts/merge/model"},
              config={**g.common(), "init": final, "model_dir": "artifacts/merge/model"})
        if plan.outputs is not None:
            g.with_model_card("merge", [f for f in folders if f["dir"] == MERGED])
        final = {"model": "artifacts/merge/model"}
    needs = ["baseline", g.stages[-1].id]
    g.add("eval", "eval", "Score the tuned model; forgetting gate against the baseline", needs=needs,
          inputs={"model": final.get("model", ""), "baseline": "results/baseline.json"},
          outputs={"results": "results/eval.json"},
          config={**g.common(), "init": final, **eval_cfg, "baseline": "results/baseline.json",
                  **({"model_card": {"folders": folders}} if plan.outputs is not None else {})})
    if plan.outputs is not None and plan.outputs.push_to_hub:
        add_push_stage(g, plan.outputs, folders)
    return g.stages

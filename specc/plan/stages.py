"""Plan → stage graph: which scripts a build has, what each reads and writes, and its resolved config.

Why a separate module: the planner decides *what* to do (method, parameter budget, levers); this module
decides *how the build is laid out* so that the emitter, the runner and the scripts agree on one set of
conventions. :func:`build_stages` is called by the planner at the end of :func:`specc.plan.planner.make_plan`
and its result is stored in the Plan, so a reviewer sees every resolved hyper-parameter before any
script runs.

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
* Every hyper-parameter comes from ``plan.hyperparameters`` (the planner resolves them; the shared
  defaults are in :mod:`specc.plan.defaults`); this module only lays them out per stage. ``save_steps`` is
  derived per stage (about ten checkpoints per run) unless the plan pins it.
* ``config["train"]`` uses the TRL/transformers argument names, so an emitted script reads like TRL's own.
"""

from __future__ import annotations

from typing import Any

from specc.plan.defaults import CHECKPOINT_MIN_INTERVAL_S, DEFAULT_HYPERPARAMETERS, LEARNING_RATES, save_steps_for
from specc.plan.model import DataFact, Launch, ModelInfo, Plan, Stage

__all__ = ["build_stages", "build_launch", "TRAINING_KINDS", "init_inputs"]

TRAINING_KINDS = frozenset({"sft", "dpo", "reward", "rl", "distill_logit"})
"""Stage kinds that train (and so run under the plan's launcher: accelerate/torchrun when distributed)."""



def _unwrap(spec: Any) -> Any:
    """Accept a Spec or a LoadedSpec (which carries the Spec as ``.spec``)."""
    return getattr(spec, "spec", spec)


_MISSING = object()


def _hp(plan: Plan, spec: Any, key: str, default: Any = _MISSING) -> Any:
    """The planner's resolved value (``plan.hyperparameters`` is the source of truth). For a plan made
    without it (an older plan.json, a hand-built Plan): the spec's override, else ``default``, else the
    shared default of :mod:`specc.plan.defaults`."""
    if plan.hyperparameters.get(key) is not None:
        return plan.hyperparameters[key]
    override = getattr(spec.method, key, None)
    if override is not None and override != "auto":
        return override
    return DEFAULT_HYPERPARAMETERS.get(key) if default is _MISSING else default


def _fact(plan: Plan, role: str) -> DataFact | None:
    return next((d for d in plan.data if d.role == role), None)


def _data(fact: DataFact | None) -> dict[str, Any] | None:
    if fact is None:
        return None
    return {"role": fact.role, "name": fact.name, "spec_path": fact.path, "format": fact.format,
            "sha256": fact.sha256}


def _model(plan: Plan, role: str, spec_ref: Any) -> dict[str, Any] | None:
    info: ModelInfo | None = next((m for m in plan.models if m.role == role), None)
    if info is not None:
        return {"ref": info.ref, "source": info.source, "revision": info.revision}
    if spec_ref is None:
        return None
    return {"ref": spec_ref.ref, "source": "local" if spec_ref.path is not None else "hub",
            "revision": spec_ref.revision}


def _suites(plan: Plan) -> list[dict[str, Any]]:
    if plan.contract is None:
        return []
    return [{"name": s.name, "kind": s.kind, "spec_path": s.path, "task": s.task, "limit": s.limit}
            for s in plan.contract.suites]


def _peft(plan: Plan, spec: Any, budget: str) -> dict[str, Any] | None:
    if budget not in ("lora", "qlora"):
        return None
    r = int(_hp(plan, spec, "lora_r"))
    targets = _hp(plan, spec, "lora_targets")
    if targets == "attention":
        targets = ["q_proj", "k_proj", "v_proj", "o_proj"]
    return {
        "r": r,
        "lora_alpha": int(_hp(plan, spec, "lora_alpha", 2 * r)),
        "lora_dropout": float(_hp(plan, spec, "lora_dropout")),
        "target_modules": targets if isinstance(targets, str) else list(targets),
    }


def _quantization(plan: Plan, spec: Any, budget: str) -> dict[str, Any] | None:
    if budget != "qlora":
        return None
    bits = int(_hp(plan, spec, "quant_bits"))
    if bits == 8:
        return {"bits": 8}
    return {"bits": 4, "quant_type": "nf4", "double_quant": True}


def _per_stage(plan: Plan, key: str, kind: str) -> Any:
    """The planner's per-stage value (``learning_rates`` / ``epochs_by_stage``), if it gave one."""
    table = plan.hyperparameters.get(key)
    return table.get(kind) if isinstance(table, dict) else None


def _stage_steps(max_steps: int, rows: int | None, epochs: float, per_step: int) -> int | None:
    """Optimiser steps of one training stage: ``max_steps`` when set, else rows × epochs / batch."""
    if max_steps > 0:
        return max_steps
    if not rows:
        return None
    return -(-int(rows * epochs) // max(1, per_step))


def _train_args(plan: Plan, spec: Any, kind: str, *, lr_key: str, epochs_key: str = "epochs",
                rows: int | None = None, devices: int = 1) -> dict[str, Any]:
    epochs = _per_stage(plan, "epochs_by_stage", kind)
    lr = _per_stage(plan, "learning_rates", kind)
    num_epochs = float(epochs if epochs is not None else
                       _hp(plan, spec, "epochs", DEFAULT_HYPERPARAMETERS[epochs_key]))
    max_steps = int(_hp(plan, spec, "max_steps", -1))
    micro = int(_hp(plan, spec, "micro_batch_size"))
    accum = int(_hp(plan, spec, "gradient_accumulation"))
    save_steps = _hp(plan, spec, "save_steps", None)  # a plan may pin it; else ~10 checkpoints per stage
    if save_steps is None:
        save_steps = save_steps_for(_stage_steps(max_steps, rows, num_epochs, micro * accum * devices))
    return {
        "num_train_epochs": num_epochs,
        "max_steps": max_steps,
        "learning_rate": float(lr if lr is not None else _hp(plan, spec, "learning_rate", LEARNING_RATES[lr_key])),
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": accum,
        "max_length": int(_hp(plan, spec, "max_seq_length")),
        "gradient_checkpointing": bool(_hp(plan, spec, "gradient_checkpointing")),
        "seed": int(_hp(plan, spec, "seed")),
        "logging_steps": int(_hp(plan, spec, "logging_steps")),
        "save_steps": int(save_steps),
        "save_total_limit": int(_hp(plan, spec, "save_total_limit")),
        # Not a trainer argument: read by common.stage_callbacks to pace intermediate checkpoints.
        "checkpoint_min_interval_s": int(_hp(plan, spec, "checkpoint_min_interval_s", CHECKPOINT_MIN_INTERVAL_S)),
    }


def init_inputs(init: dict[str, Any] | None, prefix: str = "init_") -> dict[str, str]:
    """A stage's ``init`` as flat declared inputs (``init_adapter``, ``init_base_adapter_1`` …)."""
    out: dict[str, str] = {}
    for key, value in (init or {}).items():
        if isinstance(value, list):
            out.update({f"{prefix}{key.rstrip('s')}_{i}": v for i, v in enumerate(value, 1)})
        else:
            out[f"{prefix}{key}"] = value
    return out


def _sft_extras(plan: Plan, spec: Any) -> dict[str, Any]:
    """Config keys only the SFT template reads: every SFT stage gets them (plain or distilled student)."""
    return {"packing": bool(_hp(plan, spec, "packing")),
            "assistant_only_loss": _hp(plan, spec, "assistant_only_loss", None)}


class _Graph:
    """Accumulates stages in run order and tracks where the current model lives."""

    def __init__(self, plan: Plan, spec: Any, launcher: str, launch_config: str | None) -> None:
        self.plan, self.spec, self.launcher, self.launch_config = plan, spec, launcher, launch_config
        self.stages: list[Stage] = []
        self.init: dict[str, str] | None = None  # where the latest trained weights are (build-relative)
        self.last_trainer: str | None = None
        self.budget = plan.parameter_budget or "lora"
        self.base = _model(plan, "base", spec.base_model)
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

    def common(self) -> dict[str, Any]:
        return {"model": self.base, "precision": _hp(self.plan, self.spec, "precision")}

    def trained(self, sid: str, kind: str, title: str, data: dict[str, Any] | None, *,
                extra_inputs: dict[str, str] | None = None, extra_config: dict[str, Any] | None = None,
                lr_key: str | None = None, epochs_key: str = "epochs", peft: bool = True,
                continues_adapter: bool = False, rows: int | None = None) -> None:
        """Add a training stage that starts from the current weights and becomes the current weights.

        With an adapter budget a stage normally merges the adapter it starts from into the base and
        trains a new one (so the new adapter needs that merged base: ``base_adapters``);
        ``continues_adapter`` stages (online RL) keep training the adapter they start from instead.
        """
        peft_cfg = _peft(self.plan, self.spec, self.budget) if peft else None
        out_dir = f"artifacts/{sid}"
        final = f"{out_dir}/adapter" if peft_cfg else f"{out_dir}/model"
        inputs = dict(extra_inputs or {})
        inputs.update(init_inputs(self.init))
        if rows is None and data is not None:
            fact = next((d for d in self.plan.data if d.role == data.get("role") and d.path == data.get("spec_path")),
                        None)
            rows = fact.rows if fact is not None else None
        config = {
            **self.common(),
            "init": self.init,
            "data": data,
            "peft": peft_cfg,
            "quantization": _quantization(self.plan, self.spec, self.budget) if peft_cfg else None,
            "train": _train_args(self.plan, self.spec, kind, lr_key=lr_key or self.budget, epochs_key=epochs_key,
                                 rows=rows, devices=self.devices),
            **(_sft_extras(self.plan, self.spec) if kind == "sft" else {}),
            "output_dir": out_dir,
            "checkpoint_dir": f"{out_dir}/checkpoints",
            **(extra_config or {}),
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


def build_launch(plan: Plan, spec: Any) -> tuple[Launch, str]:
    """(Launch, launcher) from the spec's hardware; the strategy's choice is recorded in the plan's trace
    by the planner. auto → ddp when the chosen budget fits one device (per the estimate), else fsdp."""
    hw = _unwrap(spec).constraints.hardware
    use_cpu = hw.gpus == 0
    per_node = max(hw.gpus, 1)
    total = per_node * hw.nodes
    if total == 1:
        strategy = "none"
    elif hw.strategy != "auto":
        strategy = hw.strategy
    else:
        row = None
        if plan.estimate is not None:
            row = next((m for m in plan.estimate.memory if m.budget == plan.parameter_budget), None)
        strategy = "ddp" if row is None or row.fits else "fsdp"
    rdv = hw.rendezvous
    launch = Launch(num_machines=hw.nodes, num_processes=total, strategy=strategy, use_cpu=use_cpu,
                    main_process_ip=rdv.host if rdv else None, main_process_port=rdv.port if rdv else None)
    return launch, ("python" if total == 1 else "accelerate")


def build_stages(spec: Any, plan: Plan) -> tuple[list[Stage], Launch]:
    """The stage graph of a training plan (empty for plans that do not train), with resolved configs."""
    spec = _unwrap(spec)
    launch, launcher = build_launch(plan, spec)
    if not plan.trains or plan.method == "none":
        return [], launch
    plan = plan.model_copy(update={"launch": launch})  # device count for per-stage step counts
    from specc.build.launch import config_name

    g = _Graph(plan, spec, launcher, config_name(launch) if launcher == "accelerate" else None)
    golden = _data(_fact(plan, "golden"))
    train, pref, prompts = (_data(_fact(plan, r)) for r in ("train", "preference", "prompts"))
    inputs_of = lambda *ds: {d["role"]: d["spec_path"] for d in ds if d}  # noqa: E731  (spec-relative)
    contract = plan.contract.model_dump(mode="json") if plan.contract else None
    fw = contract["firewall"] if contract else {}
    g.add("firewall", "firewall", "Golden-set firewall and data-lock check", needs=[],
          inputs={**inputs_of(train, pref, prompts), **({"golden": golden["spec_path"]} if golden else {})},
          outputs={"report": "reports/firewall.json"},
          config={"golden": golden, "training": [d for d in (train, pref, prompts) if d], "settings": fw})
    eval_cfg = {"golden": golden, "suites": _suites(plan),
                "metric": contract["metric"] if contract else "exact_match",
                "max_new_tokens": contract["max_new_tokens"] if contract else 64}
    g.add("baseline", "baseline", "Score the base model (target metric and general suites)",
          needs=["firewall"], inputs={}, outputs={"results": "results/baseline.json"},
          config={**g.common(), **eval_cfg})

    method = plan.method
    if method == "distill":
        teacher = _model(plan, "teacher", spec.teacher)
        if (plan.distillation or "sequence") == "logit":
            g.trained("distill_logit", "distill_logit", "Logit-level distillation from the teacher",
                      prompts or train, extra_config={"teacher": teacher})
        else:
            g.add("generate", "generate", "Teacher answers the prompts (sequence-level distillation)",
                  needs=["firewall"], inputs=inputs_of(prompts),
                  outputs={"data": "artifacts/generate/train.jsonl"},
                  config={"model": teacher, "precision": g.common()["precision"], "data": prompts,
                          # the contract's answer length (resolved by the planner), never a fixed 256
                          "max_new_tokens": int(_hp(plan, spec, "max_new_tokens", eval_cfg["max_new_tokens"])),
                          "batch_size": int(_hp(plan, spec, "micro_batch_size")),
                          "seed": int(_hp(plan, spec, "seed")),
                          "output": "artifacts/generate/train.jsonl"})
            generated = {"role": "train", "name": "generated", "path": "artifacts/generate/train.jsonl",
                         "format": "prompt_completion", "sha256": None}
            prompt_fact = _fact(plan, "prompts")
            g.trained("sft", "sft", "SFT the student on the teacher's answers", generated,
                      extra_inputs={"data": "artifacts/generate/train.jsonl"},
                      rows=prompt_fact.rows if prompt_fact is not None else None)
    else:
        if method == "sft" or (method in ("dpo", "rlhf") and train):
            g.trained("sft", "sft", "Supervised fine-tuning", train)
        if method == "dpo":
            g.trained("dpo", "dpo", "Direct preference optimisation", pref, lr_key="preference",
                      extra_config={"beta": float(_hp(plan, spec, "dpo_beta"))})
        elif method == "rlhf":
            policy_init = g.init
            g.trained("reward", "reward", "Reward model on preference pairs", pref, peft=True)
            reward_out = g.stages[-1].outputs
            g.init, g.last_trainer = policy_init, "reward"
            # the policy continues its starting adapter (specc.runtime.rewards.load_policy)
            g.trained("rl", "rl", "Online RL against the reward model", prompts, lr_key="preference",
                      epochs_key="rl_epochs", continues_adapter=True,
                      extra_inputs={f"reward_{k}": v for k, v in reward_out.items() if k != "checkpoints"},
                      extra_config={"algorithm": _hp(plan, spec, "rl_algorithm"),
                                    "reward": {k: v for k, v in reward_out.items() if k != "checkpoints"}})
    final = g.init or {}
    if "adapter" in final:
        g.add("merge", "merge", "Merge the adapter into the base weights", needs=[g.last_trainer or "firewall"],
              inputs={"adapter": final["adapter"], **init_inputs({"base_adapters": final.get("base_adapters", [])},
                                                                  prefix="")},
              outputs={"model": "artifacts/merge/model"},
              config={**g.common(), "init": final, "model_dir": "artifacts/merge/model"})
        final = {"model": "artifacts/merge/model"}
    needs = ["baseline", g.stages[-1].id]
    g.add("eval", "eval", "Score the tuned model; forgetting gate against the baseline", needs=needs,
          inputs={"model": final.get("model", ""), "baseline": "results/baseline.json"},
          outputs={"results": "results/eval.json"},
          config={**g.common(), "init": final, **eval_cfg, "baseline": "results/baseline.json",
                  "contract": contract})
    return g.stages, launch

"""RLHF runtime helpers: load the frozen reward model and the policy the online-RL stage trains.

Why here and not in the emitted ``rl`` script: both loads have a trap that must be handled the same way
every time.

* The reward stage trains a LoRA adapter (plus a new score head) on top of *its* starting weights
  (``init``: usually the SFT result). RL must rebuild exactly those weights before applying the adapter;
  a reward adapter applied to the bare base scores garbage without any error.
* The policy continues the SFT stage's adapter rather than merging it and adding a second one: the RL
  adapter then applies to the base model directly, so the ``merge`` and ``eval`` stages treat it like any
  other adapter. TRL copies the starting adapter as a frozen ``ref`` adapter for the KL penalty; it is
  removed before saving (:func:`drop_reference_adapter`).

Heavy imports happen inside the functions.
"""

from __future__ import annotations

from typing import Any

from specc.runtime.common import build_path, load_model, log, lora_config

__all__ = ["load_reward_start", "load_reward_model", "load_policy", "drop_reference_adapter"]


def load_reward_start(model: dict[str, Any], init: dict[str, str] | None, precision: dict[str, Any], *,
                      quantization: dict[str, Any] | None = None):
    """The reward model's starting weights as ``AutoModelForSequenceClassification(num_labels=1)``.

    When ``init`` is an earlier stage's causal-LM adapter (the SFT result), peft cannot load it onto a
    sequence-classification model (a CAUSAL_LM adapter expects ``generate``). So the adapter is merged into
    the causal-LM base, the merged weights are saved to a temporary directory and loaded back with the
    classification class (and quantised there when the budget is QLoRA); the score head is new.
    """
    if not init or "adapter" not in init:
        return load_model(model, init, precision, quantization=quantization,
                          auto_class="AutoModelForSequenceClassification", num_labels=1)
    import tempfile

    merged = load_model(model, init, precision)
    with tempfile.TemporaryDirectory(prefix="specc-reward-start-") as tmp:
        merged.save_pretrained(tmp)
        del merged
        loaded = load_model({"ref": tmp, "source": "hub", "revision": None}, None, precision,
                            quantization=quantization, auto_class="AutoModelForSequenceClassification",
                            num_labels=1)
        if not quantization:
            # from_pretrained may keep the files memory-mapped; materialise before the directory goes.
            for param in loaded.parameters():
                param.data = param.data.clone()
    log(f"reward model starts from {init['adapter']} merged into the base")
    return loaded


def load_reward_model(cfg: dict[str, Any], precision: dict[str, Any], pad_token_id: int):
    """The reward stage's result as an eval-mode ``AutoModelForSequenceClassification`` (adapter merged).

    ``cfg["reward"]`` is the reward stage's declared outputs: ``{"model": dir}`` (full) or
    ``{"adapter": dir}``, optionally with ``"init"`` (the reward stage's starting weights). Without
    ``init`` the RL stage's own ``init`` is used: specc's stage graph starts the reward model from the
    same weights as the policy.
    """
    reward = cfg["reward"]
    if "model" in reward:
        model = load_model(cfg["model"], {"model": reward["model"]}, precision,
                           auto_class="AutoModelForSequenceClassification", num_labels=1)
    elif "adapter" in reward:
        from peft import PeftModel

        base = load_reward_start(cfg["model"], reward.get("init", cfg.get("init")), precision)
        model = PeftModel.from_pretrained(base, str(build_path(reward["adapter"]))).merge_and_unload()
    else:
        raise ValueError(f"reward outputs {sorted(reward)} name neither a model nor an adapter")
    model.config.pad_token_id = pad_token_id
    # TRL names reward metrics after the model's path; a fixed name keeps W&B charts comparable across runs.
    model.config._name_or_path = "reward_model"
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def load_policy(cfg: dict[str, Any], precision: dict[str, Any]) -> tuple[Any, Any]:
    """(policy model, peft_config for the trainer or None).

    * init is an adapter and the budget is LoRA/QLoRA: the base (quantised for QLoRA, freshly loaded) with
      that adapter loaded trainable; no new adapter.
    * init is a full model or nothing: that model, plus a new LoRA adapter when the budget says so.
    * init is an adapter but the budget is full: the adapter is merged and all weights train.
    """
    init = cfg.get("init") or {}
    if "adapter" in init and cfg.get("peft"):
        from peft import PeftModel

        # adapters the continued one was trained on top of are merged into the base first
        under = {"adapter": init["base_adapters"][-1], "base_adapters": init["base_adapters"][:-1]} \
            if init.get("base_adapters") else None
        base = load_model(cfg["model"], under, precision, quantization=cfg.get("quantization"))
        model = PeftModel.from_pretrained(base, str(build_path(init["adapter"])), is_trainable=True)
        log(f"policy: continuing adapter {init['adapter']}")
        return model, None
    model = load_model(cfg["model"], init or None, precision, quantization=cfg.get("quantization"))
    return model, (lora_config(cfg["peft"]) if cfg.get("peft") else None)


def drop_reference_adapter(model: Any) -> None:
    """Remove TRL's frozen ``ref`` copy of a continued adapter so only the trained one is saved."""
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, dict) and "ref" in peft_config:
        model.delete_adapter("ref")
        if hasattr(model, "set_adapter") and "default" in model.peft_config:
            model.set_adapter("default")

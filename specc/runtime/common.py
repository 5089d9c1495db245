"""Helpers every emitted stage script shares: paths, precision, seeding, resuming, data, models, progress.

Why they live here rather than in each script: the scripts stay short enough to read in one screen (like
TRL's own ``trl/scripts``), while the fiddly parts that must behave the same in every stage — confining
outputs to the build directory, picking a precision the hardware supports, finding the checkpoint to
resume from, turning JSONL rows into the shapes TRL expects — are written and tested once.

Import cost matters: emitted scripts import this module only after ``argparse`` has handled ``--help``,
and the training stack is imported inside the functions that need it.
"""

from __future__ import annotations

import json
import math
import time
import os
import sys
from pathlib import Path
from typing import Any

from specc.runtime import localmodel

__all__ = [
    "enter_build_dir", "build_path", "data_path", "model_ref", "mark_done", "ConfinementError", "pick_precision", "seed", "last_checkpoint", "detect_format",
    "load_rows_dataset", "load_tokenizer", "load_model", "ProgressCallback", "dist_info", "log",
    "write_json", "adapter_chain",
]


class ConfinementError(RuntimeError):
    """A stage tried to write outside its build directory."""


def log(message: str) -> None:
    """One progress line on stderr, prefixed so the runner and people can find specc's own lines."""
    print(f"[specc] {message}", file=sys.stderr, flush=True)


def enter_build_dir(script_file: str) -> Path:
    """chdir to the build directory (the parent of ``stages/``) and return it.

    Every path a stage reads or writes is relative to the build directory (the emitter renders data paths
    relative to it), so a script works the same from run.sh, the runner or a user's shell. The installed
    packages are checked against the lock's floors here, so every stage checks them first.
    """
    build = Path(script_file).resolve().parent.parent
    os.chdir(build)
    from specc.runtime.reviewed import check_packages

    check_packages(build)  # the lock's package floors, before any work
    return build


def build_path(rel: str | os.PathLike[str], *, create_parent: bool = False) -> Path:
    """A path inside the build directory (the cwd); one that escapes it is refused."""
    root = Path.cwd().resolve()
    path = Path(os.path.normpath(root / rel))
    # resolve() follows symlinks too: a reports/ or artifacts/ linked to elsewhere must not leak writes.
    real = path.resolve()
    for candidate in (path, real):
        if candidate != root and root not in candidate.parents:
            raise ConfinementError(f"{os.fspath(rel)!r} resolves outside the build directory {root}")
    if create_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def data_path(entry: dict[str, Any]) -> Path:
    """A data entry's file, relative to the build directory (rendered so by the emitter)."""
    return Path(entry["path"])


MISSING_MODEL_EXIT = 1
"""Exit code of a stage whose local model directory is not there: a failure, not a gate's refusal."""


def model_ref(model: dict[str, Any]) -> str:
    """What ``from_pretrained`` gets: a hub id, or a local directory relative to the build directory.

    A local directory is checked first: a missing one would reach transformers as a string it takes for
    a hub repo id. The stage stops instead with one located line (exit 1), see
    :mod:`specc.runtime.localmodel`.
    """
    if model.get("source") != "local":
        return str(model["ref"])
    path = str(model["path"])
    why = localmodel.problem(Path(path))
    if why is not None:
        directory = Path(os.path.abspath(path))
        role, spec_file = _model_role_and_spec(str(model.get("ref", path)))
        log(localmodel.missing_message(ref=str(model.get("ref", path)), role=role, spec_file=spec_file,
                                       directory=directory, shown=directory.as_posix(), why=why))
        raise SystemExit(MISSING_MODEL_EXIT)
    return path


def _model_role_and_spec(ref: str) -> tuple[str | None, str | None]:
    """(role of the model ``ref`` in the plan, spec file name) from ``plan.json`` in the build directory,
    for the error message only; (None, None) when the plan cannot be read."""
    try:
        doc = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    plan = doc.get("plan") if isinstance(doc, dict) and isinstance(doc.get("plan"), dict) else doc
    if not isinstance(plan, dict):
        return None, None
    roles = [m.get("role") for m in plan.get("models") or [] if isinstance(m, dict) and m.get("ref") == ref]
    spec_file = plan.get("spec_file")
    return (roles[0] if roles else None), (spec_file if isinstance(spec_file, str) else None)


def mark_done(config: dict[str, Any]) -> Path:
    """Write ``<output_dir>/specc_done.json`` last: its presence means every declared output is complete."""
    marker = build_path(config["output_dir"]) / "specc_done.json"
    rank, _ = dist_info()
    if rank == 0:
        write_json(marker, {"stage": config["stage"], "outputs": config.get("outputs", {})})
    return marker


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename): a crashed stage never leaves half a results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def dist_info() -> tuple[int, int]:
    """(rank, world size) as set by accelerate/torchrun; (0, 1) for a plain ``python`` launch."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def pick_precision(preference: str = "auto") -> dict[str, Any]:
    """Trainer precision flags and a load dtype for this machine.

    TRL configs default to ``bf16=True``, which fails on CPUs and pre-Ampere GPUs; so the plan says
    ``auto`` and the script decides here, at run time, from the hardware it actually got. An explicit
    preference the hardware cannot honour falls back with a message rather than crashing mid-run.
    """
    import torch

    cuda = torch.cuda.is_available()
    bf16_ok = cuda and torch.cuda.is_bf16_supported()
    choice = preference
    if preference == "auto":
        choice = "bf16" if bf16_ok else ("fp16" if cuda else "fp32")
    elif preference == "bf16" and not bf16_ok:
        log("bf16 requested but not supported here; using " + ("fp16" if cuda else "fp32"))
        choice = "fp16" if cuda else "fp32"
    elif preference == "fp16" and not cuda:
        log("fp16 requested but no GPU; using fp32")
        choice = "fp32"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[choice]
    return {"name": choice, "bf16": choice == "bf16", "fp16": choice == "fp16", "use_cpu": not cuda,
            "dtype": dtype}


def seed(value: int) -> None:
    """Seed python, numpy and torch (all ranks alike, as the Trainer expects)."""
    from transformers import set_seed

    set_seed(value)


def last_checkpoint(checkpoint_dir: Path) -> str | None:
    """The newest ``checkpoint-N`` under ``checkpoint_dir``, to resume an interrupted stage from."""
    if not checkpoint_dir.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(checkpoint_dir))


# ---------------------------------------------------------------- data

def detect_format(row: dict[str, Any]) -> str:
    """The data format of a row, by its keys (the spec's ``format: auto`` rules, :mod:`specc.data.rowformat`)."""
    from specc.data.rowformat import detect_format as detect

    fmt = detect(row)
    if fmt is None:
        raise ValueError(f"cannot tell the data format from keys {sorted(row)}")
    return fmt


def _as_turn(role: str, value: Any) -> list[dict[str, str]]:
    return value if isinstance(value, list) else [{"role": role, "content": str(value)}]


def _conversational(fmt: str, row: dict[str, Any]) -> dict[str, Any]:
    """Rows in TRL's conversational shapes, so the model's chat template renders prompts exactly as the
    eval suites will render them at test time."""
    if fmt == "prompt_completion":
        return {"prompt": _as_turn("user", row["prompt"]), "completion": _as_turn("assistant", row["completion"])}
    if fmt == "preference":
        return {"prompt": _as_turn("user", row["prompt"]), "chosen": _as_turn("assistant", row["chosen"]),
                "rejected": _as_turn("assistant", row["rejected"])}
    if fmt == "prompts":
        return {"prompt": _as_turn("user", row["prompt"])}
    if fmt == "unpaired_preference":
        return {"prompt": _as_turn("user", row["prompt"]), "completion": _as_turn("assistant", row["completion"]),
                "label": bool(row["label"])}
    return {k: row[k] for k in ("messages",) if k in row} if fmt == "messages" else {"text": row["text"]}


def load_rows_dataset(path: Path | dict[str, Any] | list[dict[str, Any]], fmt: str = "auto", *, chat: bool = True):
    """A ``datasets.Dataset`` with only the columns its format needs.

    ``path`` is a JSONL file or a stage CONFIG data entry: any source the spec can name, loaded by
    :mod:`specc.runtime.datasource` (the loader the firewall read the same rows through) and mapped to
    its canonical format (renamed columns, alpaca, sharegpt). ``chat`` turns prompt/completion, preference
    and prompt rows into conversational rows (needs a tokenizer with a chat template); without it rows pass
    through as plain strings.
    """
    if isinstance(path, list):  # a mixture: its members drawn as the plan says (specc.data.mixture)
        from specc.runtime.datasource import load_mixture

        ds = load_mixture(path)
        fmt = path[0].get("format") or fmt
    elif isinstance(path, dict):
        from specc.runtime.datasource import load_mapped

        ds = load_mapped(path)
        fmt = path.get("format") or fmt
    else:
        from datasets import load_dataset

        ds = load_dataset("json", data_files=str(path), split="train")
    if len(ds) == 0:
        raise ValueError(f"{path}: no rows")
    if fmt == "auto":
        fmt = detect_format(ds[0])
    if not chat:
        keep = {"messages": ["messages"], "prompt_completion": ["prompt", "completion"], "text": ["text"],
                "preference": ["prompt", "chosen", "rejected"], "prompts": ["prompt"],
                "unpaired_preference": ["prompt", "completion", "label"]}[fmt]
        return ds.select_columns(keep)
    return ds.map(lambda row: _conversational(fmt, row), remove_columns=ds.column_names)


# ---------------------------------------------------------------- models

def load_tokenizer(ref: str, revision: str | None = None):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ref, revision=revision)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def supports_assistant_only_loss(tokenizer) -> bool:
    """TRL's assistant-only loss needs ``{% generation %}`` markers in the chat template."""
    template = getattr(tokenizer, "chat_template", None) or ""
    return "generation" in template and "endgeneration" in template


def _quantization_config(quant: dict[str, Any], dtype):
    from transformers import BitsAndBytesConfig

    # The plan names BitsAndBytesConfig's own arguments; only the compute dtype is a run-time choice.
    if quant.get("load_in_4bit"):
        return BitsAndBytesConfig(**quant, bnb_4bit_compute_dtype=dtype)
    return BitsAndBytesConfig(**quant)


def load_model(model: dict[str, Any], init: dict[str, str] | None, precision: dict[str, Any],
               *, quantization: dict[str, Any] | None = None, auto_class: str = "AutoModelForCausalLM",
               **kwargs: Any):
    """The weights a stage starts from: the base model, a full model an earlier stage saved, or the base
    with an earlier stage's adapter merged in (so a new adapter trains on top of it). ``init`` may also
    name ``base_adapters``: adapters merged into the base first, in order, before ``adapter`` (an adapter
    that was trained on the merged result of earlier ones, e.g. DPO after SFT).

    With ``quantization`` the model is loaded in 4/8 bits and prepared for k-bit training; it is always
    loaded fresh (a quantised model that ran an eval-mode forward first trains with zero gradients).
    """
    import transformers

    cls = getattr(transformers, auto_class)
    init = init or {}
    source = str(build_path(init["model"])) if "model" in init else model_ref(model)
    revision = None if "model" in init else model.get("revision")
    load_kwargs: dict[str, Any] = {"dtype": precision["dtype"], **kwargs}
    if quantization and "adapter" not in init:
        load_kwargs["quantization_config"] = _quantization_config(quantization, precision["dtype"])
    loaded = cls.from_pretrained(source, revision=revision, **load_kwargs)
    if "adapter" in init:
        from peft import PeftModel

        for adapter in adapter_chain(init):
            loaded = PeftModel.from_pretrained(loaded, str(build_path(adapter))).merge_and_unload()
        if quantization:
            # A merged model cannot be re-quantised in memory: save it and reload it in k bits.
            import tempfile

            tmp = Path(tempfile.mkdtemp(prefix="specc-merged-"))
            loaded.save_pretrained(tmp)
            load_kwargs["quantization_config"] = _quantization_config(quantization, precision["dtype"])
            loaded = cls.from_pretrained(str(tmp), **load_kwargs)
    if quantization:
        from peft import prepare_model_for_kbit_training

        loaded = prepare_model_for_kbit_training(loaded, use_gradient_checkpointing=False)
    return loaded


def adapter_chain(init: dict[str, Any] | None) -> list[str]:
    """The adapters of an ``init``, in the order they merge: ``base_adapters`` first, then ``adapter``."""
    init = init or {}
    if "adapter" not in init:
        return []
    return [*init.get("base_adapters", []), init["adapter"]]


def lora_config(peft_cfg: dict[str, Any], task_type: str = "CAUSAL_LM"):
    from peft import LoraConfig

    return LoraConfig(r=peft_cfg["r"], lora_alpha=peft_cfg["lora_alpha"], lora_dropout=peft_cfg["lora_dropout"],
                      target_modules=peft_cfg["target_modules"], task_type=task_type)


def trainer_args(train: dict[str, Any], precision: dict[str, Any], *, output_dir: Path, report_to: list[str],
                 run_name: str, max_steps: int | None = None) -> dict[str, Any]:
    """Keyword arguments shared by every TRL config: the plan's ``train`` section plus the run-time
    decisions (precision from the hardware, ``--max-steps`` from the command line)."""
    args = dict(train)
    if max_steps is not None:
        args["max_steps"] = max_steps
    return {
        **args,
        "output_dir": str(output_dir),
        "bf16": precision["bf16"],
        "fp16": precision["fp16"],
        "use_cpu": precision["use_cpu"],
        "save_strategy": "steps",
        "report_to": report_to,
        "run_name": run_name,
        "disable_tqdm": True,
    }


def _progress_callback_class():
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        """One machine-readable line per trainer log on stdout (rank 0), which the runner parses:
        ``@@specc {"event": "progress", "stage": …, "step": n, "max_steps": m, "loss": x}``.
        Plain lines instead of tqdm bars also read well in CI logs."""

        def __init__(self, stage: str) -> None:
            self.stage = stage

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            event = {"event": "progress", "stage": self.stage, "step": state.global_step,
                     "max_steps": state.max_steps}
            for key, value in sorted(logs.items()):
                if isinstance(value, (int, float)) and math.isfinite(value):
                    event[key] = value
            print("@@specc " + json.dumps(event, sort_keys=True), flush=True)

    return ProgressCallback


def _checkpoint_pacer_class():
    from transformers import TrainerCallback

    class CheckpointPacer(TrainerCallback):
        """Skips an intermediate checkpoint when the last one is younger than ``min_interval_s``.

        Saving a checkpoint costs about the same whatever a step costs, so on a fast run ``save_steps``
        alone would spend more time saving than training; pacing by wall time bounds both the overhead and
        the work a kill can lose. The final step always saves (resume and the stage's outputs need it).
        Runs after the trainer's own flow callback, so it can veto the save that callback asked for.
        """

        def __init__(self, min_interval_s: float) -> None:
            self.min_interval_s = min_interval_s
            self.last = time.monotonic()

        def on_train_begin(self, args, state, control, **kwargs):
            self.last = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            final = state.max_steps > 0 and state.global_step >= state.max_steps
            if control.should_save and not final and time.monotonic() - self.last < self.min_interval_s:
                control.should_save = False
            return control

        def on_save(self, args, state, control, **kwargs):
            self.last = time.monotonic()

    return CheckpointPacer


def stage_callbacks(config: dict[str, Any]) -> list[Any]:
    """The callbacks every training stage adds: progress lines for the runner, and checkpoint pacing."""
    callbacks = [__getattr__("ProgressCallback")(config["stage"])]
    interval = float(config.get("checkpoint_min_interval_s", 0) or 0)
    if interval > 0:
        callbacks.append(_checkpoint_pacer_class()(interval))
    return callbacks


def __getattr__(name: str):
    # ``common.ProgressCallback`` is a transformers TrainerCallback; it is built on first use so that
    # importing this module (e.g. for ``--help``) never imports the training stack.
    if name == "ProgressCallback":
        cls = _progress_callback_class()
        globals()["ProgressCallback"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

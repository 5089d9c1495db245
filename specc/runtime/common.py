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
import os
import re
import time
import sys
from pathlib import Path
from typing import Any

from specc.data.rowformat import REQUIRED_KEYS
from specc.runtime import localmodel

__all__ = [
    "enter_build_dir", "build_path", "data_path", "model_ref", "mark_done", "ConfinementError", "pick_precision", "seed", "last_checkpoint", "detect_format",
    "load_rows_dataset", "load_tokenizer", "load_model", "ProgressCallback", "dist_info", "log",
    "write_json", "write_text", "checkpoint_problem", "adapter_chain", "load_eval_dataset", "split_validation", "check_optimizer",
    "mix_replay", "DATA_COUNTS",
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
        from specc.runtime import guard

        if config.get("model_card") and config.get("kind") != "eval":  # the trained/merged model's card, until
            from specc.runtime import outputs  # the eval stage fills in its verdict: "not evaluated yet"

            outputs.write_cards(config, None)
        # the fingerprint the guard verified at stage start: downstream stages compare it with the one the
        # current build expects, so outputs made under another lock are never reused
        write_json(marker, {"stage": config["stage"], "outputs": config.get("outputs", {}), **guard.made_under()})
    return marker


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename): a crashed stage never leaves half a results file."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically: a temp file in the same directory, fsync, ``os.replace``. A kill or a
    full disk leaves the previous file (or none), never a torn one that a later stage would trust."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


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


CHECKPOINT_FINGERPRINT = "specc_fingerprint.json"
"""Written into a stage's checkpoint directory before training: every ``checkpoint-N`` in that directory
was made under this fingerprint (see :func:`claim_checkpoints`)."""

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin", "model.safetensors", "model.safetensors.index.json",
            "pytorch_model.bin", "pytorch_model.bin.index.json")


def checkpoint_problem(path: Path) -> str | None:
    """Why ``checkpoint-N`` cannot be resumed from (None when it can).

    The Trainer writes the weights, then optimizer, scheduler and RNG states, and ``trainer_state.json``
    last, none of them atomically: a kill or a full disk during a save leaves a directory without a
    readable ``trainer_state.json`` (or without weights), and resuming from it fails every time.
    """
    state = path / "trainer_state.json"
    try:
        doc = json.loads(state.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no trainer_state.json (the save was interrupted)"
    except (OSError, ValueError) as exc:
        return f"trainer_state.json is unreadable ({type(exc).__name__}: the save was interrupted)"
    if not isinstance(doc, dict) or not isinstance(doc.get("global_step"), int):
        return "trainer_state.json has no global_step"
    if not any((path / name).is_file() and (path / name).stat().st_size > 0 for name in _WEIGHTS):
        return "no model or adapter weights"
    return None


def last_checkpoint(checkpoint_dir: Path) -> str | None:
    """The newest *complete* ``checkpoint-N`` under ``checkpoint_dir`` made under this stage's current
    fingerprint, to resume an interrupted stage from. Checkpoints made under another fingerprint are removed
    first (:func:`claim_checkpoints`).

    Incomplete ones (see :func:`checkpoint_problem`) are skipped with a message, and rank 0 renames them
    ``incomplete-checkpoint-N`` (kept, not deleted) so that neither a later resume nor the Trainer's
    checkpoint rotation mistakes them for real ones.
    """
    from specc.runtime import guard

    checkpoint_dir = Path(checkpoint_dir)
    made_under = guard.current()
    if made_under is not None:
        claim_checkpoints(checkpoint_dir, made_under)
    if not checkpoint_dir.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in checkpoint_dir.iterdir()
                    if (m := _CHECKPOINT.match(p.name)) and p.is_dir()), reverse=True)
    rank, _ = dist_info()
    for _step, path in found:
        problem = checkpoint_problem(path)
        if problem is None:
            return str(path)
        log(f"skipping {path.name}: incomplete, {problem}; resuming from an earlier checkpoint")
        if rank == 0:
            aside = path.with_name(f"incomplete-{path.name}")
            n = 1
            while aside.exists():
                aside, n = path.with_name(f"incomplete-{n}-{path.name}"), n + 1
            try:
                path.rename(aside)
            except OSError as exc:
                log(f"could not rename {path.name} ({exc}); it stays and is skipped")
    return None


def claim_checkpoints(checkpoint_dir: Path, made_under: dict[str, Any]) -> None:
    """Make ``checkpoint_dir`` hold only checkpoints made under ``made_under``, and record it there.

    Why: resuming is only sound when the checkpoint was trained on the same data, config and upstream
    model. A recompiled build (new training file, new hyper-parameter) or an edited CONFIG would otherwise
    "resume" from the old run's last step and keep the old weights. Checkpoints recorded under another
    fingerprint, or under none (made by an older specc), are removed, with a line saying why; the stage
    then trains from the start. A file lock serialises the ranks of a distributed launch: the first one
    clears and records, the others then find the directory already theirs.
    """
    import fcntl
    import shutil

    from specc.run.fingerprint import explain

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    record = checkpoint_dir / CHECKPOINT_FINGERPRINT
    with open(checkpoint_dir / ".specc-fingerprint.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            try:
                old = json.loads(record.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = None
            old = old if isinstance(old, dict) else None
            new_fp = made_under.get("fingerprint") or {}
            same = (old is not None and (old.get("fingerprint") or {}).get("digest") == new_fp.get("digest")
                    and old.get("config_sha256") == made_under.get("config_sha256"))
            if same:
                return
            stale = sorted(p for p in checkpoint_dir.iterdir() if p.name.startswith("checkpoint-"))
            if stale:
                if old is None:
                    why = "they carry no fingerprint (made by an earlier specc or by hand)"
                elif (old.get("fingerprint") or {}).get("digest") == new_fp.get("digest"):
                    why = "the script's CONFIG was edited since"
                else:
                    why = explain(old.get("fingerprint"), new_fp)
                log(f"not resuming: the {len(stale)} checkpoint(s) in {checkpoint_dir.name}/ "
                    f"({', '.join(p.name for p in stale[:4])}{' …' if len(stale) > 4 else ''}) were made under "
                    f"other inputs ({why}); removing them and training from the start")
                for p in stale:
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    else:
                        p.unlink()
            write_json(record, {key: made_under[key] for key in ("fingerprint", "config_sha256") if key in made_under})
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


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
    if fmt == "unpaired_preference":  # KTO's shape: one answer and whether it is good
        return {"prompt": _as_turn("user", row["prompt"]), "completion": _as_turn("assistant", row["completion"]),
                "label": bool(row["label"])}
    if fmt == "prompts":
        return {"prompt": _as_turn("user", row["prompt"])}
    if fmt == "unpaired_preference":
        return {"prompt": _as_turn("user", row["prompt"]), "completion": _as_turn("assistant", row["completion"]),
                "label": bool(row["label"])}
    return {k: row[k] for k in ("messages",) if k in row} if fmt == "messages" else {"text": row["text"]}


def _validated_rows(path: str, fmt: str, role: str | None, keep: tuple[str, ...] | None, chat: bool):
    """Rows of ``path`` as the stage trains on them, read by specc's own reader and checked by the same rules
    as ``specc check`` and the firewall stage: what passed there loads here, and what would crash a
    trainer (a duplicate key, a lone surrogate, a conversation without an assistant turn) was refused there."""
    from specc.data.jsonl import DataError, iter_jsonl
    from specc.data.rowformat import row_problem

    for line, row in iter_jsonl(path):
        problem = row_problem(row, fmt, role)
        if problem:
            raise DataError(path, line, problem)
        if keep is not None:
            yield {k: row[k] for k in keep}
        else:
            yield _conversational(fmt, row) if chat else row


def load_rows_dataset(path: Path | dict[str, Any] | list[dict[str, Any]], fmt: str = "auto", *, chat: bool = True,
                      role: str | None = None):
    """A ``datasets.Dataset`` with only the columns its format needs.

    ``path`` is a JSONL file or a stage CONFIG data entry (or a mixture's entries): any source the spec can name.
    A plain local JSONL source is read by specc's own validated reader (below); every other source (other file
    kinds, Hub datasets, renamed columns, alpaca, sharegpt, mixtures) by :mod:`specc.runtime.datasource`, the
    loader the firewall read the same rows through, mapped to its canonical format.

    ``chat`` turns prompt/completion, preference and prompt rows into conversational rows (needs a
    tokenizer with a chat template); without it rows pass through as plain strings. ``role`` is the data's
    spec role ("train" for SFT): it adds that role's row rules (a training conversation needs an
    assistant turn). Rows are read with
    :func:`specc.data.jsonl.iter_jsonl` (not Arrow's JSON reader), so training reads exactly what the checks
    validated; the dataset cache is keyed by the file's sha256, never reused for changed content.
    """
    from datasets import Dataset

    from specc.data.jsonl import DataError, iter_jsonl
    from specc.run.manifest import file_sha256

    if isinstance(path, (dict, list)):
        entry = path if isinstance(path, dict) else None
        if entry is not None and _plain_jsonl_entry(entry):
            fmt = entry.get("format") or fmt
            path = Path(entry["path"])
        else:
            return _load_mapped_rows(path, fmt, chat)

    if fmt == "auto":
        first = next(iter(iter_jsonl(path)), None)
        if first is None:
            raise ValueError(f"{path}: no rows")
        fmt = detect_format(first[1])
    # a tuple, not a list: datasets splits list-valued gen_kwargs into shards (one column per shard)
    keep = None if chat else tuple(REQUIRED_KEYS[fmt])
    fingerprint = f"specc-rows-{file_sha256(Path(path))[:32]}-{fmt}-{role}-{int(chat)}"
    try:
        return Dataset.from_generator(_validated_rows, fingerprint=fingerprint,
                                      gen_kwargs={"path": str(path), "fmt": fmt, "role": role, "keep": keep,
                                                  "chat": chat})
    except DataError as exc:
        log(f"REFUSED: {exc}")
        raise SystemExit(1) from None
    except Exception as exc:  # datasets wraps generator errors in its own DatasetGenerationError
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, DataError):
            log(f"REFUSED: {cause}")
            raise SystemExit(1) from None
        raise


def _plain_jsonl_entry(entry: dict[str, Any]) -> bool:
    """A CONFIG data entry that is one local JSONL file read as it is (no mapping): the validated reader's case."""
    from specc.data.sources import Source

    source = Source.from_entry(entry)
    return bool(source.streams_without_datasets and not source.columns and not source.roles
                and source.format not in ("alpaca", "sharegpt") and source.split is None)


def _load_mapped_rows(entry: dict[str, Any] | list[dict[str, Any]], fmt: str, chat: bool):
    """Any other source, through the datasets loader and the source's mapping; a bad row (validated in the
    loader) stops the stage with its location, before anything trains."""
    from specc.data.jsonl import DataError

    try:
        return _mapped_rows(entry, fmt, chat)
    except DataError as exc:
        log(f"REFUSED: {exc}")
        raise SystemExit(1) from None


def _mapped_rows(entry: dict[str, Any] | list[dict[str, Any]], fmt: str, chat: bool):
    if isinstance(entry, list):  # a mixture: its members drawn as the plan says (specc.data.mixture)
        from specc.runtime.datasource import load_mixture

        ds = load_mixture(entry)
        formats = {e.get("format") or fmt for e in entry}
        fmt = formats.pop() if len(formats) == 1 else "messages"  # chat and prompt/completion: joined as chat
    else:
        from specc.runtime.datasource import load_mapped

        ds = load_mapped(entry)
        fmt = entry.get("format") or fmt
    if len(ds) == 0:
        raise ValueError(f"{entry}: no rows")
    if fmt == "auto":
        fmt = detect_format(ds[0])
    if not chat:
        return ds.select_columns(list(REQUIRED_KEYS[fmt]))
    return ds.map(lambda row: _conversational(fmt, row), remove_columns=ds.column_names)


# ---------------------------------------------------------------- models

def load_tokenizer(ref: str, revision: str | None = None, chat_template: dict[str, Any] | None = None,
                   special_tokens: dict[str, Any] | None = None):
    """The tokenizer, with the plan's chat template when it names one (``CONFIG["chat_template"]``) and the
    plan's special tokens (``CONFIG["model"]["special_tokens"]``, tokenizer.add_special_tokens' keys; the
    tokenizer's own extra special tokens are kept)."""
    from transformers import AutoTokenizer

    from specc.runtime import chat_templates

    tok = AutoTokenizer.from_pretrained(ref, revision=revision)
    if special_tokens:  # before the template: it checks that its turn markers are tokens
        added = tok.add_special_tokens(dict(special_tokens), replace_extra_special_tokens=False)
        if added:
            log(f"special tokens: {added} new token(s) added, vocabulary {len(tok)}")
    tok = chat_templates.apply(tok, chat_template)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def supports_assistant_only_loss(tokenizer) -> bool:
    """Whether assistant-only loss can be applied: generation markers in the chat template, or a training
    variant TRL swaps in (:mod:`specc.runtime.chat_templates`)."""
    from specc.runtime.chat_templates import training_template

    return training_template(tokenizer) is not None


def load_eval_dataset(config: dict[str, Any], *, chat: bool = True):
    """The stage's validation split (``config["validation"]``, locked and firewalled like its training
    data) in the shapes TRL expects, or None when the stage evaluates nothing. Any source kind the spec can
    name; a held-out share of the training rows is split by :func:`split_validation` instead."""
    entry = config.get("validation")
    if not entry:
        return None
    if (entry.get("source") or {}).get("kind") == "held_out":
        raise ValueError("a held-out validation split is cut from the training rows: use common.split_validation")
    return load_rows_dataset(entry, entry.get("format", "auto"), chat=chat)


def split_validation(train_dataset, config: dict[str, Any], *, chat: bool = True):
    """(train, validation) for the stage: a held-out fraction is a seeded split of this stage's own training
    rows (data.train for SFT, data.preference for DPO/ORPO/KTO/reward; disjoint by construction,
    :func:`specc.runtime.datasource.hold_out`); any other validation source is loaded as its own; no
    validation: (train, None). Every training stage calls it, so each evaluates the same way."""
    entry = config.get("validation")
    if entry and (entry.get("source") or {}).get("kind") == "held_out":
        from specc.runtime.datasource import hold_out

        return hold_out(train_dataset, entry)
    return train_dataset, load_eval_dataset(config, chat=chat)


DATA_COUNTS = "specc_data.json"
"""Written next to a training stage's outputs: the rows it trained and evaluated on (task, replay, validation),
so a reviewer (and a test) sees what the stage really read, not only what the plan estimated."""


def mix_replay(train_dataset, config: dict[str, Any], *, chat: bool = True, eval_dataset=None):
    """The stage's training rows with ``config["replay"]`` mixed in (``data.replay``), else as they are.

    The replay source is read by the same loader as the training data (any source kind, its mapping, the
    row checks of the ``train`` role), then :func:`specc.data.mixture.replay_rows` of it — ``ratio`` of the
    final mix, counted on the task rows left after a held-out validation split — are drawn from a seeded
    shuffle (repeated when the source has fewer), concatenated and shuffled with the seed: same seed and data,
    same rows in the same order. Records the counts in ``<output_dir>/specc_data.json``."""
    entry = config.get("replay")
    counts: dict[str, Any] = {"task_rows": len(train_dataset), "replay_rows": 0,
                              "validation_rows": len(eval_dataset) if eval_dataset is not None else 0}
    mixed = train_dataset
    if entry:
        from datasets import concatenate_datasets

        from specc.data.mixture import replay_rows

        mix = entry.get("mix") or {}
        seed = int(mix.get("seed", 0))
        replay = load_rows_dataset(entry, entry.get("format") or "auto", chat=chat, role="train")
        count = replay_rows(len(train_dataset), float(mix["ratio"]))
        drawn = replay.shuffle(seed=seed).select([i % len(replay) for i in range(count)])
        try:
            drawn = drawn.cast(train_dataset.features)
        except (ValueError, TypeError) as exc:
            log(f"REFUSED: replay rows of {entry.get('spec_path')} do not have the training rows' columns "
                f"({sorted(train_dataset.column_names)}): {' '.join(str(exc).split())[:300]}")
            raise SystemExit(1) from None
        mixed = concatenate_datasets([train_dataset, drawn]).shuffle(seed=seed).flatten_indices()
        counts.update(replay_rows=count, replay_source=entry.get("spec_path"), replay_source_rows=len(replay),
                      ratio=float(mix["ratio"]))
        log(f"replay: {count} rows of {entry.get('spec_path')} mixed into {len(train_dataset)} task rows "
            f"({count / max(1, len(mixed)):.1%} of {len(mixed)})")
    counts["train_rows"] = len(mixed)
    if dist_info()[0] == 0:
        write_json(build_path(config["output_dir"]) / DATA_COUNTS, counts)
    return mixed


def _quantization_config(quant: dict[str, Any], dtype):
    from transformers import BitsAndBytesConfig

    from specc.runtime.placement import quant_storage_for

    # The plan names BitsAndBytesConfig's own arguments; only the compute dtype (and, sharded, the storage dtype
    # that must equal it) is a run-time choice.
    if quant.get("load_in_4bit"):
        return BitsAndBytesConfig(**quant_storage_for(quant, dtype), bnb_4bit_compute_dtype=dtype)
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
    if model.get("attn_implementation"):  # method.attn_implementation, checked before any weights load
        from specc.runtime.kernels import check_attention

        check_attention(model["attn_implementation"])
        load_kwargs["attn_implementation"] = model["attn_implementation"]
    if quantization:
        from specc.runtime.placement import quantized_device_map

        device_map = quantized_device_map()  # each rank loads onto its own GPU, not all onto GPU 0
        if device_map is not None:
            load_kwargs.setdefault("device_map", device_map)
    if quantization and "adapter" not in init:
        load_kwargs["quantization_config"] = _quantization_config(quantization, precision["dtype"])
    loaded = cls.from_pretrained(source, revision=revision, **load_kwargs)
    if model.get("special_tokens"):  # before adapters: an adapter trained with new tokens saved their rows
        _fit_special_tokens(loaded, model)
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


def _fit_special_tokens(loaded: Any, model: dict[str, Any]) -> None:
    """Resize the embedding to the tokenizer with the plan's special tokens, and point the model's pad/eos/bos
    ids at them (transformers' mean-resizing initialises new rows; training then learns them)."""
    tok = load_tokenizer(model_ref(model), model.get("revision"), None, model["special_tokens"])
    if loaded.get_input_embeddings().weight.shape[0] < len(tok):  # a padded vocabulary is never shrunk
        loaded.resize_token_embeddings(len(tok))
    for name in ("pad_token_id", "eos_token_id", "bos_token_id"):
        value = getattr(tok, name, None)
        if value is not None and name[:-3] in model["special_tokens"]:
            setattr(loaded.config, name, value)
            if getattr(loaded, "generation_config", None) is not None:
                setattr(loaded.generation_config, name, value)


def adapter_chain(init: dict[str, Any] | None) -> list[str]:
    """The adapters of an ``init``, in the order they merge: ``base_adapters`` first, then ``adapter``."""
    init = init or {}
    if "adapter" not in init:
        return []
    return [*init.get("base_adapters", []), init["adapter"]]


def lora_config(peft_cfg: dict[str, Any], task_type: str = "CAUSAL_LM"):
    """peft's LoraConfig from CONFIG["peft"], which uses LoraConfig's own argument names (r, lora_alpha,
    use_dora, use_rslora, modules_to_save ...)."""
    from peft import LoraConfig

    from specc.runtime.kernels import check_lora_features

    return LoraConfig(**check_lora_features(peft_cfg), task_type=task_type)


def trainer_args(train: dict[str, Any], precision: dict[str, Any], *, output_dir: Path, report_to: list[str],
                 run_name: str, max_steps: int | None = None) -> dict[str, Any]:
    """Keyword arguments shared by every TRL config: the plan's ``train`` section plus the run-time
    decisions (precision from the hardware, ``--max-steps`` from the command line)."""
    args = dict(train)
    if max_steps is not None:
        args["max_steps"] = max_steps
    check_optimizer(args.get("optim"))
    from specc.runtime.kernels import check_liger

    check_liger(args)
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


def check_optimizer(name: str | None) -> None:
    """An optimizer the installed stack cannot build is one clear line (exit 1) at the stage's start, not
    a traceback from inside the trainer: the 8-bit and paged ones need bitsandbytes."""
    from specc.spec.trainer_names import BITSANDBYTES_OPTIMIZERS

    if name in BITSANDBYTES_OPTIMIZERS:
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            log(f"method.optim {name} needs bitsandbytes, which is not installed: pip install bitsandbytes, "
                "or choose adamw_torch_fused")
            raise SystemExit(1)


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
    early = config.get("early_stopping")
    if early:
        # stops after `patience` evaluations without improving metric_for_best_model (load_best_model_at_end
        # and the metric are in CONFIG["train"], as the callback requires)
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(early_stopping_patience=int(early["patience"])))
    return callbacks


def __getattr__(name: str):
    # ``common.ProgressCallback`` is a transformers TrainerCallback; it is built on first use so that
    # importing this module (e.g. for ``--help``) never imports the training stack.
    if name == "ProgressCallback":
        cls = _progress_callback_class()
        globals()["ProgressCallback"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_trainer_args(config: dict[str, Any]) -> None:
    """``method.trainer_args`` against the *installed* config class, at the stage's start: an argument the
    installed TRL/transformers does not have is one clear line with a did-you-mean (exit 1), not a TypeError
    from inside the config. The plan checked the same names against specc's committed list."""
    escape = config.get("trainer_args")
    if not escape:
        return
    import dataclasses
    import importlib

    from specc.spec.suggest import did_you_mean

    module, name = escape["config_class"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    have = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in escape["arguments"]:
        if key not in have:
            guess = did_you_mean(key, sorted(have))
            log(f"method.trainer_args.{key}: the installed {escape['config_class']} has no argument {key}"
                + (f" (did you mean {guess!r}?)" if guess else "") + "; drop it or install the version that has it")
            raise SystemExit(1)

"""The one data loader of emitted scripts: every source a spec can name, read through ``datasets``.

Why one module: the firewall stage, the trainers, the teacher's prompts and ``specc check`` must read the
same rows, in the same order, with the same column mapping; any second reader could disagree with the
first and let golden rows through. Sources: JSONL/JSON/CSV/Parquet files, a directory of them, a
``datasets.save_to_disk`` folder, and Hub datasets (``load_dataset(id, name=subset, split=..., revision=...)``).

Hub sources and pinning: the plan resolves a Hub revision to a commit once (:func:`resolve_revision`) and
the lock records it; stages load exactly that commit. The firewall stage also records a fingerprint of the
rows it read (:func:`fingerprint`), and later stages refuse rows that differ (:mod:`specc.runtime.guard`).

``SPECC_HUB_MIRROR`` (a directory) maps a Hub id ``org/name`` to the folder ``$SPECC_HUB_MIRROR/org/name``:
a git clone of the dataset repository laid out as on the Hub (dataset card with ``configs``, data files).
Air-gapped clusters use it, and so do the tests; the loading code is the same as for the Hub, and the
revision is resolved with git in the clone instead of the Hub's API.

``datasets`` is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from specc.data.jsonl import DataError
from specc.data.sources import DATA_EXTRA, Source

__all__ = ["MIRROR_ENV", "card_text", "fingerprint", "hold_out", "iter_raw", "load_mapped", "load_mixture", "load_raw", "mirror_folder", "resolve_revision",
           "validate_rows"]

MIRROR_ENV = "SPECC_HUB_MIRROR"

_SHA_LEN = 40


def _datasets(source: Source):
    try:
        import datasets
    except ImportError:
        raise DataError(source.name, 0, f"reading a {source.kind} source needs the data stack (datasets): "
                                        f"{DATA_EXTRA}") from None
    # every failure of datasets becomes one located DataError (load_raw): its own log line of the same error
    # (e.g. "Failed to read file ... ParserError") would only repeat it, unlocated
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    datasets.disable_progress_bars()
    return datasets


def mirror_folder(hub: str) -> Path | None:
    """The local clone a Hub id maps to under ``SPECC_HUB_MIRROR``; None when no mirror is set."""
    root = os.environ.get(MIRROR_ENV)
    return Path(root) / hub if root else None


def resolve_revision(source: Source, revision: str | None = None) -> str:
    """The commit sha ``revision`` (default: the main branch) of a Hub source is at, now.

    Raises :class:`DataError` when it cannot be resolved (unknown revision, no network, no such dataset)."""
    hub = source.hub or ""
    folder = mirror_folder(hub)
    if folder is not None:
        if not folder.is_dir():
            raise DataError(source.name, 0, f"{hub} is not in the Hub mirror {os.environ[MIRROR_ENV]} "
                                            f"(looked for {folder})")
        wanted = revision or "HEAD"
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}"],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DataError(source.name, 0, f"revision {wanted!r} cannot be resolved in the mirror clone {folder}")
        return done.stdout.strip()
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise DataError(source.name, 0, f"a Hub source needs huggingface_hub: {DATA_EXTRA}") from None
    try:
        info = HfApi().dataset_info(hub, revision=revision)
    except Exception as exc:  # offline, unknown repo or revision: the library's own message says which
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(source.name, 0, f"revision {revision or 'main'!r} of {hub} cannot be resolved: {why} "
                                        "(offline? pin a commit sha that is in the local datasets cache)") from None
    return str(info.sha)


def card_text(source: Source, commit: str) -> str | None:
    """The dataset card (README.md) of a Hub source at ``commit``; None when the repository has none.

    Read as the revision is resolved (git in a mirror clone; the Hub's API otherwise), never through
    ``datasets``, so planning a Hub source costs no data-stack import. Raises :class:`DataError` when the
    card cannot be fetched (offline)."""
    hub = source.hub or ""
    folder = mirror_folder(hub)
    if folder is not None:
        done = subprocess.run(["git", "-C", str(folder), "show", f"{commit}:README.md"],
                              capture_output=True, text=True, check=False)
        return done.stdout if done.returncode == 0 else None
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError
    except ImportError:
        raise DataError(source.name, 0, f"a Hub source needs huggingface_hub: {DATA_EXTRA}") from None
    try:
        path = hf_hub_download(hub, "README.md", repo_type="dataset", revision=commit)
    except EntryNotFoundError:
        return None
    except Exception as exc:  # offline: the library's own message says why
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(source.name, 0, f"the dataset card of {hub} at {commit[:12]} cannot be read: {why}") from None
    return Path(path).read_text(encoding="utf-8", errors="replace")


def _check_mirror_checkout(source: Source, folder: Path) -> None:
    """A mirror clone serves its checked-out files: they must be the locked commit."""
    if source.revision and len(source.revision) == _SHA_LEN:
        head = resolve_revision(Source(name=source.name, kind="hub", hub=source.hub))
        if head != source.revision:
            raise DataError(source.name, 0, f"the mirror clone {folder} has {head[:12]} checked out, not the "
                                            f"locked revision {source.revision[:12]}; check it out, or re-plan")


def load_raw(source: Source):
    """The source as a ``datasets.Dataset``, columns as stored (mapping is the caller's: see :func:`iter_raw`).

    Every failure of ``datasets`` (missing split, unknown subset, a CSV with a ragged row, unreadable files)
    becomes one :class:`DataError` naming the source."""
    ds_lib = _datasets(source)
    split = source.split or "train"
    try:
        if source.kind == "hub":
            folder = mirror_folder(source.hub or "")
            if folder is not None:
                if not folder.is_dir():
                    raise DataError(source.name, 0, f"{source.hub} is not in the Hub mirror (looked for {folder})")
                _check_mirror_checkout(source, folder)
                ds = ds_lib.load_dataset(str(folder), name=source.subset, split=split, data_files=source.data_files,
                                         cache_dir=_content_cache(ds_lib, folder))
            else:
                ds = ds_lib.load_dataset(source.hub, name=source.subset, split=split, data_files=source.data_files,
                                         revision=source.revision)
        elif source.kind == "saved":
            ds = _saved_split(ds_lib, source, ds_lib.load_from_disk(os.path.abspath(source.path or "")), split)
        elif source.kind == "directory":
            folder = Path(os.path.abspath(source.path or ""))
            ds = ds_lib.load_dataset(str(folder), split=split, cache_dir=_content_cache(ds_lib, folder))
        else:
            builder = {"jsonl": "json", "json": "json", "csv": "csv", "parquet": "parquet"}[source.kind]
            # CSV cells are text: an answer "1" must stay the string "1", an empty cell "" (not NaN)
            extra = _csv_as_text(ds_lib, source) if builder == "csv" else {}
            ds = ds_lib.load_dataset(builder, data_files=os.path.abspath(source.path or ""), split=split, **extra)
    except DataError:
        raise
    except Exception as exc:  # datasets/pyarrow say what is wrong; we say where
        raise _located(source, exc) from None
    if len(ds) == 0:
        raise DataError(source.name, 0, f"no rows (split {split!r})")
    if source.kind == "csv":
        ds = _typed_csv_labels(source, ds)
    return ds


def _saved_split(ds_lib, source: Source, loaded, split: str):
    """The rows of ``split`` (with datasets' slicing, ``train[:20%]``, ``train[10:]+test``) of a
    ``save_to_disk`` folder: ``load_from_disk`` takes no split, so the slice is applied here with
    datasets' own parser (:class:`datasets.ReadInstruction`), exactly as ``load_dataset`` would apply it.
    A folder holding one Dataset (no splits) is that split, whatever its name."""
    names = [part.split("[", 1)[0].strip() for part in split.split("+")]
    if isinstance(loaded, ds_lib.DatasetDict):
        missing = [n for n in names if n not in loaded]
        if missing:
            raise DataError(source.name, 0, f"no split {missing[0]!r}; the folder has {', '.join(loaded)}")
        tables = {n: loaded[n] for n in names}
    else:
        tables = {n: loaded for n in names}
    if "[" not in split and len(names) == 1:
        return tables[names[0]]
    try:
        parts = ds_lib.ReadInstruction.from_spec(split).to_absolute({n: len(t) for n, t in tables.items()})
    except (ValueError, AssertionError) as exc:
        raise DataError(source.name, 0, f"split {split!r}: {_why(exc)}") from None
    picked = [tables[p.splitname].select(range(p.from_, p.to)) for p in parts]
    return picked[0] if len(picked) == 1 else ds_lib.concatenate_datasets(picked)


_LABELS = {"true": True, "1": True, "false": False, "0": False}
"""CSV spellings of an unpaired-preference ``label`` (case and surrounding spaces ignored)."""


def _typed_csv_labels(source: Source, ds):
    """CSV cells are text, so a KTO ``label`` arrives as "true"/"false"/"1"/"0": typed to booleans here, once,
    for every reader (firewall, check, trainer). Any other value is an error at its row (1-based, as
    :func:`iter_raw` numbers rows).
    Applies when the source is unpaired preference (declared, or detected from its renamed columns)."""
    mapper = source.mapper()
    column = mapper.columns.get("label", "label")
    if column not in ds.column_names:
        return ds
    first = mapper.rename({name: "" for name in ds.column_names})
    if mapper.fmt != "unpaired_preference" and not (mapper.fmt == "auto" and {"prompt", "completion"} <= set(first)):
        return ds
    values = ds[column]
    typed = []
    for number, value in enumerate(values, 1):
        label = _LABELS.get(str(value).strip().lower()) if value is not None else None
        if label is None:
            raise DataError(source.name, number, f"`{column}` must be true/false (or 1/0) in an unpaired-preference "
                                                 f"CSV, not {value!r} (row {number}: line {number + 1} of the file)")
        typed.append(label)
    return ds.remove_columns(column).add_column(column, typed)


def _content_cache(ds_lib, folder: Path) -> str:
    """A datasets cache directory keyed by the folder's content.

    datasets keys its cache of a folder whose dataset card lists ``configs`` without the files' paths or
    times: a folder whose files changed (or another folder with the same name) is served the rows cached
    for the first one. Keying by content makes the rows always those of the files as they are now."""
    from specc.data.sources import local_sha256

    return os.path.join(ds_lib.config.HF_DATASETS_CACHE, "specc-by-content", local_sha256(folder)[:24])


def _csv_as_text(ds_lib, source: Source) -> dict[str, Any]:
    """load_dataset arguments that keep every CSV column text (the header names them)."""
    import csv

    with open(source.path or "", encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    if not header:
        raise DataError(source.name, 1, "no header row: a CSV source names its columns in its first line")
    features = ds_lib.Features({name: ds_lib.Value("string") for name in header})
    return {"features": features, "keep_default_na": False}


_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _located(source: Source, exc: BaseException) -> DataError:
    """datasets' failure as a DataError; a ragged CSV row (pandas names its line) is located at that line."""
    why = _why(exc)
    ragged = _RAGGED.search(why) if source.kind == "csv" else None
    if ragged is not None:
        expected, line, saw = ragged.groups()
        return DataError(source.name, int(line), f"a ragged row: {saw} fields where the header has {expected} "
                                                 f"(Expected {expected} fields in line {line}, saw {saw})")
    return DataError(source.name, 0, why)


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" ({' '.join(str(cause).split())[:300]})"
    return text[:600]


def iter_raw(source: Source, *, batch_size: int = 1000) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row number, row)`` for every row of the source (1-based), in the order the trainer sees them;
    memory is one batch (the dataset itself is memory-mapped Arrow)."""
    ds = load_raw(source)
    number = 0
    for batch in ds.iter(batch_size=batch_size):
        keys = list(batch)
        for values in zip(*(batch[k] for k in keys)):
            number += 1
            yield number, dict(zip(keys, values))


def fingerprint(source: Source) -> tuple[int, str]:
    """``(rows, sha256)`` of the rows a source yields: each row as canonical JSON (sorted keys), in order.

    The lock of a Hub source: the same commit can still serve other rows (a changed split slice, a
    different ``datasets`` version's decoding), and the firewall's verdict holds only for the rows it read."""
    digest = hashlib.sha256()
    rows = 0
    for _number, row in iter_raw(source):
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8") + b"\n")
        rows += 1
    return rows, digest.hexdigest()


def validate_rows(source: Source, ds, role: str | None) -> str:
    """Every row of a loaded source mapped and checked by the rules of ``specc check`` and the firewall
    (:func:`specc.data.rowformat.row_problem`); returns the canonical format. The first bad row is a
    :class:`DataError` naming the source, the row (1-based, in load order) and the field, so a stage stops
    before anything trains, whatever the source kind. Memory: one batch."""
    from specc.data.rowformat import ROLE_FORMATS, detect_format, row_problem

    mapper = source.mapper()
    problem = mapper.columns_problem(ds.column_names)
    if problem is not None:
        raise DataError(source.name, 1, problem)
    fmt: str | None = None
    number = 0
    for batch in ds.iter(batch_size=1000):
        keys = list(batch)
        for values in zip(*(batch[k] for k in keys)):
            number += 1
            row = dict(zip(keys, values))
            if fmt is None:
                mapper.decide(row)
            try:
                mapped = mapper(row)
            except ValueError as exc:
                raise DataError(source.name, number, str(exc)) from None
            if fmt is None:
                fmt = mapper.canonical if mapper.fmt != "auto" else detect_format(mapped)
                if fmt is None:
                    raise DataError(source.name, number, f"row keys ({', '.join(sorted(mapped)) or 'none'}) match "
                                                         "no known format; declare `format:` or map `columns:`")
                allowed = ROLE_FORMATS.get(role or "", ())
                if allowed and fmt not in allowed:
                    raise DataError(source.name, number, f"a {role} source must be {' or '.join(allowed)}, not {fmt}")
            problem = row_problem(mapped, fmt, role)
            if problem is not None:
                raise DataError(source.name, number, problem)
    return fmt or "auto"


def load_mapped(entry: dict[str, Any]):
    """A stage CONFIG data entry as a ``datasets.Dataset`` of canonical rows (the mapping of
    :class:`specc.data.mapping.Mapper`: renamed columns, alpaca, sharegpt), ready for a trainer. Every row
    is validated first (:func:`validate_rows`): a bad row is a located error, never a trainer's crash."""
    source = Source.from_entry(entry)
    ds = load_raw(source)
    validate_rows(source, ds, entry.get("role"))
    mapper = source.mapper()
    if not mapper.columns and mapper.fmt not in ("alpaca", "sharegpt", "auto"):
        return ds
    mapper.decide(ds[0])
    if not mapper.columns and mapper.fmt not in ("alpaca", "sharegpt"):
        return ds
    return ds.map(mapper, remove_columns=ds.column_names)


def load_mixture(entries: list[dict[str, Any]]):
    """The rows of a mixture (stage CONFIG entries of its members, each with ``mix``), drawn as
    :func:`specc.data.mixture.member_counts` says (a mix of chat and prompt/completion members is all chat:
    prompt/completion rows become one-turn conversations): each member shuffled with the seed, cut to its count
    (repeated when upsampled), then all members concatenated and shuffled with the seed. Same seed and
    data: same rows in the same order."""
    from specc.data.mixture import MixtureError, member_counts
    from specc.data.rowformat import REQUIRED_KEYS

    ds_lib = _datasets(Source.from_entry(entries[0]))
    chat = len({entry.get("format") or "auto" for entry in entries}) > 1  # messages + prompt/completion members
    loaded = []
    for entry in entries:
        ds = load_mapped(entry)
        fmt = entry.get("format") or "auto"
        if fmt in REQUIRED_KEYS:
            ds = ds.select_columns(list(REQUIRED_KEYS[fmt]))
        if chat and fmt == "prompt_completion":  # joins the chat members as one-turn conversations
            ds = ds.map(_as_chat, remove_columns=ds.column_names)
        loaded.append(ds)
    mixes = [entry.get("mix") or {} for entry in entries]
    seed = int(mixes[0].get("seed", 0))
    try:
        counts = member_counts([len(ds) for ds in loaded], [m.get("weight") for m in mixes],
                               [m.get("max_rows") for m in mixes], [m.get("fraction") for m in mixes])
    except MixtureError as exc:
        raise DataError(entries[0].get("role", "mixture"), 0, str(exc)) from None
    parts = []
    for ds, mix, count in zip(loaded, mixes, counts):
        from specc.data.mixture import kept_rows

        kept = kept_rows(len(ds), mix.get("max_rows"), mix.get("fraction"))
        shuffled = ds.shuffle(seed=seed)
        parts.append(shuffled.select([i % kept for i in range(count)]))
    features = parts[0].features
    parts = [parts[0], *(p.cast(features) for p in parts[1:])]
    return ds_lib.concatenate_datasets(parts).shuffle(seed=seed).flatten_indices()


def _as_chat(row: dict[str, Any]) -> dict[str, Any]:
    """A prompt/completion row as the one-turn conversation it is (for a mixture with chat members)."""
    return {"messages": [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["completion"]}]}


def hold_out(dataset, validation: dict[str, Any] | None):
    """(train, validation) datasets: ``validation`` is the stage's ``validation`` entry. A held-out fraction
    (``{"source": {"kind": "held_out", "fraction", "seed"}}``) is a seeded split of ``dataset`` (same seed and
    rows: same split, disjoint by construction); any other entry is loaded as its own source."""
    if not validation:
        return dataset, None
    src = validation.get("source") or {}
    if src.get("kind") == "held_out":
        parts = dataset.train_test_split(test_size=float(src["fraction"]), seed=int(src.get("seed", 0)), shuffle=True)
        return parts["train"], parts["test"]
    return dataset, load_mapped(validation)

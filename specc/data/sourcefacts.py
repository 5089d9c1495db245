"""Plan-time facts of a data source that is not a plain JSONL file: a JSON/CSV/Parquet file or folder,
a ``save_to_disk`` folder, a Hub dataset, or any source with a column mapping (alpaca, sharegpt, renames).

Why apart from :mod:`specc.data.facts`: plain JSONL stays on the light, standard-library path (the light
commands never import the training stack); every other source is read through the runtime loader
(:mod:`specc.runtime.datasource`, which needs ``datasets``), exactly as the stages will read it. When the
data stack is missing the plan says which extra to install instead of guessing.

For a Hub source the plan resolves the revision to a commit once; it is recorded in ``DataFact.source``
(and so in the lock), and a revision that is not a commit sha is a warning naming the resolved commit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from specc.data.facts import DataProblem, check_format
from specc.data.jsonl import DataError, count_rows_and_sha256
from specc.data.mapping import Mapper
from specc.data.sources import Source, iter_source_rows, local_kind, local_sha256, source_bytes
from specc.plan.model import DataFact

__all__ = ["is_plain_jsonl", "read_source_fact", "same_source", "source_config"]

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def is_plain_jsonl(entry: Any) -> bool:
    """A spec data entry that the original, light JSONL path reads as it is."""
    return (entry.path is not None and Path(entry.path).suffix.lower() in (".jsonl", ".ndjson")
            and not entry.columns and not entry.roles and entry.split is None
            and entry.format not in ("alpaca", "sharegpt"))


def same_source(a: Any, b: Any) -> bool:
    """Two spec entries that read the same rows: the same file, or the same Hub dataset, subset and split.
    A mixture is the same source as another when any of its members is."""
    from specc.spec.language import members_of

    if len(members_of(a)) != 1 or len(members_of(b)) != 1:
        return any(same_source(x, y) for x in members_of(a) for y in members_of(b))
    a, b = members_of(a)[0], members_of(b)[0]
    if a.path is not None or b.path is not None:
        return a.path is not None and b.path is not None and Path(a.path) == Path(b.path) and a.split == b.split
    return (a.hub, a.subset, a.split or "train", a.data_files) == (b.hub, b.subset, b.split or "train", b.data_files)


def source_config(entry: Any, kind: str, revision: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind}
    if entry.hub is not None:
        out.update(hub=entry.hub, revision=revision, requested_revision=entry.revision)
    for key in ("subset", "split", "data_files"):
        if getattr(entry, key) is not None:
            out[key] = getattr(entry, key)
    out["format"] = entry.format
    if entry.columns:
        out["columns"] = dict(sorted(entry.columns.items()))
    if entry.roles:
        out["roles"] = dict(sorted(entry.roles.items()))
    return out


def read_source_fact(role: str, entry: Any, base_dir: Path, fact_name: str | None = None
                     ) -> tuple[DataFact, list[DataProblem]]:
    """Facts of one non-plain source; never raises for bad data (problems come back, each with its rule).
    ``fact_name`` names a mixture member (``train[1]``); default: the role."""
    name = entry.where
    fact_name = fact_name or role
    problems: list[DataProblem] = []
    missing = DataFact(role=role, name=fact_name, path=name, format=entry.format, exists=False)  # type: ignore[arg-type]
    sha = revision = card = None
    size: int | None = None
    if entry.path is not None:
        file = base_dir / entry.path
        try:
            present = file.exists()
        except (OSError, ValueError) as exc:  # e.g. a name longer than the filesystem allows
            reason = getattr(exc, "strerror", None) or str(exc)
            return missing, [DataProblem("DATA-MISSING", f"{role} source {entry.path[:80]!r} cannot be read: {reason}",
                                         "paths are relative to the spec's directory")]
        if not present:
            return missing, [DataProblem("DATA-MISSING", f"{role} source {entry.path!r} does not exist",
                                         "paths are relative to the spec's directory")]
        kind = local_kind(file)
        if kind is None:
            return missing, [DataProblem("DATA-UNREADABLE", f"{entry.path}: unknown kind of data file",
                                         "use .jsonl, .json, .csv or .parquet, a folder of them, or a "
                                         "datasets.save_to_disk folder")]
        sha, size = local_sha256(file), source_bytes(file)
        source = Source(name=name, kind=kind, path=str(file), split=entry.split, format=entry.format,
                        columns=entry.columns, roles=entry.roles)
    else:
        kind = "hub"
        source = Source(name=name, kind="hub", hub=entry.hub, subset=entry.subset, split=entry.split,
                        data_files=entry.data_files, format=entry.format, columns=entry.columns, roles=entry.roles)
        try:
            from specc.runtime.datasource import resolve_revision

            revision = resolve_revision(source, entry.revision)
        except DataError as exc:
            return missing, [DataProblem("DATA-UNREADABLE", str(exc), "pin a revision that exists, or check the id")]
        source = Source(**{**source.__dict__, "revision": revision})
        card = _card(source, revision)
        if entry.revision is None or not _COMMIT.match(entry.revision):
            problems.append(DataProblem(
                "DATA-HUB-UNPINNED",
                f"{role} source {name} is not pinned: revision {entry.revision or 'main'!r} resolved to {revision}",
                f"pin it: revision: {revision}"))
    try:
        rows, size = _rows_and_bytes(source, size)
        first = next(iter_source_rows(source))[2]
    except DataError as exc:
        return missing, [*problems, DataProblem("DATA-UNREADABLE", str(exc), "the stages read it the same way")]
    mapper = Mapper(entry.format, entry.columns, entry.roles)
    declared = mapper.canonical if entry.format != "auto" else "auto"
    # a suite's rows are checked by its kind when scored, not by a data role's formats
    fmt, problem = check_format(role, name, declared, first) if role != "suite" else ("auto", None)
    if problem is not None:
        problems.append(problem)
    licence, licence_source = declared_licence(entry)
    if licence is None and card is not None:
        licence, licence_source = card.licence, f"dataset card at {str(revision)[:12]}: {card.words}"
    fact = DataFact(role=role, name=fact_name, path=name, format=fmt, exists=True, sha256=sha, rows=rows,  # type: ignore[arg-type]
                    bytes=size, source=source_config(entry, kind, revision), licence=licence,
                    licence_source=licence_source)
    return fact, problems


def declared_licence(entry: Any) -> tuple[str | None, str | None]:
    """The licence the spec declares for a source (it overrides what a dataset card says)."""
    licence = getattr(entry, "licence", None)
    return (licence, "spec") if licence else (None, None)


def _card(source: Source, revision: str | None) -> Any:
    """What the dataset card says of its licence at the pinned commit (an unreadable card says so)."""
    from specc.data.card import CardLicence, card_licence
    from specc.runtime.datasource import card_text

    try:
        return card_licence(card_text(source, str(revision)))
    except DataError as exc:
        return CardLicence(None, f"the card cannot be read ({exc.message})")


def _rows_and_bytes(source: Source, size: int | None) -> tuple[int, int | None]:
    if source.streams_without_datasets:
        rows, _sha = count_rows_and_sha256(source.path or "", display_name=source.name)
        return rows, size
    from specc.runtime.datasource import load_raw

    ds = load_raw(source)
    return len(ds), size if size is not None else int(ds.data.nbytes)

"""Data sources: where a role's rows come from, and one reader that yields them from any source.

A source is a local JSONL file (read here, streaming, with the standard library only: the light commands
stay free of the training stack), or anything ``datasets`` reads: JSON, CSV, Parquet, a directory of such
files, a ``save_to_disk`` folder, or a Hub dataset. Those are read by :mod:`specc.runtime.datasource`, the
one loader every emitted stage uses, so ``specc check``, the firewall stage and the trainers all see the
same rows. Every row goes through the source's :class:`specc.data.mapping.Mapper` (renamed columns,
alpaca, sharegpt) before anyone looks at it.

:func:`iter_source_rows` is the hook the firewall and ``specc check`` read through: it yields
``(name, row number, canonical row)`` for any source and raises :class:`specc.data.jsonl.DataError`
naming the source and row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specc.data.jsonl import DataError, iter_jsonl
from specc.data.mapping import Mapper

__all__ = ["DATA_EXTRA", "LOCAL_SUFFIXES", "Source", "hub_name", "iter_source_rows", "local_kind",
           "local_sha256", "source_bytes"]

DATA_EXTRA = "pip install 'specc[train]'"
"""What to install when a source needs ``datasets`` and it is missing."""

LOCAL_SUFFIXES: dict[str, str] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
                                  ".parquet": "parquet"}
"""File suffix → source kind (the ``datasets`` packaged builder that reads it)."""

SAVED_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
"""Files ``datasets.save_to_disk`` writes: a folder holding one is read with ``load_from_disk``."""


def hub_name(hub: str, subset: str | None = None, split: str | None = None) -> str:
    """How plans, locks and messages name a Hub source: ``hub:org/name``, with its subset and split."""
    name = f"hub:{hub}"
    if subset:
        name += f"/{subset}"
    if split:
        name += f"[{split}]"
    return name


def local_kind(path: Path) -> str | None:
    """The kind of a local source (jsonl, json, csv, parquet, saved, directory); None when unknown."""
    if path.is_dir():
        return "saved" if any((path / m).is_file() for m in SAVED_MARKERS) else "directory"
    return LOCAL_SUFFIXES.get(path.suffix.lower())


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                           p.relative_to(path).parts))


def local_sha256(path: Path) -> str:
    """Content hash of a local source: the file's bytes, or (for a folder) every file's relative name and bytes,
    in name order, so the lock notices an added, removed or edited file. The same hash as a local model's
    (:func:`specc.run.manifest.content_sha256`: hidden entries skipped, links followed)."""
    from specc.run.manifest import content_sha256

    return content_sha256(path)


def source_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of a local file or folder (for the token estimate and reports)."""
    path = Path(path)
    return sum(f.stat().st_size for f in _files(path))


@dataclass(frozen=True)
class Source:
    """One source, as a reader needs it. ``path`` is where a local source is (None for the Hub); ``name`` is
    how messages name it; ``revision`` is the commit a Hub source was resolved to by the plan."""

    name: str
    kind: str
    path: str | None = None
    hub: str | None = None
    revision: str | None = None
    subset: str | None = None
    split: str | None = None
    data_files: str | list[str] | None = None
    format: str = "auto"
    columns: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)

    @property
    def streams_without_datasets(self) -> bool:
        """JSONL read line by line here; every other kind needs ``datasets``."""
        return self.kind == "jsonl" and not self.split

    def mapper(self) -> Mapper:
        return Mapper(self.format, self.columns, self.roles)

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], *, name: str | None = None) -> Source:
        """From a stage CONFIG data entry (``path`` relative to the build directory, ``source`` from the plan)."""
        src = dict(entry.get("source") or {})
        path = entry.get("path")
        kind = src.get("kind") or (local_kind(Path(path)) if path else None) or "jsonl"
        return cls(name=name or entry.get("spec_path") or str(path), kind=kind, path=path,
                   hub=src.get("hub"), revision=src.get("revision"), subset=src.get("subset"),
                   split=src.get("split"), data_files=src.get("data_files"),
                   format=src.get("format") or entry.get("format") or "auto",
                   columns=dict(src.get("columns") or {}), roles=dict(src.get("roles") or {}))


def iter_raw_rows(source: Source) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row number, row as stored)``: JSONL streamed here, everything else through the runtime loader."""
    if source.streams_without_datasets:
        yield from iter_jsonl(source.path or "", display_name=source.name)
        return
    from specc.runtime import datasource  # imports datasets only when it reads (DataError naming the extra)

    yield from datasource.iter_raw(source)


def iter_source_rows(source: Source) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """``(name, row number, canonical row)`` for every row of any source: the firewall's and ``specc check``'s
    reader. A row the source's mapping cannot turn into its format raises :class:`DataError` at its row."""
    mapper = source.mapper()
    rows = iter_raw_rows(source)
    for line, row in rows:  # the first row decides the mapping
        problem = mapper.columns_problem(row.keys())
        if problem is not None:
            raise DataError(source.name, line, problem)
        mapper.decide(row)  # no known format: rows pass as they are; callers report "no known format"
        if not mapper.columns and mapper.fmt not in ("alpaca", "sharegpt"):
            yield source.name, line, row
            name = source.name
            for line, row in rows:  # nothing to map: the hot path of the firewall's scan stays a plain loop
                yield name, line, row
            return
        yield from _mapped(source.name, mapper, line, row)
        for line, row in rows:
            yield from _mapped(source.name, mapper, line, row)


def _mapped(name: str, mapper: Mapper, line: int, row: dict[str, Any]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    try:
        mapped = mapper(row)
    except ValueError as exc:
        raise DataError(name, line, str(exc)) from None
    yield name, line, mapped


"""The run manifest: a build directory's record of which stage ran, on what inputs, with what outcome.

Why it exists: a fine-tuning build is a chain of expensive stages. Rerunning the chain must skip the
stages whose inputs (and script) did not change since they completed, and must redo a stage that was
interrupted. That decision needs a durable record next to the build: ``run_manifest.json``.

It is a *run record*, not a build artifact, so timestamps and pids are fine here (unlike plan files).
It is rewritten atomically (temp file + ``os.replace``) after every change, so a run killed at any
instant leaves either the previous or the next version, never a torn file. Standard library only:
the runner and ``specc status`` import this without the training stack.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterable

MANIFEST_NAME = "run_manifest.json"
MANIFEST_FORMAT = 1

STATUSES = ("pending", "running", "completed", "failed", "gated", "interrupted")
"""``interrupted``: the stage was ``running`` when its runner died (SIGKILL, power loss) or was stopped
(Ctrl-C, SIGTERM); the next run redoes it and the script resumes from its own last checkpoint."""

MISSING = "missing"
"""The hash recorded for an input path that does not exist (e.g. a hub model id): stable, so it never
by itself forces a rerun, yet it changes as soon as the path appears."""

_CHUNK = 1 << 20


def now_iso() -> str:
    """UTC timestamp with second precision: enough to read, short enough to diff."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# ------------------------------------------------------------------------------------------- hashing


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks (the runner's hashes and the stages' data-lock check)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class HashCache:
    """sha256 of files keyed by (path, size, mtime_ns, inode).

    Why: the outputs of a stage are hashed when it completes and again as the next stage's inputs on
    every rerun; a real model directory is gigabytes. A file whose stat fingerprint is unchanged is not
    re-read. The cache lives in the manifest, so it survives between runs.
    """

    def __init__(self, entries: dict[str, list[Any]] | None = None, root: str | os.PathLike[str] | None = None):
        self.entries: dict[str, list[Any]] = dict(entries or {})
        self.root = Path(root).resolve() if root is not None else None
        self._used: set[str] = set()

    def _key(self, path: Path) -> str:
        """Paths relative to the build dir when inside it (the record stays valid if the build moves)."""
        full = path.resolve()
        if self.root is not None:
            try:
                return full.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return str(full)

    def file_sha256(self, path: Path) -> str:
        st = path.stat()
        key = self._key(path)
        fp = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = self.entries.get(key)
        self._used.add(key)
        if hit is not None and hit[:3] == fp:
            return hit[3]
        digest = file_sha256(path)
        self.entries[key] = [*fp, digest]
        return digest

    def pruned(self) -> dict[str, list[Any]]:
        """Only entries used by this run: the cache does not grow forever with deleted checkpoints."""
        return {k: v for k, v in sorted(self.entries.items()) if k in self._used}


CARD_FILES = frozenset({"README.md"})
"""Files at the top of a stage's output folder that document it (the model card, which the eval stage rewrites
with its verdict after later stages read the folder): :func:`artifact_hash` leaves them out, so a card never
makes the runner re-run the stages that read the folder."""


def artifact_hash(path: str | os.PathLike[str], cache: HashCache | None = None) -> str:
    """:func:`hash_path` of a stage's output (``artifacts/…``) without its model card (:data:`CARD_FILES`)."""
    return hash_path(path, cache, skip=CARD_FILES)


def hash_path(path: str | os.PathLike[str], cache: HashCache | None = None, *,
              skip: frozenset[str] = frozenset()) -> str:
    """sha256 of a file, or of a directory tree, deterministically.

    A directory hashes as the sorted list of its entries: ``F <relpath> <sha256 of content>`` for files,
    ``D <relpath>`` for (possibly empty) sub-directories, ``L <relpath> <target>`` for symlinks (not
    followed: a link out of the tree must not pull a whole cache dir into the hash). Paths are POSIX and
    relative, so the same tree hashes the same wherever it lives. Missing paths hash as :data:`MISSING`.
    """
    p = Path(path)
    cache = cache or HashCache()
    if not p.exists() and not p.is_symlink():
        return MISSING
    if not p.is_dir():
        return cache.file_sha256(p)
    outer = hashlib.sha256(b"specc-dir-v1\n")
    for line in _tree_lines(p, cache, skip):
        outer.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return outer.hexdigest()


def content_sha256(path: str | os.PathLike[str], cache: HashCache | None = None) -> str:
    """sha256 of what a model loader reads from ``path``: a file's bytes, or a directory's files.

    Unlike :func:`hash_path` this follows symlinks (a local model is often a link into a download
    cache, and its files links to blobs: the content is what matters) and skips hidden entries
    (``.cache/``, ``.git``: download bookkeeping, not weights). Lines are ``<relpath> <sha256>`` in sorted
    order, so the same files hash the same wherever they live. Missing paths hash as :data:`MISSING`.
    """
    p = Path(path)
    cache = cache or HashCache()
    if not p.exists():
        return MISSING
    if not p.is_dir():
        return cache.file_sha256(p)
    outer = hashlib.sha256(b"specc-content-v1\n")
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(p, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:  # a link loop: each real directory once
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        for name in sorted(f for f in filenames if not f.startswith(".")):
            full = here / name
            if full.is_file():
                rel = full.relative_to(p).as_posix()
                outer.update(f"{rel} {cache.file_sha256(full)}\n".encode("utf-8", "surrogateescape"))
    return outer.hexdigest()


def _tree_lines(root: Path, cache: HashCache, skip: frozenset[str] = frozenset()) -> Iterable[str]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            full = here / name
            rel = full.relative_to(root).as_posix()
            if rel in skip and name in filenames:  # top-level documentation files (see CARD_FILES)
                continue
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode):
                yield f"L {rel} {os.readlink(full)}"
            elif stat.S_ISDIR(mode):
                yield f"D {rel}"
            elif stat.S_ISREG(mode):
                yield f"F {rel} {cache.file_sha256(full)}"
            # sockets, fifos: not content, ignored


# ------------------------------------------------------------------------------------------ manifest


def manifest_path(build_dir: str | os.PathLike[str]) -> Path:
    return Path(build_dir) / MANIFEST_NAME


def new_stage_record(stage_id: str, kind: str, script: str) -> dict[str, Any]:
    return {"id": stage_id, "kind": kind, "script": script, "status": "pending", "script_sha256": None,
            "inputs": {}, "outputs": {}, "exit_code": None, "started_at": None, "ended_at": None,
            "duration_s": None, "log": f"logs/{stage_id}.log", "pid": None, "attempts": 0, "note": "",
            "fingerprint": None}


class ManifestDamaged(ValueError):
    """``run_manifest.json`` exists but cannot be used as a manifest."""


def _shape_problem(data: Any) -> str | None:
    """Why a parsed manifest cannot be used (None when it can): the runner indexes these without checks."""
    if not isinstance(data, dict):
        return "not a JSON object"
    stages = data.get("stages", {})
    if not isinstance(stages, dict) or not all(isinstance(r, dict) for r in stages.values()):
        return "`stages` is not a mapping of stage records"
    cache = data.get("hash_cache", {})
    if not isinstance(cache, dict) or not all(isinstance(v, list) and len(v) == 4 for v in cache.values()):
        return "`hash_cache` is malformed"
    for key in ("plan", "runner"):
        if not isinstance(data.get(key, {}), dict):
            return f"`{key}` is not an object"
    return None


def set_aside(build_dir: str | os.PathLike[str]) -> Path:
    """Rename a damaged manifest to ``run_manifest.json.damaged[-N]`` (kept for inspection, never deleted)."""
    path = manifest_path(build_dir)
    n = 0
    while True:
        aside = path.with_name(f"{path.name}.damaged" + (f"-{n}" if n else ""))
        if not aside.exists():
            break
        n += 1
    os.replace(path, aside)
    return aside


class Manifest:
    """The manifest's JSON document plus the few operations the runner needs.

    Kept as a plain dict (not a pydantic model) on purpose: ``specc status`` must read a manifest
    written by an older or newer specc without refusing over a field it does not know.
    """

    def __init__(self, build_dir: str | os.PathLike[str], data: dict[str, Any] | None = None):
        self.build_dir = Path(build_dir)
        self.data: dict[str, Any] = data or {"format": MANIFEST_FORMAT, "plan": {}, "updated_at": None,
                                              "runner": {}, "stages": {}, "hash_cache": {}}
        self.data.setdefault("stages", {})
        self.data.setdefault("hash_cache", {})
        self.cache = HashCache(self.data.get("hash_cache"), root=self.build_dir)

    @classmethod
    def load(cls, build_dir: str | os.PathLike[str]) -> "Manifest":
        """Read the manifest, or start an empty one if there is none yet.

        Raises :class:`ManifestDamaged` when the file is not a manifest (truncated, edited, another
        program's file): the caller decides whether to set it aside (:func:`set_aside`) or to stop.
        """
        path = manifest_path(build_dir)
        if not path.exists():
            return cls(build_dir)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ManifestDamaged(f"{path} is damaged (not valid JSON: {exc})") from None
        problem = _shape_problem(data)
        if problem:
            raise ManifestDamaged(f"{path} is damaged ({problem})")
        return cls(build_dir, data)

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        return self.data["stages"]

    def stage(self, stage_id: str) -> dict[str, Any]:
        return self.stages[stage_id]

    def sync_stages(self, stages: Iterable[tuple[str, str, str]]) -> None:
        """Make the manifest list exactly the plan's stages (id, kind, script), in plan order.

        A recompiled plan may add, drop or reorder stages: known records are kept, new ones are pending.
        """
        old = self.stages
        fresh: dict[str, dict[str, Any]] = {}
        for stage_id, kind, script in stages:
            rec = old.get(stage_id) or new_stage_record(stage_id, kind, script)
            rec["kind"], rec["script"] = kind, script
            fresh[stage_id] = rec
        self.data["stages"] = fresh

    def begin(self, stage_id: str, **fields: Any) -> None:
        """Start a new record of ``stage_id`` for this run (a launch or an adoption): every field of the
        previous attempt goes (its pid, launch, command, reused_from, notes...), only the attempt count stays.
        Updating in place would let a field the new attempt does not set speak for it."""
        old = self.stages[stage_id]
        fresh = new_stage_record(stage_id, old.get("kind", ""), old.get("script", ""))
        fresh["attempts"] = old.get("attempts", 0)
        self.stages[stage_id] = {**fresh, **fields}
        self.save()

    def update(self, stage_id: str, **fields: Any) -> None:
        """Change one stage's record and persist at once: the manifest on disk is never behind."""
        self.stages[stage_id].update(fields)
        self.save()

    def save(self) -> None:
        """Atomic write: temp file in the same directory, fsync, ``os.replace``."""
        self.data["updated_at"] = now_iso()
        self.data["hash_cache"] = self.cache.pruned() if self.cache._used else self.cache.entries
        path = manifest_path(self.build_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.data, indent=2, ensure_ascii=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=".run_manifest.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (a power loss right after ``os.replace`` can otherwise lose it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""Compile a Plan into a build directory: PLAN.md, plan.json (+ lock, + the eval contract), stage scripts,
launch configs and run.sh.

Why it is built this way:

* **Safe code.** Templates receive plan values only through the literal filters ``py``, ``sh`` and
  ``yaml`` (:mod:`specc.build.literals`); the jinja environment's ``finalize`` refuses any other ``{{ … }}``
  output, so a spec string can never become source, whatever it contains. Every emitted ``.py`` is
  parsed before anything is written.
* **Deterministic.** Same plan, spec location and build location → byte-identical files: no
  timestamps, no absolute paths, canonical JSON, fixed file modes, package versions from specc's
  declared minimums (not the compiling machine).
* **Atomic.** Files are rendered in memory, written to a sibling staging directory
  (``.NAME.compiling-PID-XXXX``) and swapped in with renames, so a failure mid-compile leaves the previous
  build as it was. A compile that was killed leaves its staging directory behind; the next compile of the
  same build removes it once its pid is gone (or it is older than :data:`STALE_AFTER_S`), first moving any
  run state the swap had already carried into it back into the build. Run outputs of an earlier
  build (``artifacts/``, ``results/``, ``reports/``, ``wandb/`` …) are carried over: compiling is not
  a reason to lose a trained checkpoint.
* **Owned.** A compile writes ``.specc-build`` listing the files it wrote; a recompile replaces only
  those (unedited), carries the user's own files across, refuses a non-empty directory it did not make
  and keeps the directory's mode (:mod:`specc.build.ownership`). It also refuses while a run holds the
  build's run lock, and reports an unwritable target as a :class:`CompileError`, never a traceback.
* **Confined.** Every stage output and script path must be a plain relative path inside the build.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import time
import posixpath
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from specc.build import launch as launch_mod
from specc.build import ownership
from specc.build import literals
from specc.build.lock import build_document
from specc.build.stage_env import stage_environment
from specc.plan.model import Plan, Stage

__all__ = ["CompileError", "GENERATED", "compile_plan", "render_build", "templates_dir"]

GENERATED = ("PLAN.md", "plan.json", "contract.json", "run.sh", "stages", "launch", ".specc-build")
"""Top-level entries a compile writes; everything else in a build directory is run state and is kept.
Inside them, only files the previous compile wrote are replaced (:mod:`specc.build.ownership`).
(``contract.json`` is no longer written — the contract lives in plan.json — but builds of earlier versions have
one.)"""

_EXECUTABLE = 0o755
_REGULAR = 0o644

STALE_AFTER_S = 3600
"""A staging directory whose creating process may still exist (or whose pid is unknown) counts as
abandoned after this long: a compile takes well under a second."""


class CompileError(ValueError):
    """The plan cannot be compiled (error findings, unsafe paths, a template bug)."""


def templates_dir() -> Path:
    """Where the jinja templates live: the installed ``specc.templates`` package or the source tree."""
    here = Path(__file__).resolve().parent.parent  # the specc package
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "run.sh.j2").is_file():
            return candidate
    raise CompileError(f"specc's templates are missing (looked in {here / 'templates'} and {here.parent / 'templates'})")


def _only_literals(value: Any) -> Any:
    if not isinstance(value, literals.Rendered):
        raise CompileError(
            f"template printed a raw value {str(value)[:60]!r}; pass it through | py, | sh or | yaml")
    return value


def _environment() -> jinja2.Environment:
    """The template environment, built once per templates directory (the loader still notices edited
    templates: jinja re-checks their modification times)."""
    return _environment_for(str(templates_dir()))


@functools.lru_cache(maxsize=4)
def _environment_for(directory: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_only_literals,
    )
    env.filters.update(py=literals.py, py_block=literals.py_block, sh=literals.sh, yaml=literals.yaml_literal)
    env.globals["launch_words"] = lambda stage, launch: literals.Rendered(launch_mod.launch_words(stage, launch))
    env.globals["sh_export"] = literals.sh_export
    return env


def _check_relative(path: str, what: str) -> None:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or "\\" in path or any(part in ("..", "") for part in path.split("/")) \
            or path != p.as_posix() or p.parts[0] in GENERATED[:4]:
        raise CompileError(f"{what} {path!r} must be a plain relative path inside the build directory")


def _check_stage(stage: Stage) -> None:
    if not stage.script.startswith("stages/") or not stage.script.endswith(".py"):
        raise CompileError(f"stage {stage.id!r}: script {stage.script!r} must be stages/<name>.py")
    _check_relative(stage.script, f"stage {stage.id!r} script")
    for key, out in stage.outputs.items():
        _check_relative(out, f"stage {stage.id!r} output {key!r}")
        if out.split("/")[0] in GENERATED:
            raise CompileError(f"stage {stage.id!r} output {out!r} would overwrite compiled files")


def _python_file(rel: str, text: str) -> str:
    try:
        ast.parse(text, filename=rel)
    except SyntaxError as exc:  # a template bug, never user data: values are literals
        raise CompileError(f"emitted {rel} is not valid Python: {exc}") from exc
    return text


def render_build(plan: Plan, spec_rel: str, spec_root: str | os.PathLike[str] | None = None,
                 ) -> dict[str, tuple[str, int]]:
    """Every compiled file as ``{relative path: (text, mode)}``; nothing is written. ``spec_root`` (the
    spec's directory) lets the lock hash local model files."""
    if not plan.ok:
        errors = "; ".join(f"{f.rule}: {f.message}" for f in plan.findings if f.level == "error")
        raise CompileError(f"plan {plan.name!r} has error findings and is not compiled: {errors}")
    for stage in plan.stages:
        _check_stage(stage)
    if len({s.id for s in plan.stages}) != len(plan.stages):
        raise CompileError("stage ids must be unique")
    env = _environment()
    tracking = plan.tracking.model_dump(mode="json") if plan.tracking else None
    files: dict[str, tuple[str, int]] = {
        "plan.json": (build_document(plan, spec_rel, spec_root), _REGULAR),
        "PLAN.md": (_plan_markdown(plan), _REGULAR),
    }
    for stage in plan.stages:
        template = f"stages/{stage.kind}.py.j2"
        try:
            tpl = env.get_template(template)
        except jinja2.TemplateNotFound as exc:
            raise CompileError(f"no template for stage kind {stage.kind!r} ({template})") from exc
        text = tpl.render(config=script_config(stage, tracking, spec_rel), stage=stage.model_dump(mode="json"))
        files[stage.script] = (_python_file(stage.script, text), _EXECUTABLE)
    if plan.launch is not None and any(s.launcher == "accelerate" for s in plan.stages):
        files[launch_mod.config_name(plan.launch)] = (launch_mod.config_text(plan.launch), _REGULAR)
    always, unless_set = stage_environment(plan.tracking)
    files["run.sh"] = (env.get_template("run.sh.j2").render(plan=plan, env_always=always, env_unless_set=unless_set),
                       _EXECUTABLE)
    return dict(sorted(files.items()))


def _localise(value: Any, spec_rel: str) -> Any:
    """Copy of ``value`` where every spec-relative file also gets ``path``, relative to the build dir."""
    if isinstance(value, list):
        return [_localise(v, spec_rel) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _localise(v, spec_rel) for k, v in value.items()}
    hub = isinstance(out.get("source"), dict) and out["source"].get("kind") in ("hub", "held_out")  # no file
    if isinstance(out.get("spec_path"), str) and not hub:
        out["path"] = posixpath.normpath(posixpath.join(spec_rel, out["spec_path"]))
    if out.get("source") == "local" and isinstance(out.get("ref"), str):
        out["path"] = posixpath.normpath(posixpath.join(spec_rel, out["ref"]))
    return out


def script_config(stage: Stage, tracking: dict[str, Any] | None, spec_rel: str) -> dict[str, Any]:
    """The ``CONFIG`` literal of a stage script: the stage's resolved config with build-relative paths,
    plus its identity, declared inputs/outputs and the plan's tracking settings."""
    return {
        **_localise(stage.config, spec_rel),
        "stage": stage.id,
        "kind": stage.kind,
        "title": stage.title,
        "inputs": dict(stage.inputs),
        "outputs": dict(stage.outputs),
        "tracking": tracking,
    }


def _plan_markdown(plan: Plan) -> str:
    """PLAN.md: the same Markdown as ``specc plan --format markdown`` (one renderer for people)."""
    from specc.plan.render import render_markdown

    return render_markdown(plan)


def _spec_rel(spec_dir: Path, out_dir: Path) -> str:
    return Path(os.path.relpath(spec_dir.resolve(), out_dir.resolve())).as_posix()


def compile_plan(plan: Plan, spec_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Compile ``plan`` into ``out_dir`` atomically; returns the written files (sorted, under out_dir), the
    ``.specc-build`` marker included.

    ``spec_dir`` is the directory of the spec file: data paths in the plan are relative to it, and the
    scripts find it relative to their own location. Raises :class:`CompileError` (never a bare
    ``OSError``) when ``out_dir`` cannot be written: it is a file, lies under a file, is read-only, the
    disk is full, it is a non-empty directory specc did not make, it holds files specc did not write
    where compiled files go, or a ``specc run`` holds its run lock.
    """
    out = Path(out_dir)
    files = render_build(plan, _spec_rel(Path(spec_dir), out), spec_dir)
    try:
        return _write_build(out, files)
    except OSError as exc:
        raise CompileError(_os_problem(out, exc)) from None


def _os_problem(out: Path, exc: OSError) -> str:
    """An OSError of a compile as one sentence naming the build directory (no traceback)."""
    import errno

    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    hint = {
        errno.ENOSPC: "free some disk space and compile again; the previous build is untouched",
        errno.EFBIG: "a file-size limit stopped the write; the previous build is untouched",
        errno.EDQUOT: "the disk quota is exhausted; the previous build is untouched",
        errno.EROFS: "the file system is read-only; compile into a writable directory with -o",
        errno.EACCES: "no permission to write there; compile into a writable directory with -o",
        errno.EPERM: "no permission to write there; compile into a writable directory with -o",
        errno.ENOTDIR: "a path component is a file, not a directory; choose another -o",
        errno.EEXIST: "a path component is a file, not a directory; choose another -o",
    }.get(exc.errno or 0, "the previous build is untouched")
    return f"cannot write the build directory {out}: {reason}{where}; {hint}"


def _write_build(out: Path, files: dict[str, tuple[str, int]]) -> list[Path]:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise CompileError(f"{out} exists and is not a directory; choose another -o (nothing was written)")
    parent = out.resolve().parent
    if parent.exists() and not parent.is_dir():
        raise CompileError(f"cannot compile into {out}: {parent} is a file, not a directory")
    parent.mkdir(parents=True, exist_ok=True)
    target = out.resolve()
    previous = ownership.previous_build(target, files)  # refuses where replacing would lose data
    with ownership.run_lock_free(target):  # refuses while `specc run` / run.sh is running this build
        clean_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.compiling-{os.getpid()}-", dir=parent))
        try:
            os.chmod(staging, previous.mode if previous is not None else 0o755)
            for rel, (text, mode) in files.items():
                dest = staging / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text, encoding="utf-8", newline="\n")
                os.chmod(dest, mode)
            marker = staging / ownership.MARKER
            marker.write_text(ownership.marker_text(files), encoding="utf-8", newline="\n")
            os.chmod(marker, _REGULAR)
            _swap_in(staging, target, previous)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return sorted([out / rel for rel in files] + [out / ownership.MARKER])


def _swap_in(staging: Path, out: Path, previous: "ownership.Previous | None" = None) -> None:
    """Replace ``out`` by ``staging``, carrying run state (anything not compiled) across.

    Only what an earlier compile wrote (unedited) is replaced: the user's own files under compiled names
    (``stages/my_helper.py``) are carried across like run state, symlinks planted where compiled files go
    are dropped (never followed), and a user file or an edited compiled file that the new compile would
    overwrite stops the compile before anything moved (:func:`ownership.previous_build`).
    """
    if not out.exists():
        os.rename(staging, out)
        return
    moved: list[str] = []  # carried into staging; moved back if the swap fails, so nothing is lost
    try:
        for rel in previous.user_files if previous is not None else []:
            dest = staging / rel
            if dest.exists() or dest.is_symlink():  # checked before the compile: only a race gets here
                raise CompileError(f"{out / rel} is not a file specc compiled; move it away and compile again")
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(out / rel, dest)
            moved.append(rel)
        for entry in sorted(os.listdir(out)):
            if entry not in GENERATED and not (staging / entry).exists():
                os.rename(out / entry, staging / entry)
                moved.append(entry)
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.rename(out, old)
    except BaseException:
        for rel in reversed(moved):
            try:
                os.rename(staging / rel, out / rel)
            except OSError:
                pass  # left in the staging directory; clean_stale_staging moves it back next time
        raise
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(old, out)  # put the previous build back; the staging directory is removed by the caller
        for rel in reversed(moved):
            os.rename(staging / rel, out / rel)
        raise
    shutil.rmtree(old, ignore_errors=True)


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<what>compiling|old)-(?:(?P<pid>\d+)(?:-|$))?")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's live process
        return True
    except OSError:
        return False
    return True


def _abandoned(path: Path, pid: str | None) -> bool:
    if pid is not None and int(pid) != os.getpid() and not _pid_alive(int(pid)):
        return True
    try:
        age = time.time() - path.lstat().st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S


def clean_stale_staging(out: Path) -> list[Path]:
    """Remove what killed compiles of ``out`` left next to it (``.NAME.compiling-*``, ``.NAME.old-*``);
    returns the removed paths.

    A leftover is abandoned when the pid in its name is gone, or when it is older than
    :data:`STALE_AFTER_S`. A staging directory can hold run state the swap had already carried over
    (``artifacts/`` …): that is moved back into ``out`` first, and a directory whose run state cannot
    go back (``out`` already has an entry of that name) is left alone rather than lose anything.
    """
    removed: list[Path] = []
    parent = out.parent
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = _LEFTOVER.match(entry)
        path = parent / entry
        if not m or m.group("name") != out.name or not path.is_dir() or path.is_symlink():
            continue
        if not _abandoned(path, m.group("pid")):
            continue
        if m.group("what") == "compiling":
            state = [e for e in sorted(os.listdir(path)) if e not in GENERATED]
            state += _user_files_in_staging(path)
            if any((out / e).exists() or (out / e).is_symlink() for e in state):
                continue
            if state:
                out.mkdir(exist_ok=True)
                for e in state:
                    (out / e).parent.mkdir(parents=True, exist_ok=True)
                    os.rename(path / e, out / e)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _user_files_in_staging(staging: Path) -> list[str]:
    """Files under compiled names in a killed compile's staging directory that its marker does not list:
    the user's own files the swap had already carried across (to be moved back, never removed)."""
    try:
        listed = set(json.loads((staging / ownership.MARKER).read_text(encoding="utf-8"))["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return []  # the marker is written last of the compiled files: without it nothing was carried yet
    found = []
    for top in GENERATED:
        root = staging / top
        if top == ownership.MARKER or not root.is_dir() or root.is_symlink():
            continue
        for dirpath, _dirs, names in os.walk(root, followlinks=False):
            for name in names:
                rel = (Path(dirpath) / name).relative_to(staging).as_posix()
                if rel not in listed:
                    found.append(rel)
    return sorted(found)

"""The stage runner behind ``specc run``: execute a compiled build stage by stage, resumably.

Why it is built this way:

* Each stage is its own process, launched exactly as the plan says (``python``, ``accelerate launch``,
  ``torchrun``) with cwd = the build directory, so what the runner does is what a user does by hand with
  ``run.sh``; the runner only adds bookkeeping. It is LIGHT (standard library + specc's pydantic models):
  it never imports the training stack, so its own overhead is a fraction of a second per stage.
  ``--warm`` (:mod:`specc.run.warm`) is the one exception to "a fresh process": a ``python`` stage is then a
  fork of a process that imported the training stack once, set up to see and do what the fresh one would.
* The run manifest (:mod:`specc.run.manifest`) records every stage's status and the sha256 of its script and
  inputs; a rerun skips completed stages whose script and inputs are unchanged and redoes an interrupted
  one (the script itself resumes from its last checkpoint).
* A lock (``fcntl.flock`` on ``.specc-run.lock``, holding the pid) keeps two runs off one build. The
  kernel drops a flock when its holder dies, even by SIGKILL, so a stale lock never blocks; the pid left
  in the file tells us a previous run died and its "running" stages are to be redone.
* Secrets: the stage inherits the user's environment (WANDB_API_KEY reaches wandb) but no environment
  value is ever written by the runner, and values of ``*_API_KEY`` / ``*_TOKEN`` / ``*_SECRET`` /
  ``*_PASSWORD`` variables are masked in the stage logs it keeps.

Exit codes: 0 all stages passed, 1 a stage failed, 2 usage, 3 a gate refused (a stage exited 3, or
another run holds the build's lock), 130 interrupted (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import collections
import fcntl
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from specc.build.reader import BuildReadError, read_build
from specc.build.stage_env import apply as apply_stage_env
from specc.exit_codes import ExitCode
from specc.run import fingerprint as fpmod
from specc.run import manifest as mf
from specc.run import preflight, reuse
from specc.plan.model import Plan, Stage
from specc.run.progress import Display, parse_line

LOCK_NAME = ".specc-run.lock"
BUILD_PREFIXES = ("artifacts/", "results/", "reports/", "logs/", "stages/", "launch/")
"""Stage input paths starting with these are produced inside the build; other inputs are data files
named relative to the spec's directory (see specc/plan/stages.py)."""

SECRET_NAME = re.compile(r"(_API_KEY|_TOKEN|_SECRET|_PASSWORD|^API_KEY|^TOKEN)$", re.IGNORECASE)


class RunError(Exception):
    """A run that cannot start or continue; ``exit_code`` is what ``specc run`` exits with."""

    exit_code = ExitCode.INVALID


class UsageError(RunError):
    exit_code = ExitCode.USAGE


class LockHeld(RunError):
    """Another ``specc run`` holds this build's lock."""

    exit_code = ExitCode.REFUSED

    def __init__(self, build_dir: Path, pid: int | None):
        self.pid = pid
        who = f"pid {pid}" if pid else "another process (pid not yet written)"
        super().__init__(f"{build_dir}: another run ({who}; `specc run` or run.sh) is running this build; "
                         f"wait for it to finish or stop it (kill {pid or '<pid>'})")


class _Terminated(Exception):
    """Raised in the main thread by the SIGTERM handler, so a stopped run records 'interrupted'."""


@dataclass
class RunResult:
    exit_code: int
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: str | None = None
    recovered_from_pid: int | None = None


# ------------------------------------------------------------------------------------------------ lock


class RunLock:
    """Exclusive, non-blocking lock on one build directory, holding the owner's pid.

    ``stale_pid`` is set after :meth:`acquire` when the file still named an earlier holder: that runner
    died without releasing (SIGKILL, crash); the kernel already released its flock.
    """

    def __init__(self, build_dir: Path):
        self.build_dir = build_dir
        self.path = build_dir / LOCK_NAME
        self.fd: int | None = None
        self.stale_pid: int | None = None

    def acquire(self) -> "RunLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunError(_os_problem(self.build_dir, exc, "cannot take the run lock")) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise LockHeld(self.build_dir, pid) from None
        previous = _read_pid(fd)
        if previous and previous != os.getpid():
            self.stale_pid = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self.fd = fd
        return self

    def release(self) -> None:
        """Blank the pid (a clean exit leaves no stale marker) and unlock. The file itself stays:
        unlinking a flock file races with a process that has just opened it."""
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _pid_runs(pid: int | None, needle: str) -> bool:
    """True when ``pid`` is alive and (on Linux) its command line mentions ``needle`` (the stage
    script): guards against pid reuse making an unrelated process look like a leftover stage."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if not Path("/proc/self").exists():
        return True  # no /proc (not Linux): alive is all we can tell
    try:
        # read, not exists-then-read: the process may end between two looks; gone means not running
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return needle in cmdline.replace(b"\0", b" ").decode(errors="replace")


# ------------------------------------------------------------------------------------------ the plan


def load_plan(build_dir: str | os.PathLike[str]) -> Plan:
    """The Plan of a compiled build, through the one build reader (:mod:`specc.build.reader`): a missing
    plan.json is a usage error (not a build); a damaged one a failure that names the fix."""
    if not (Path(build_dir) / "plan.json").exists():
        raise UsageError(f"{build_dir}: not a specc build directory (no plan.json); "
                         f"give a spec file, or compile first with `specc compile SPEC -o DIR`")
    try:
        return read_build(build_dir).plan
    except BuildReadError as exc:
        raise RunError(f"{exc} (recompile with `specc compile SPEC -o {build_dir}`: run state is kept)") from None


def _os_problem(build: Path, exc: OSError, what: str) -> str:
    """An OSError of the runner as one line naming the build and what to do (never a traceback)."""
    import errno

    hint = {
        errno.ENOSPC: "free some disk space, then rerun: completed stages are kept",
        errno.EDQUOT: "free some disk quota, then rerun: completed stages are kept",
        errno.EFBIG: "a file-size limit stopped the write; rerun without it: completed stages are kept",
        errno.EROFS: "the build is on a read-only file system; copy it somewhere writable to run it",
        errno.EACCES: "the build directory is not writable by you; fix its permissions or copy it",
        errno.EPERM: "the build directory is not writable by you; fix its permissions or copy it",
    }.get(exc.errno or 0, "fix the problem, then rerun: completed stages are kept")
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return f"{build}: {what}: {exc.strerror or exc}{where}; {hint}"


def read_lock_section(build_dir: Path) -> dict[str, Any]:
    try:
        return read_build(build_dir).lock
    except BuildReadError:
        return {}


def _tool(name: str) -> str | None:
    """A console script from the running interpreter's environment first (the venv specc runs in)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def launch_config_path(build_dir: Path, plan: Plan, stage: Stage) -> str | None:
    """The accelerate config a stage launches with: the stage's own ``launch_config`` if it names
    one, else ``launch/<stage_id>.yaml``, else the build's single ``launch/*.yaml``."""
    named = stage.config.get("launch_config")
    if isinstance(named, str) and named:
        return named
    own = build_dir / "launch" / f"{stage.id}.yaml"
    if own.exists():
        return own.relative_to(build_dir).as_posix()
    found = sorted((build_dir / "launch").glob("*.yaml")) if (build_dir / "launch").is_dir() else []
    if len(found) == 1:
        return found[0].relative_to(build_dir).as_posix()
    preferred = [p for p in found if p.stem in ("train", "default", "accelerate")]
    return preferred[0].relative_to(build_dir).as_posix() if preferred else None


def stage_command(build_dir: Path, plan: Plan, stage: Stage, extra_args: list[str] | None = None) -> list[str]:
    """argv for one stage, run with cwd = build dir, exactly as the plan's launcher says."""
    script = [stage.script, *(extra_args or [])]
    if stage.launcher == "python":
        return [sys.executable, *script]
    nproc = int(stage.config.get("nproc_per_node") or (plan.launch.num_processes if plan.launch else 1))
    if stage.launcher == "torchrun":
        exe = _tool("torchrun")
        head = [exe] if exe else [sys.executable, "-m", "torch.distributed.run"]
        return [*head, "--nproc_per_node", str(nproc), *script]
    cfg = launch_config_path(build_dir, plan, stage)
    if cfg is None:
        raise RunError(f"stage {stage.id}: launcher accelerate but no launch/*.yaml config in {build_dir}")
    exe = _tool("accelerate")
    head = [exe, "launch"] if exe else [sys.executable, "-m", "accelerate.commands.launch"]
    return [*head, "--config_file", cfg, *script]


def stage_env(build_dir: Path, plan: Plan, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's environment plus the stage environment run.sh sets too (:mod:`specc.build.stage_env`):
    the plan's W&B group, ``WANDB_DIR`` = the build, and project/entity/mode where the user has not set them."""
    return apply_stage_env(os.environ if base is None else base, plan.tracking, str(build_dir.resolve()))


def secret_values(env: Mapping[str, str]) -> list[bytes]:
    """Values of secret-looking variables, longest first (so a key containing another masks whole)."""
    vals = {v for k, v in env.items() if SECRET_NAME.search(k) and len(v) >= 4}
    return sorted((v.encode() for v in vals), key=len, reverse=True)


def redact(data: bytes, secrets: list[bytes]) -> bytes:
    for s in secrets:
        if s in data:
            data = data.replace(s, b"***")
    return data


# ------------------------------------------------------------------------------------ fingerprinting


def _input_path(build_dir: Path, rel: str, spec_dir: Path | None) -> Path | None:
    """Build-produced inputs resolve in the build; data inputs in the spec dir when it is known."""
    if not rel:
        return None
    if os.path.isabs(rel) or rel.startswith(BUILD_PREFIXES):
        return build_dir / rel
    return spec_dir / rel if spec_dir is not None else None


def spec_dir_of(build_dir: Path, script: Path | None = None) -> Path | None:
    """Where spec-relative data paths resolve from, as the stage's script resolves them.

    The lock's ``spec_dir`` when the build records one; else the ``SPEC_DIR = '...'`` literal the
    emitter renders into each script (read with ``ast``, never executed). None when neither is there:
    such inputs are still covered by the script's hash (it embeds the locked data sha256s, and the
    guard refuses data that changed).
    """
    rel = read_lock_section(build_dir).get("spec_dir")
    if not isinstance(rel, str) and script is not None and script.is_file():
        rel = _script_spec_dir(script)
    return Path(os.path.normpath(build_dir / rel)) if isinstance(rel, str) else None


def _script_spec_dir(script: Path) -> str | None:
    import ast

    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "SPEC_DIR" and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            return node.value.value
    return None


def _output_hash(rel: str, path: Path, cache: mf.HashCache) -> str:
    """A stage output's hash (``artifacts/…``: without its model card, which the eval stage writes later); any
    other path's full hash."""
    return mf.artifact_hash(path, cache) if rel.startswith("artifacts/") else mf.hash_path(path, cache)


def fingerprint(build_dir: Path, plan: Plan, stage: Stage,
                m: mf.Manifest) -> tuple[str, dict[str, dict[str, str]]]:
    """(sha256 of the script, {input name: {path, sha256}}) - what decides whether a stage is current."""
    spec_dir = spec_dir_of(build_dir, build_dir / stage.script)
    script_sha = mf.hash_path(build_dir / stage.script, m.cache)
    inputs: dict[str, dict[str, str]] = {}
    for name, rel in sorted(stage.inputs.items()):
        path = _input_path(build_dir, rel, spec_dir)
        if path is not None:
            inputs[name] = {"path": rel, "sha256": _output_hash(rel, path, m.cache)}
        elif rel:
            inputs[name] = {"path": rel, "sha256": "unresolved (spec-relative; locked by the script)"}
    if stage.launcher == "accelerate":
        cfg = launch_config_path(build_dir, plan, stage)
        if cfg:
            inputs["__launch__"] = {"path": cfg, "sha256": mf.hash_path(build_dir / cfg, m.cache)}
    inputs.update(locked_files_now(stage, spec_dir, m.cache))
    return script_sha, inputs


def locked_files_now(stage: Stage, spec_dir: Path | None, cache: mf.HashCache) -> dict[str, dict[str, str]]:
    """The current hashes of the locked files a stage reads (data, golden set, general suites, local
    models), as ``{"locked:<path>": {path, sha256}}`` inputs.

    Why: a file replaced after compile leaves the lock, and so the stage fingerprint, unchanged; hashing
    it here makes a completed stage that reads it count as changed, so it runs and its guard refuses
    the file (exit 3) instead of being skipped as if nothing happened.
    """
    if spec_dir is None:
        return {}
    data, models = fpmod.referenced_files(stage.config)
    out: dict[str, dict[str, str]] = {}
    for entry in data:
        rel = entry["spec_path"]
        out[f"locked:{rel}"] = {"path": rel, "sha256": mf.hash_path(spec_dir / rel, cache)}
    for entry in models:
        if entry.get("source") == "local":
            rel = entry["ref"]
            out[f"locked:{rel}"] = {"path": rel, "sha256": mf.content_sha256(spec_dir / rel, cache)}
    return out


def stage_fingerprint(doc: Mapping[str, Any] | None, stage: Stage,
                      memo: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The stage's fingerprint in the build's ``plan.json`` (None for a build without one)."""
    if doc is None:
        return None
    return dict(fpmod.stage_fingerprint(doc, stage.id, memo))


def _current_reason(rec: Mapping[str, Any], script_sha: str, inputs: Mapping[str, Any], build_dir: Path,
                    stage: Stage, fp: Mapping[str, Any] | None = None) -> str | None:
    """Why a completed stage must rerun, or None when it is up to date."""
    if rec.get("status") != "completed":
        return f"status {rec.get('status')}"
    if fp is not None and (rec.get("fingerprint") or {}).get("digest") != fp.get("digest"):
        return "its inputs' fingerprint changed: " + fpmod.explain(rec.get("fingerprint"), fp)
    if rec.get("script_sha256") != script_sha:
        return "script changed"
    old = rec.get("inputs") or {}
    changed = sorted(k for k in set(old) | set(inputs) if (old.get(k) or {}).get("sha256")
                     != (inputs.get(k) or {}).get("sha256"))
    if changed:
        return "inputs changed: " + ", ".join(changed)
    missing = [k for k, rel in stage.outputs.items() if not (build_dir / rel).exists()]
    if missing:
        return "outputs missing: " + ", ".join(sorted(missing))
    return None


# ------------------------------------------------------------------------------------------- running


def select_stages(plan: Plan, from_stage: str | None, only: str | None) -> tuple[list[Stage], set[str]]:
    """(stages to consider, ids forced to rerun) for the --from / --only options."""
    ids = [s.id for s in plan.stages]
    if from_stage and only:
        raise UsageError("use either --from or --only, not both")
    for opt, val in (("--from", from_stage), ("--only", only)):
        if val is not None and val not in ids:
            raise UsageError(f"{opt} {val}: no such stage; stages are: {', '.join(ids)}")
    if only:
        return [plan.stage(only)], {only}
    if from_stage:
        tail = plan.stages[ids.index(from_stage):]
        return tail, {s.id for s in tail}
    return list(plan.stages), set()


def _check_needs(selected: list[Stage], m: mf.Manifest) -> None:
    chosen = {s.id for s in selected}
    for s in selected:
        for dep in s.needs:
            if dep not in chosen and (m.stages.get(dep) or {}).get("status") != "completed":
                raise UsageError(f"stage {s.id} needs {dep}, which has not completed; "
                                 f"run without --from/--only first (or --from {dep})")


def _recover(m: mf.Manifest, lock: RunLock, plan: Plan, display: Display) -> None:
    """Stages left 'running' by a dead runner become 'interrupted' and are redone."""
    for sid, rec in m.stages.items():
        if rec.get("status") != "running":
            continue
        if _pid_runs(rec.get("pid"), rec.get("script") or sid):
            raise LockHeld(m.build_dir, rec.get("pid"))
        who = f"runner pid {lock.stale_pid}" if lock.stale_pid else "the previous runner"
        rec.update(status="interrupted", note=f"{who} died while this stage ran; it will be rerun "
                   "and resume from its last checkpoint")
        display.info(f"recovering: stage {sid} was interrupted ({who} is gone); it will resume")
    m.save()


def run_build(build_dir: str | os.PathLike[str], *, from_stage: str | None = None, only: str | None = None,
              display: Display | None = None, extra_args: Mapping[str, list[str]] | None = None,
              reuse_from: Sequence[str | os.PathLike[str]] = (), warm: bool = False,
              warm_preload: Sequence[str] | None = None, warm_server: str | os.PathLike[str] | None = None
              ) -> RunResult:
    """Run a compiled build. Never raises for stage failures: they are the result's exit code.

    ``reuse_from``: other builds whose completed stages may be adopted instead of re-run, under the checks
    of :mod:`specc.run.reuse` (same fingerprint and inputs, baseline only), traced in the manifest.
    ``warm``: fork each ``python``-launched stage from one process that imported the training stack once
    (:mod:`specc.run.warm`; ``warm_preload`` overrides what it imports); ``warm_server``: fork them from the
    shared launcher listening there instead (the demo starts one for all its runs)."""
    build = Path(build_dir).resolve()
    display = display or Display()
    plan = load_plan(build)
    if not plan.stages:
        display.info(f"{build}: the plan has no stages to run (it does not train)")
        return RunResult(ExitCode.OK)
    selected, forced = select_stages(plan, from_stage, only)
    try:
        launchers = _Launchers(warm or warm_server is not None, warm_preload, warm_server)
        return _run_locked(build, plan, selected, forced, display, extra_args, "--only" if only else "--from",
                           [Path(p) for p in reuse_from], launchers)
    except OSError as exc:  # a full disk, a read-only build: say so, the manifest on disk stays valid
        raise RunError(_os_problem(build, exc, "cannot write the run's records")) from None


def _run_locked(build: Path, plan: Plan, selected: list[Stage], forced: set[str], display: Display,
                extra_args: Mapping[str, list[str]] | None, forced_by: str,
                reuse_from: list[Path], launchers: "_Launchers") -> RunResult:
    with RunLock(build) as lock, launchers:
        _own_directory(build / "logs", display)
        m = _load_manifest(build, display)
        m.sync_stages((s.id, s.kind, s.script) for s in plan.stages)
        m.data["plan"] = {"name": plan.name, "lock_hash": plan.lock_hash(), "group": plan.tracking.group
                          if plan.tracking else None}
        # runs are numbered so a stage record says which run last started it (a completed stage that this run
        # skips keeps an earlier run's number, launch and times)
        run_no = int((m.data.get("runner") or {}).get("run") or 0) + 1
        m.data["runner"] = {"pid": os.getpid(), "started_at": mf.now_iso(), "run": run_no}
        result = RunResult(ExitCode.OK, recovered_from_pid=lock.stale_pid)
        _recover(m, lock, plan, display)
        _check_needs(selected, m)
        _check_models(build, plan, selected, forced, m)
        env = stage_env(build, plan)
        secrets = secret_values(env)
        total = len(plan.stages)
        order = {s.id: i + 1 for i, s in enumerate(plan.stages)}
        doc = _plan_document(build)
        memo: dict[str, Any] = {}
        for stage in selected:
            script_sha, inputs = fingerprint(build, plan, stage, m)
            fp = stage_fingerprint(doc, stage, memo)
            rec = m.stage(stage.id)
            if stage.id in forced:
                why = forced_by
            else:
                why = _current_reason(rec, script_sha, inputs, build, stage, fp)
                if why is None:
                    display.stage_skipped(stage.id, order[stage.id], total, "completed, inputs unchanged")
                    result.skipped.append(stage.id)
                    continue
            other = _adopt(build, stage, reuse_from, doc, m, script_sha, inputs, fp, display) \
                if reuse_from and stage.id not in forced else None
            if other is not None:
                display.stage_skipped(stage.id, order[stage.id], total, f"reused from {other}: same fingerprint "
                                      f"{fp['digest'][:12]} and inputs")
                result.skipped.append(stage.id)
                continue
            rerun = why if rec.get("status") == "completed" else None
            argv = stage_command(build, plan, stage, (extra_args or {}).get(stage.id))
            launchers.prepare(build, plan, stage, env, display)  # a warm launcher's imports: interruptible
            status = _run_stage(build, stage, argv, env, secrets, m, script_sha, inputs, display,
                                order[stage.id], total, fp=fp, rerun=rerun,
                                launch=lambda a, stage=stage: launchers.start(build, plan, stage, a, env, display))
            result.ran.append(stage.id)
            if status != "completed":
                result.failed = stage.id
                result.exit_code = ExitCode.REFUSED if status == "gated" else ExitCode.INVALID
                if m.stages[stage.id].get("exit_code") == ExitCode.NEEDS_USER:  # e.g. the push stage: no token
                    result.exit_code = ExitCode.NEEDS_USER
                break
        m.data["runner"]["ended_at"] = mf.now_iso()
        m.save()
    return result


def _adopt(build: Path, stage: Stage, reuse_from: list[Path], doc: Mapping[str, Any] | None, m: mf.Manifest,
           script_sha: str, inputs: dict[str, Any], fp: Mapping[str, Any], display: Display) -> Path | None:
    """Adopt ``stage``'s checked outputs from a build in ``reuse_from`` (:func:`reuse.take`) and record where they
    came from (manifest and log): the build they came from, or None when none may give them. A candidate whose
    output changed while it was copied is named, so a user who asked for reuse sees why the stage runs here."""
    marker = fpmod.done_marker_path(fpmod.stage_entry(doc, stage.id) or {}) if doc else None

    def refused(other: Path, output: str) -> None:
        display.info(f"      {stage.id}: not reused from {other}: its {output!r} output changed while it was "
                     "copied (a run of that build rewrote it); the copy was removed")

    taken = reuse.take(build, stage, fp, script_sha, inputs, reuse_from, marker, m.cache, refused)
    if taken is None:
        return None
    other, digests = taken  # hashed once, as the copies in this build: the digests the other build recorded
    outputs = {name: {"path": rel, "exists": True, "sha256": digests[name]}
               for name, rel in sorted(stage.outputs.items())}
    now = mf.now_iso()
    note = f"reused from {other} (completed there with the same fingerprint and inputs); not re-run here"
    m.begin(stage.id, status="completed", script_sha256=script_sha, inputs=inputs, outputs=outputs, exit_code=0,
            started_at=now, ended_at=now, duration_s=0.0, note=note, fingerprint=fp, reused_from=str(other),
            run=m.data["runner"].get("run"))
    with open(build / "logs" / f"{stage.id}.log", "ab") as log:
        log.write(f"### specc run: {stage.id} at {now}: {note}\n".encode())
    return other


def _check_models(build: Path, plan: Plan, selected: list[Stage], forced: set[str], m: mf.Manifest) -> None:
    """Stop before the first stage when a stage still to run loads a local model that is not there."""
    to_run = [s for s in selected if s.id in forced or (m.stages.get(s.id) or {}).get("status") != "completed"]
    if not to_run:
        return
    missing = preflight.missing_models(build, plan, to_run, spec_dir_of(build, build / to_run[0].script))
    if missing:
        raise RunError("\n".join(missing))


def _plan_document(build: Path) -> dict[str, Any] | None:
    try:
        return fpmod.read_build(build)
    except (OSError, ValueError):
        return None


def _own_directory(path: Path, display: Display) -> None:
    """Make ``path`` a real directory inside the build: a planted symlink would send logs elsewhere.

    The build directory belongs to specc (like the emitter, which replaces symlinks where it writes), so
    a symlink here is removed — never followed — and the user is told. A file of that name is the user's:
    it is left alone and the run stops, saying so.
    """
    if path.is_symlink():
        display.info(f"{path.name}/ was a symlink (to {os.readlink(path)}); replacing it with a directory "
                     "inside the build so nothing is written outside it")
        path.unlink()
    if path.exists() and not path.is_dir():
        raise RunError(f"{path} is a file, but the runner keeps its stage logs in a directory of that name; "
                       f"move the file away, then rerun")
    path.mkdir(exist_ok=True)


def _load_manifest(build: Path, display: Display) -> mf.Manifest:
    """The run manifest; a damaged one is moved aside (kept, not deleted) and the run starts a fresh record:
    completed stages then rerun, and their scripts resume from their own checkpoints."""
    try:
        return mf.Manifest.load(build)
    except mf.ManifestDamaged as exc:
        aside = mf.set_aside(build)
        display.info(f"{exc}; moved it to {aside.name} and starting a new record: stages rerun and resume "
                     "from their checkpoints")
        return mf.Manifest(build)


def _run_stage(build: Path, stage: Stage, argv: list[str], env: dict[str, str], secrets: list[bytes],
               m: mf.Manifest, script_sha: str, inputs: dict[str, Any], display: Display,
               index: int, total: int, launch: Any, fp: Mapping[str, Any] | None = None,
               rerun: str | None = None) -> str:
    log_path = build / "logs" / f"{stage.id}.log"
    rec = m.stage(stage.id)
    attempt = int(rec.get("attempts") or 0) + 1
    command = shlex.join(os.path.relpath(a, build) if a == sys.executable else a for a in argv)
    display.stage_started(stage.id, index, total, stage.title, command)
    if rerun:
        display.info(f"      {stage.id}: re-running although it completed before: {rerun}")
    started, t0 = mf.now_iso(), time.monotonic()
    m.begin(stage.id, status="running", script_sha256=script_sha, inputs=inputs, started_at=started,
            attempts=attempt, note=f"re-run: {rerun}" if rerun else "", command=command, fingerprint=fp,
            run=m.data["runner"].get("run"))
    tail: collections.deque[str] = collections.deque(maxlen=25)
    previous_term = signal.getsignal(signal.SIGTERM)

    # While the stage process is being started and recorded, SIGTERM and Ctrl-C are held until its handle is
    # known: raised inside the start, they would leave the new process running, unstopped and unrecorded.
    starting: dict[str, Any] = {"now": False, "held": None}

    def on_term(signum: int, frame: Any) -> None:
        if starting["now"]:
            starting["held"] = starting["held"] or _Terminated
            return
        raise _Terminated()

    def on_int(signum: int, frame: Any) -> None:
        starting["held"] = starting["held"] or KeyboardInterrupt

    in_main = _in_main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, on_term)
    proc: Any = None  # a subprocess.Popen, or a stage forked by the warm launcher (the same interface)
    try:
        with open(log_path, "ab") as log:
            log.write(f"### specc run: {stage.id} attempt {attempt} at {started}: {command}\n".encode())
            if rerun:
                log.write(f"### re-running although it completed before: {rerun}\n".encode())
            log.flush()
            starting["now"] = True
            previous_int = signal.getsignal(signal.SIGINT) if in_main else None
            if not callable(previous_int):  # Ctrl-C ignored (a background run) or not ours to handle: as is
                previous_int = None
            else:
                signal.signal(signal.SIGINT, on_int)
            try:
                proc, how = launch(argv)  # (a subprocess, "cold"), or a stage forked by the warm launcher
                if how == "warm":
                    log.write(f"### forked from the warm launcher (specc run --warm), pid {proc.pid}\n".encode())
                    log.flush()
                m.update(stage.id, pid=proc.pid, launch=how)
            finally:
                starting["now"] = False
                if previous_int is not None:
                    signal.signal(signal.SIGINT, previous_int)
            if starting["held"] is not None:
                raise starting["held"]()
            assert proc.stdout is not None
            for raw in iter(proc.stdout.readline, b""):
                raw = redact(raw, secrets)
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", errors="replace")
                event = parse_line(line)
                if event is not None:
                    display.event(event)
                else:
                    tail.append(line.rstrip("\n"))
            code = proc.wait()
    except (KeyboardInterrupt, _Terminated):
        if proc is not None:
            _stop(proc)
        m.update(stage.id, status="interrupted", exit_code=proc.returncode if proc else None,
                 ended_at=mf.now_iso(), duration_s=round(time.monotonic() - t0, 3),
                 note="stopped by the user; rerun to resume from the last checkpoint")
        display.info(f"      {stage.id}: interrupted; rerun `specc run` to resume")
        raise SystemExit(ExitCode.INTERRUPTED)
    except BaseException:  # e.g. the disk filled up writing the log: never leave the stage running alone
        if proc is not None:
            _stop(proc)
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous_term)
    seconds = round(time.monotonic() - t0, 3)
    outputs = {name: {"path": rel, "exists": (build / rel).exists()} for name, rel in sorted(stage.outputs.items())}
    note = ""
    if code == 0:
        missing = sorted(n for n, o in outputs.items() if not o["exists"])
        status = "failed" if missing else "completed"
        if missing:
            note = "exited 0 but declared outputs are missing: " + ", ".join(missing)
        else:
            for o in outputs.values():
                o["sha256"] = _output_hash(o["path"], build / o["path"], m.cache)
    elif code == ExitCode.REFUSED:
        status, note = "gated", "a gate refused (see the log)"
    elif code == ExitCode.NEEDS_USER:
        status, note = "failed", "needs you (exit 4): see the log, then run again"
    elif code < 0:
        status, note = "failed", f"killed by signal {-code}"
    else:
        status, note = "failed", f"exit code {code}"
    m.update(stage.id, status=status, exit_code=code, outputs=outputs, ended_at=mf.now_iso(), duration_s=seconds,
             note=note or (f"re-run: {rerun}" if rerun else ""))
    display.stage_finished(stage.id, status, seconds, note)
    if status != "completed":
        rel_log = log_path.relative_to(build).as_posix()
        display.info(f"      last lines of {rel_log}:\n" + "\n".join(f"        | {t}" for t in tail))
    return status


def _cold(argv: list[str], build: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=build, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, bufsize=0)


class _Launchers:
    """How a run starts its stages: each as its own process (cold), or with ``specc run --warm`` forked from a
    warm launcher (:mod:`specc.run.warm`): the run's own, started when its first ``python`` stage is to run
    and stopped with the run, or the shared one at ``server``. Other launchers (torchrun, accelerate) are
    always cold; so is every stage after the launcher could not serve (said once, with the reason)."""

    def __init__(self, warm: bool, preload: Sequence[str] | None = None,
                 server: str | os.PathLike[str] | None = None):
        self.warm = warm
        self.preload = preload
        self.server = server
        self.launcher: Any = None
        self.refused: str | None = None

    def start(self, build: Path, plan: Plan, stage: Stage, argv: list[str], env: Mapping[str, str],
              display: Display) -> tuple[Any, str]:
        """(the stage's process, "warm" or "cold")."""
        from specc.run import warm

        launcher = self._get(build, plan, stage, env, display)
        if launcher is not None:
            try:
                return launcher.spawn(argv), "warm"
            except warm.WarmUnavailable as exc:
                self._refuse(str(exc), display)
        return _cold(argv, build, env), "cold"

    def prepare(self, build: Path, plan: Plan, stage: Stage, env: Mapping[str, str], display: Display) -> None:
        """Start the warm launcher this stage will be forked from, and wait for its imports (seconds to
        minutes), before the stage's start, during which the runner holds SIGTERM and Ctrl-C back."""
        self._get(build, plan, stage, env, display)

    def _refuse(self, why: str, display: Display) -> None:
        if self.launcher is not None:
            self.launcher.close()
            self.launcher = None
        self.refused = why
        display.info(f"warm launcher unavailable ({why}); stages start as their own processes")

    def _get(self, build: Path, plan: Plan, stage: Stage, env: Mapping[str, str], display: Display) -> Any:
        if not self.warm or self.refused or stage.launcher != "python":
            return None
        if self.launcher is None:
            from specc.run import warm

            try:
                if self.server is not None:
                    self.launcher = warm.WarmLauncher.connect(self.server, build, env)
                else:
                    scripts = [s.script for s in plan.stages if s.launcher == "python"]
                    self.launcher = warm.WarmLauncher(build, env, scripts, self.preload,
                                                      log_path=build / "logs" / "warm-launcher.log")
                info = self.launcher.wait_ready()
            except (warm.WarmUnavailable, OSError) as exc:
                self.launcher = None
                self._refuse(str(exc), display)
                return None
            where = f"shared launcher {self.server}" if self.server is not None else "its own launcher"
            display.info(f"warm launcher ready ({where}: imported the training stack once in "
                         f"{info['seconds']:.1f} s); each python stage is forked from it")
        return self.launcher

    def __enter__(self) -> "_Launchers":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.launcher is not None:
            self.launcher.close()
            self.launcher = None


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _stop(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """Ask the stage to stop (SIGTERM), then SIGKILL after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------------------ compiling


def compile_spec(spec_path: Path, out_dir: Path | None) -> Path:
    """Compile a spec the way ``specc compile`` does (one function, one default: ``build/<name>`` next to the
    spec); a spec that does not compile becomes a :class:`RunError` carrying the compile's exit code."""
    from specc.build.compile import CompileRefused, compile_spec_file

    lines: list[str] = []
    try:
        return compile_spec_file(spec_path, out_dir,
                                 warn=lambda level, text: lines.append(f"  {level}: {text}")).out
    except CompileRefused as exc:
        errors = [line for line in lines if line.startswith("  error")]
        err = RunError("\n".join([exc.message, *errors]))
        err.exit_code = exc.exit_code
        raise err from None

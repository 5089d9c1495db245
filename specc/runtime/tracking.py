"""Weights & Biases tracking for emitted stages: one run per stage, all stages of a build in one group.

Why this wrapper: every stage must track the same way — the run named after the stage, grouped by the
plan's group (name + lock hash, so a W&B group *is* a reviewed plan), its resolved config attached, files
under the build directory — and keys must only ever come from the environment. Settings come from the
environment that run.sh / the runner export (``SPECC_WANDB_GROUP``, ``WANDB_PROJECT``, ``WANDB_ENTITY``,
``SPECC_WANDB_MODE``), falling back to the plan's values in the script's CONFIG when a script is run by
hand. ``auto`` mode means online when ``WANDB_API_KEY`` is set and offline otherwise, so a run without
credentials still records everything locally (``wandb sync`` uploads it later).

Tracking never fails training: any W&B error is reported and the stage continues untracked.
Trainer-based stages pass :func:`report_to` to their TRL config; transformers' WandbCallback then finds
the run started here and logs into it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any, Iterator

from specc.runtime.common import dist_info, log

__all__ = ["resolve_mode", "stage_run", "report_to", "log_summary", "log_artifact", "log_final_model"]

_run: Any = None


def resolve_mode(tracking: dict[str, Any] | None = None) -> str:
    """online, offline or disabled for this process."""
    tracking = tracking or {}
    if tracking.get("backend") == "none" and "SPECC_WANDB_MODE" not in os.environ:
        return "disabled"
    mode = os.environ.get("SPECC_WANDB_MODE") or tracking.get("mode") or "auto"
    if mode not in ("auto", "online", "offline", "disabled"):
        log(f"SPECC_WANDB_MODE={mode!r} is not online/offline/disabled/auto; using offline")
        mode = "offline"
    if mode == "auto":
        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
    return mode


@contextlib.contextmanager
def stage_run(stage_id: str, job_type: str, config: dict[str, Any],
              tracking: dict[str, Any] | None = None) -> Iterator[Any]:
    """Start the W&B run of one stage (rank 0 only); yields the run, or None when untracked."""
    global _run
    tracking = tracking or {}
    mode = resolve_mode(tracking)
    rank, _ = dist_info()
    if mode == "disabled" or rank != 0:
        yield None
        return
    group = os.environ.get("SPECC_WANDB_GROUP") or tracking.get("group")
    project = os.environ.get("WANDB_PROJECT") or tracking.get("project")
    entity = os.environ.get("WANDB_ENTITY") or tracking.get("entity")
    build_dir = os.environ.get("WANDB_DIR") or str(Path.cwd())
    # transformers' WandbCallback reads these; set them so it joins this run rather than starting another.
    os.environ.update({"WANDB_MODE": mode, "WANDB_DIR": build_dir})
    if project:
        os.environ["WANDB_PROJECT"] = project
    if group:
        os.environ["WANDB_RUN_GROUP"] = group
    os.environ.setdefault("WANDB_LOG_MODEL", "false")
    _run = _init(mode, dict(project=project, entity=entity, group=group, name=stage_id, job_type=job_type,
                            config=config, dir=build_dir, reinit="finish_previous"))
    failed = False
    try:
        yield _run
    except BaseException:
        failed = True
        raise
    finally:
        run, _run = _run, None
        if run is not None:
            try:
                run.finish(exit_code=1 if failed else 0)
            except Exception as exc:  # noqa: BLE001
                log(f"W&B finish failed ({exc})")


DEFAULT_INIT_TIMEOUT_S = 15.0
"""How long an online ``wandb.init`` may wait for the server (wandb's own default is 90 s, and with retries
an unreachable server cost about 100 s per stage). ``SPECC_WANDB_INIT_TIMEOUT`` or ``WANDB_INIT_TIMEOUT``
override it."""


UNREACHABLE_MARKER = ".specc-wandb-unreachable"
"""Written in the build directory when an online init timed out; for :data:`UNREACHABLE_FOR_S` the next
stages record offline at once instead of each waiting for the timeout again."""
UNREACHABLE_FOR_S = 900


def _recently_unreachable(marker: Path) -> bool:
    try:
        return time.time() - float(marker.read_text(encoding="utf-8").strip()) < UNREACHABLE_FOR_S
    except (OSError, ValueError):
        return False


def init_timeout() -> float:
    for name in ("SPECC_WANDB_INIT_TIMEOUT", "WANDB_INIT_TIMEOUT"):
        try:
            value = float(os.environ[name])
        except (KeyError, ValueError):
            continue
        if value > 0:
            return value
    return DEFAULT_INIT_TIMEOUT_S


def _init(mode: str, kwargs: dict[str, Any]) -> Any:
    """``wandb.init`` that never raises: online gets a short timeout and falls back to offline (one line
    says so; ``wandb sync`` uploads the run later); any other failure continues untracked."""
    try:
        import wandb
    except Exception as exc:  # noqa: BLE001 - tracking must never fail training
        log(f"W&B unavailable ({type(exc).__name__}: {exc}); continuing untracked")
        return None
    marker = Path(str(kwargs.get("dir") or ".")) / UNREACHABLE_MARKER
    if mode == "online" and _recently_unreachable(marker):
        log(f"W&B server was unreachable for an earlier stage of this build; recording offline "
            f"(upload later with `wandb sync {kwargs.get('dir')}/wandb`)")
        mode = "offline"
        os.environ["WANDB_MODE"] = "offline"
    try:
        settings = wandb.Settings(init_timeout=init_timeout()) if mode == "online" else None
        run = wandb.init(mode=mode, settings=settings, **kwargs)
        log(f"W&B {mode} run {kwargs.get('name')!r} in group {kwargs.get('group')!r}")
        return run
    except Exception as exc:  # noqa: BLE001
        if mode != "online":
            log(f"W&B unavailable ({type(exc).__name__}: {exc}); continuing untracked")
            return None
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        log(f"W&B server not reachable within {init_timeout():g} s ({first}); recording offline instead "
            f"(upload later with `wandb sync {kwargs.get('dir')}/wandb`)")
        try:  # the next stages of this build skip the wait
            marker.write_text(f"{time.time():.0f}\n", encoding="utf-8")
        except OSError:
            pass
    try:
        os.environ["WANDB_MODE"] = "offline"  # transformers' WandbCallback must join the offline run
        return wandb.init(mode="offline", **kwargs)
    except Exception as exc:  # noqa: BLE001
        log(f"W&B offline failed too ({type(exc).__name__}: {exc}); continuing untracked")
        return None


def report_to() -> list[str] | str:
    """``report_to`` for a TRL/transformers config: into the active run, or nowhere."""
    return ["wandb"] if _run is not None else "none"


def log_summary(values: dict[str, Any]) -> None:
    """Put values into the active run's summary (and log them once as a step)."""
    if _run is None:
        return
    try:
        _run.log(values)
        for key, value in values.items():
            _run.summary[key] = value
    except Exception as exc:  # noqa: BLE001
        log(f"W&B log failed ({exc})")


def log_artifact(path: str | os.PathLike[str], name: str, type: str) -> None:  # noqa: A002 - W&B's word
    """Upload a file or directory as a W&B artifact (when the spec's tracking.log_model asks for it)."""
    if _run is None:
        return
    try:
        import wandb

        artifact = wandb.Artifact(name, type=type)
        p = Path(path)
        artifact.add_dir(str(p)) if p.is_dir() else artifact.add_file(str(p))
        _run.log_artifact(artifact)
    except Exception as exc:  # noqa: BLE001
        log(f"W&B artifact upload failed ({exc})")


def log_final_model(config: dict[str, Any], path: str | os.PathLike[str]) -> bool:
    """Upload a stage's final adapter or model (``path``) as a ``model`` artifact named
    ``<stage>-<adapter|model>``, when the plan's ``tracking.log_model`` asks for it. True when asked."""
    if not (config.get("tracking") or {}).get("log_model"):
        return False
    what = "adapter" if (Path(path) / "adapter_config.json").is_file() else "model"
    log_artifact(path, f"{config['stage']}-{what}", "model")
    return True

"""The warm stage launcher (``specc run --warm``): fork each single-process stage from one process that has
already imported the training stack, instead of starting a fresh Python that imports it again.

Why: a stage process of the demo spends about 3.5 s of CPU importing torch and transformers (4.6 s with
peft, which pulls in bitsandbytes) before it does 1-10 s of work; the demo starts ~35 of them. Here one
process per run (the *zygote*, a child of the runner) imports them once; each stage is a ``fork()`` of it
that runs the stage script as ``__main__`` (see :func:`_run_as_main`), exactly where a cold
``python stages/NN_x.py`` would: same cwd (the build), same environment (the zygote is started with the
stage environment), same ``sys.argv``, ``sys.path[0]`` = the script's folder, stdin from /dev/null,
stdout and stderr into the runner's pipe, and the interpreter's own exit path (atexit, threads joined,
an uncaught exception printed and exit 1, ``sys.exit(n)`` → n).

A zygote can also be shared by several runs (:class:`WarmServer`, ``specc run --warm-server``: the demo's
nine runs share one, so the stack is imported once for the whole demo). Each request then carries the
run's stage environment, which may differ from the zygote's only in W&B variables (:data:`ENV_MAY_DIFFER`).

What it keeps from the runner's contract, and how:

* exit codes and signals: the zygote reports each child's wait status (negative = killed by that signal);
  the runner signals the child's pid directly (SIGTERM, then SIGKILL), as it does a cold process;
* the recovery check (a stage left "running" by a dead runner whose process still runs): the zygote's
  command line names every stage script it may run, so ``/proc/<pid>/cmdline`` of a forked stage names
  its script as a cold one's does;
* fork safety: the zygote refuses to serve (and the runner launches cold, saying so) when, after its
  imports, it runs more than one thread or has loaded the CUDA driver (``libcuda`` mapped): a fork then
  would copy locks held by threads that do not exist in the child, or a CUDA context the child cannot use.
  Measured with torch 2.x CPU: importing torch starts one OpenMP worker thread unless OMP_NUM_THREADS=1,
  so ``--warm`` serves runs whose stages use one torch thread (the demo's: two runs at a time, one thread
  each) and falls back to cold launches otherwise. On a machine with an NVIDIA device peft is not
  preloaded (bitsandbytes asks torch whether CUDA is available when imported);
* fresh randomness: the child reseeds Python's ``random`` (and numpy's global generator, when loaded)
  from the OS, as a new process would; stages seed their own generators from the plan anyway.

Only stages launched with plain ``python`` use it; ``torchrun`` / ``accelerate launch`` stages start their
own worker processes and are launched as before. This module is light on the runner's side: the training
stack is imported only inside the zygote process (:func:`main`).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

PRELOAD = ("torch", "transformers", "transformers:AutoConfig", "transformers:AutoModelForCausalLM",
           "transformers:AutoTokenizer", "transformers:PreTrainedModel", "specc.runtime.common",
           "specc.runtime.guard", "specc.runtime.suites", "specc.runtime.tracking")
"""What the zygote imports for a real build: what every torch-using stage imports first. ``module:attr``
touches a lazy attribute (transformers loads its model code on first access)."""
PRELOAD_CPU_ONLY = ("peft", "peft:PeftModel", "peft:LoraConfig")
"""Preloaded too where no NVIDIA device is present: importing peft imports bitsandbytes, which asks
torch whether CUDA is available — that loads the CUDA driver, after which a fork cannot use CUDA."""
READY_TIMEOUT_S = 300.0
MSG_SIZE = 1 << 16


def default_preload() -> tuple[str, ...]:
    """``SPECC_WARM_PRELOAD`` (comma-separated, may be empty) when set; else the training stack."""
    named = os.environ.get("SPECC_WARM_PRELOAD")
    if named is not None:
        return tuple(n.strip() for n in named.split(",") if n.strip())
    gpu = any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0"))
    return PRELOAD if gpu else PRELOAD + PRELOAD_CPU_ONLY


# ------------------------------------------------------------------------------------- runner side


class WarmUnavailable(Exception):
    """The zygote could not start or refused to serve (why is the message); stages launch cold."""


ENV_MAY_DIFFER = ("WANDB_", "SPECC_WANDB_")
"""Prefixes of the variables in which a stage's environment may differ from the zygote's: the per-build W&B
settings of :mod:`specc.build.stage_env`, read when a stage starts its W&B run, never at import. Any other
difference (a thread count, a cache path) could have been read by the zygote's imports: refused."""


def _zygote_argv(preload: Sequence[str] | None, scripts: Sequence[str], *fds: str) -> list[str]:
    preload = default_preload() if preload is None else tuple(preload)
    return [sys.executable, "-m", "specc.run.warm", *fds, "--preload", ",".join(preload), "--", *scripts]


class WarmLauncher:
    """A runner's handle on a zygote: its own (started here, a child of the runner, serving this run), or a
    shared one (``connect``: a :class:`WarmServer` another process started, e.g. the demo for all its runs).
    Fork stages from it with :meth:`spawn`; :meth:`close` hangs up."""

    def __init__(self, cwd: Path, env: Mapping[str, str], scripts: Sequence[str],
                 preload: Sequence[str] | None = None, log_path: Path | None = None):
        self.cwd = cwd
        self.env = dict(env)
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                _zygote_argv(preload, scripts, "--fd", str(theirs.fileno())), cwd=cwd, env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
            if log is not subprocess.DEVNULL:
                log.close()
        self.info: dict[str, Any] | None = None

    @classmethod
    def connect(cls, address: str | os.PathLike[str], cwd: Path, env: Mapping[str, str]) -> "WarmLauncher":
        """A handle on the shared zygote listening at ``address``; the stages it forks get ``env``."""
        self = cls.__new__(cls)
        self.cwd, self.env, self.proc, self.info = cwd, dict(env), None, None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.sock.connect(os.fspath(address))
        except OSError as exc:
            self.sock.close()
            raise WarmUnavailable(f"no warm launcher at {os.fspath(address)} ({exc.strerror or exc})") from None
        return self

    def _gone(self) -> str:
        return f"exit {self.proc.poll()}" if self.proc is not None else "it hung up"

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Block until the zygote has imported its preload; raise :class:`WarmUnavailable` if it will not serve."""
        if self.info is None:
            try:
                msg = _recv(self.sock, timeout)
            except EOFError:
                msg = None
            if msg is None:
                self.close()
                raise WarmUnavailable(f"the warm launcher did not start ({self._gone()})")
            if not msg.get("ready"):
                self.close()
                raise WarmUnavailable(msg.get("why") or "the warm launcher refused to serve")
            self.info = msg
        return self.info

    def spawn(self, argv: Sequence[str]) -> "WarmProcess":
        """Fork a stage: ``argv`` is the cold command (``[sys.executable, script, *args]``), run in ``cwd``."""
        self.wait_ready()
        read_end, write_end = os.pipe()
        job = {"argv": list(argv[1:]), "cwd": str(self.cwd), "env": self.env}
        try:
            socket.send_fds(self.sock, [json.dumps(job).encode()], [write_end])
        except OSError as exc:
            os.close(read_end)
            raise WarmUnavailable(f"the warm launcher is gone ({exc.strerror or exc})") from None
        finally:
            os.close(write_end)
        stdout = open(read_end, "rb", buffering=0)  # noqa: SIM115 - closed by the runner's Popen-like use
        try:  # no timeout: giving up here and launching cold could run the stage twice
            msg = _recv(self.sock, None)
        except EOFError:
            msg = None
        if msg is None or "pid" not in msg:
            stdout.close()
            why = (msg or {}).get("refused") or f"the warm launcher did not fork the stage ({self._gone()})"
            raise WarmUnavailable(why)
        return WarmProcess(self, int(msg["pid"]), stdout)

    def close(self) -> None:
        """Hang up (a zygote of our own exits when it reads end-of-file) and reap it."""
        try:
            self.sock.close()
        finally:
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


class WarmServer:
    """A zygote shared by several runs (the demo's nine ``specc run --warm-server ADDRESS``): it listens on a
    Unix socket in a private (0700) temporary folder, so only this user's processes can ask it to fork.

    Started with the environment its stages share; each run's stage environment may differ from it only in
    the W&B variables (:data:`ENV_MAY_DIFFER`), else the stage is refused and that run launches cold."""

    def __init__(self, env: Mapping[str, str], scripts: Sequence[str], preload: Sequence[str] | None = None,
                 log_path: Path | None = None, cwd: Path | None = None):
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix="specc-warm-"))
        self.address = self.folder / "launcher.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(str(self.address))
        listener.listen(64)
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fds = (theirs.fileno(), listener.fileno())
        log = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                _zygote_argv(preload, scripts, "--fd", str(fds[0]), "--listen-fd", str(fds[1])),
                cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=fds)
        finally:
            theirs.close()
            listener.close()
            if log is not subprocess.DEVNULL:
                log.close()

    def close(self) -> None:
        """Stop it: it forks nothing more, waits for the stages still running, then exits."""
        try:
            self.sock.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        finally:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "WarmServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class WarmProcess:
    """A forked stage, with the part of :class:`subprocess.Popen` the runner uses."""

    def __init__(self, launcher: WarmLauncher, pid: int, stdout: Any):
        self.launcher = launcher
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self.args = ["<warm>", str(pid)]

    def poll(self) -> int | None:
        if self.returncode is None:
            self._collect(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._collect(timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return self.returncode

    def _collect(self, timeout: float | None) -> None:
        try:
            msg = _recv(self.launcher.sock, timeout)
        except EOFError:  # the zygote died: wait (up to ``timeout``) for the stage to go; how it ended is unknown
            self.returncode = _gone(self.pid, timeout)
            return
        if msg is not None and msg.get("pid") == self.pid and "returncode" in msg:
            self.returncode = int(msg["returncode"])

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _ended(pid: int) -> bool:
    """``pid`` no longer runs: gone, or a zombie (ended, not reaped yet). An orphaned stage is reaped by
    whoever adopts it, and a container's PID 1 that is not an init never does: waiting for the pid to vanish
    would then wait forever. One read of /proc/PID/stat (the process may go between two looks)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process now holds the pid: ours is gone
        return True
    if not os.path.isdir("/proc/self"):
        return False  # no /proc (not Linux): alive is all we can tell
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # reaped since the kill(0)
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def _gone(pid: int, timeout: float | None = None) -> int | None:
    """A stage whose zygote died: wait for it to end (it is not our child), then report it as killed; None when
    it is still there after ``timeout`` seconds (so the runner's terminate-wait-kill escalation goes on)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if _ended(pid):
            return -signal.SIGKILL
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def _recv(sock: socket.socket, timeout: float | None) -> dict[str, Any] | None:
    """One message; None when ``timeout`` (seconds) passes with nothing; EOFError when the other end is gone."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(MSG_SIZE)
    except (TimeoutError, BlockingIOError):
        return None
    except OSError:
        raise EOFError from None
    finally:
        sock.settimeout(None)
    if not data:
        raise EOFError
    return json.loads(data)


# -------------------------------------------------------------------------------------- the zygote


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: no way to check, so do not claim it is safe
        return -1


def _cuda_driver_loaded() -> bool:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return any("libcuda.so" in line for line in f)
    except OSError:
        return False


def _preload(names: Sequence[str]) -> None:
    for name in names:
        module, _, attr = name.partition(":")
        mod = importlib.import_module(module)
        if attr:
            getattr(mod, attr)


def _readiness(preload: Sequence[str]) -> dict[str, Any]:
    """Import ``preload``; then the ready message, or the refusal saying why forking would not be safe."""
    if not (hasattr(os, "fork") and hasattr(os, "pidfd_open")):  # the loop below waits on pidfds (Linux 5.3+)
        return {"ready": False, "why": "the warm launcher needs Linux (fork and pidfd_open)"}
    t0 = time.perf_counter()
    try:
        _preload(preload)
    except Exception as exc:  # noqa: BLE001 - reported to the runner, which launches cold instead
        return {"ready": False, "why": f"the warm launcher could not import {type(exc).__name__}: {exc}"}
    threads = _threads()
    if threads != 1:
        return {"ready": False, "why": (
            f"the warm launcher runs {threads} threads after its imports (a fork copies only one; torch "
            f"starts its OpenMP pool on import unless OMP_NUM_THREADS=1)" if threads > 1
            else "the warm launcher cannot count its threads on this system (no /proc)")}
    if _cuda_driver_loaded():
        return {"ready": False, "why": "the warm launcher's imports loaded the CUDA driver (a forked child "
                                       "could not use CUDA)"}
    # What the imports left is never garbage: keep the collector of each child from walking (and so
    # copying, page by page) the zygote's heap.
    gc.collect()
    gc.freeze()
    return {"ready": True, "seconds": round(time.perf_counter() - t0, 3), "modules": len(sys.modules)}


def _env_refusal(env: Mapping[str, str] | None, started: Mapping[str, str]) -> str | None:
    """Why a stage's environment cannot be served by a zygote started with ``started``, or None."""
    if env is None:
        return None
    differ = sorted(k for k in set(env) | set(started) if env.get(k) != started.get(k)
                    and not k.startswith(ENV_MAY_DIFFER))
    if differ:
        return (f"the stage environment differs from the warm launcher's in {', '.join(differ[:5])}"
                f"{' …' if len(differ) > 5 else ''} (only W&B variables may)")
    return None


def _send(conn: socket.socket, msg: Mapping[str, Any]) -> None:
    try:
        conn.send(json.dumps(msg).encode())
    except OSError:  # that runner is gone; its stage runs on, as a cold stage would
        pass


def _refuse_until_closed(control: socket.socket, listener: socket.socket, refusal: Mapping[str, Any]) -> None:
    """A shared zygote that will not serve still answers each run that connects, with the reason, until
    whoever started it hangs up: each run's log then says why its stages started cold."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(control, selectors.EVENT_READ, "control")
    sel.register(listener, selectors.EVENT_READ, "listen")
    while True:
        for key, _ in sel.select():
            if key.data == "listen":
                conn, _addr = listener.accept()
                _send(conn, refusal)
                conn.close()
            elif not control.recv(MSG_SIZE):
                return


def serve(control: socket.socket, preload: Sequence[str],
          listener: socket.socket | None = None) -> dict[str, Any] | None:
    """The zygote's loop: fork a stage per request, report each one's exit status to whoever asked.

    ``control`` is the process that started the zygote (a runner; for a shared zygote, the demo): when it
    hangs up, no new connection is taken and the zygote exits once its stages have ended. Returns None in
    the zygote when it is done; in a forked child, the stage job to run (the child's copies of the
    zygote's sockets already closed)."""
    import selectors

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the runner decides
    started = dict(os.environ)
    ready = _readiness(preload)
    # what the imports themselves set (torch: TORCHINDUCTOR_CACHE_DIR), as they would in a cold stage
    imported = {k: os.environ.get(k) for k in set(started) | set(os.environ) if started.get(k) != os.environ.get(k)}
    _send(control, ready)
    if not ready["ready"]:
        print(f"[specc] warm launcher: not serving: {ready['why']}", file=sys.stderr, flush=True)
        if listener is not None:
            _refuse_until_closed(control, listener, ready)
        return None
    sel = selectors.DefaultSelector()
    sel.register(control, selectors.EVENT_READ, "conn")
    if listener is not None:
        sel.register(listener, selectors.EVENT_READ, "listen")
    running: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the connection that asked)
    conns = {control}
    closing = False
    while not (closing and not running):
        for key, _ in sel.select():
            what = key.data
            if what == "listen":
                conn, _addr = listener.accept()  # type: ignore[union-attr]
                conns.add(conn)
                sel.register(conn, selectors.EVENT_READ, "conn")
                _send(conn, ready)
            elif what == "conn":
                conn = key.fileobj  # type: ignore[assignment]
                try:
                    data, fds, _flags, _addr = socket.recv_fds(conn, MSG_SIZE, 1)
                except OSError:
                    data, fds = b"", []
                if not data:
                    sel.unregister(conn)
                    conns.discard(conn)
                    conn.close()
                    if conn is control:
                        closing = True
                        if listener is not None:
                            sel.unregister(listener)
                            listener.close()
                            listener = None
                    continue
                job = json.loads(data)
                refusal = _env_refusal(job.get("env"), started)
                if refusal:
                    for fd in fds:
                        os.close(fd)
                    _send(conn, {"refused": refusal})
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    for pidfd in running:
                        os.close(pidfd)
                    for other in conns:
                        other.close()
                    if listener is not None:
                        listener.close()
                    sel.close()
                    job["fd"] = fds[0]
                    if job.get("env") is not None:
                        job["env"] = {**job["env"], **{k: v for k, v in imported.items() if v is not None}}
                        for k in [k for k, v in imported.items() if v is None]:
                            job["env"].pop(k, None)
                    return job
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                running[pidfd] = (pid, conn)
                sel.register(pidfd, selectors.EVENT_READ, "child")
                _send(conn, {"pid": pid})
            else:  # a stage ended
                pidfd = key.fd
                pid, conn = running.pop(pidfd)
                sel.unregister(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                if conn in conns:
                    _send(conn, {"pid": pid, "returncode": os.waitstatus_to_exitcode(status)})
    return None


def become_stage(job: Mapping[str, Any]) -> str:
    """In the forked child: take the stage's stdio, cwd, argv and fresh randomness; return its script."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    fd = int(job["fd"])
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.chdir(job["cwd"])
    if job.get("env") is not None:  # a shared zygote: this run's stage environment (checked by the zygote)
        os.environ.clear()
        os.environ.update(job["env"])
    argv = [str(a) for a in job["argv"]]
    sys.argv = argv
    script = os.path.abspath(argv[0])  # __main__.__file__ is absolute in a cold Python too (3.9+)
    sys.path[0] = os.path.dirname(script)
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    return script


def run_stage(job: Mapping[str, Any]) -> None:
    """Run the stage script as ``__main__`` and end the child the way ``python script.py`` ends.

    What the interpreter does at exit that a stage can observe is done here, in its order: report an
    uncaught exception (``sys.excepthook``: the traceback, exit 1) or the ``sys.exit`` value, join the
    non-daemon threads, run the ``atexit`` callbacks, flush stdout and stderr. What it does not do is tear
    down every module: that decref-walks the whole inherited heap, copying it page by page (measured: 1.3 s
    of CPU per stage, 70k page faults), for objects the exit frees anyway. A Ctrl-C that the stage does
    not handle ends it by SIGINT, as it ends a cold Python. (multiprocessing ends its forked children the
    same way: ``os._exit`` after its own exit handlers.)"""
    import atexit
    import threading

    code, by_signal = 0, None
    try:
        _run_as_main(become_stage(job))
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        code, by_signal = 1, signal.SIGINT
    except BaseException:  # noqa: BLE001 - reported exactly as the interpreter reports it
        sys.excepthook(*sys.exc_info())
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # what Py_Finalize calls first
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed stream: nothing left to flush
                pass
        if by_signal is not None:
            signal.signal(by_signal, signal.SIG_DFL)
            os.kill(os.getpid(), by_signal)
        os._exit(code)


def _run_as_main(script: str) -> None:
    """Execute ``script`` as ``python script`` does: in a fresh ``__main__`` module (replacing the zygote's),
    ``__file__`` absolute, ``sys.argv[0]`` as given (``runpy.run_path`` would rewrite it)."""
    import builtins
    import io
    import types
    from importlib.machinery import SourceFileLoader

    with io.open_code(script) as f:
        code = compile(f.read(), script, "exec")
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=script, __cached__=None, __builtins__=builtins,
                         __loader__=SourceFileLoader("__main__", script))
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _exit_status(value: Any) -> int:
    """The process status ``sys.exit(value)`` gives: None 0, an int itself, anything else printed and 1."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    try:
        print(value, file=sys.stderr)
    except Exception:  # noqa: BLE001
        pass
    return 1


def main(args: Sequence[str]) -> None:
    """``python -m specc.run.warm --fd N [--listen-fd L] --preload a,b -- SCRIPT...`` (started by
    :class:`WarmLauncher` or :class:`WarmServer`; the SCRIPTs are only named, so that a forked stage's
    command line names its script as a cold one's does)."""
    fd = int(args[args.index("--fd") + 1])
    listen = int(args[args.index("--listen-fd") + 1]) if "--listen-fd" in args else None
    preload = [p for p in args[args.index("--preload") + 1].split(",") if p]
    job = serve(socket.socket(fileno=fd), preload, socket.socket(fileno=listen) if listen is not None else None)
    if job is not None:  # a forked child: never returns
        run_stage(job)


if __name__ == "__main__":
    main(sys.argv[1:])

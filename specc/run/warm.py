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


class WarmLauncher:
    """The runner's handle on one zygote: start it, fork stages from it, stop it."""

    def __init__(self, cwd: Path, env: Mapping[str, str], scripts: Sequence[str],
                 preload: Sequence[str] | None = None, log_path: Path | None = None):
        self.cwd = cwd
        self.env = dict(env)
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        preload = default_preload() if preload is None else tuple(preload)
        argv = [sys.executable, "-m", "specc.run.warm", "--fd", str(theirs.fileno()),
                "--preload", ",".join(preload), "--", *scripts]
        log = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(argv, cwd=cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
            if log is not subprocess.DEVNULL:
                log.close()
        self.info: dict[str, Any] | None = None

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Block until the zygote has imported its preload; raise :class:`WarmUnavailable` if it will not serve."""
        if self.info is None:
            msg = _recv(self.sock, timeout)
            if msg is None:
                self.close()
                raise WarmUnavailable(f"the warm launcher did not start (exit {self.proc.poll()})")
            if not msg.get("ready"):
                self.close()
                raise WarmUnavailable(msg.get("why") or "the warm launcher refused to serve")
            self.info = msg
        return self.info

    def spawn(self, argv: Sequence[str]) -> "WarmProcess":
        """Fork a stage: ``argv`` is the cold command (``[sys.executable, script, *args]``), run in ``cwd``."""
        self.wait_ready()
        read_end, write_end = os.pipe()
        try:
            socket.send_fds(self.sock, [json.dumps({"argv": list(argv[1:]), "cwd": str(self.cwd)}).encode()],
                            [write_end])
        finally:
            os.close(write_end)
        stdout = open(read_end, "rb", buffering=0)  # noqa: SIM115 - closed by the runner's Popen-like use
        msg = _recv(self.sock, 60.0)
        if msg is None or "pid" not in msg:
            stdout.close()
            raise WarmUnavailable(f"the warm launcher did not fork the stage (exit {self.proc.poll()})")
        return WarmProcess(self, int(msg["pid"]), stdout)

    def close(self) -> None:
        """Hang up (the zygote exits when it reads end-of-file) and reap it."""
        try:
            self.sock.close()
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
        msg = _recv(self.launcher.sock, timeout)
        if msg is None:
            if self.launcher.proc.poll() is not None:  # the zygote died: the stage's status is unknowable
                self.returncode = _gone(self.pid)
            return
        if msg.get("pid") == self.pid and "returncode" in msg:
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


def _gone(pid: int) -> int:
    """A stage whose zygote died: wait for it to go (it is not our child), then report it as killed."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return -signal.SIGKILL
        time.sleep(0.1)


def _recv(sock: socket.socket, timeout: float | None) -> dict[str, Any] | None:
    """One message, or None at end-of-file; None also when ``timeout`` (seconds) passes with nothing."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(MSG_SIZE)
    except (TimeoutError, BlockingIOError):
        return None
    except ConnectionResetError:
        return None
    finally:
        sock.settimeout(None)
    return json.loads(data) if data else None


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


def serve(sock: socket.socket, preload: Sequence[str]) -> dict[str, Any] | None:
    """The zygote's loop. Returns None when the runner hangs up; in a forked child, the stage job to run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the runner decides
    t0 = time.perf_counter()
    try:
        _preload(preload)
    except Exception as exc:  # noqa: BLE001 - reported to the runner, which launches cold instead
        sock.send(json.dumps({"ready": False, "why": f"the warm launcher could not import "
                                                      f"{type(exc).__name__}: {exc}"}).encode())
        return None
    threads = _threads()
    why = None
    if threads != 1:
        why = (f"the warm launcher runs {threads} threads after its imports (a fork copies only one; torch "
               f"starts its OpenMP pool on import unless OMP_NUM_THREADS=1)"
               if threads > 1 else "the warm launcher cannot count its threads on this system (no /proc)")
    elif _cuda_driver_loaded():
        why = "the warm launcher's imports loaded the CUDA driver (a forked child could not use CUDA)"
    if why:
        sock.send(json.dumps({"ready": False, "why": why}).encode())
        return None
    # What the imports left is never garbage: keep the collector of each child from walking (and so
    # copying, page by page) the zygote's heap.
    gc.collect()
    gc.freeze()
    sock.send(json.dumps({"ready": True, "seconds": round(time.perf_counter() - t0, 3),
                          "modules": len(sys.modules)}).encode())
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, MSG_SIZE, 1)
        except ConnectionResetError:
            return None
        if not data:
            return None
        job = json.loads(data)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            sock.close()
            job["fd"] = fds[0]
            return job
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())
        _, status = os.waitpid(pid, 0)
        sock.send(json.dumps({"pid": pid, "returncode": os.waitstatus_to_exitcode(status)}).encode())


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
    """``python -m specc.run.warm --fd N --preload a,b -- SCRIPT...`` (started by :class:`WarmLauncher`)."""
    fd = int(args[args.index("--fd") + 1])
    preload = [p for p in args[args.index("--preload") + 1].split(",") if p]
    job = serve(socket.socket(fileno=fd), preload)
    if job is not None:  # a forked child: never returns
        run_stage(job)


if __name__ == "__main__":
    main(sys.argv[1:])

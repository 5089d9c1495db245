"""Progress display for ``specc run``: parse the stage scripts' ``@@specc {...}`` lines and show them.

Why a separate module: the stage scripts talk to the runner through stdout only (one JSON object per
line after the ``@@specc`` prefix, see docs/CONVENTIONS.md), so parsing must be tolerant - a training
library may print anything, including a line that merely starts with the prefix. The display has two
forms: a single self-rewriting status line on a terminal, and plain throttled lines for CI logs and
pipes (no carriage returns in a log file). Standard library only.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from typing import IO, Any

PREFIX = "@@specc "


def parse_line(line: str) -> dict[str, Any] | None:
    """The event dict of a ``@@specc {...}`` line (what specc.runtime.common's progress callback prints),
    or None for any other line (or malformed JSON)."""
    text = line.strip()
    if not text.startswith(PREFIX.rstrip()):
        return None
    payload = text[len(PREFIX.rstrip()):].strip()
    try:
        parsed = json.loads(payload)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def describe(event: dict[str, Any]) -> str:
    """One short human line for an event: ``step 3/10 loss 1.234`` for progress, else its message."""
    kind = event.get("event", "")
    if kind == "progress":
        parts = []
        step, total = event.get("step"), event.get("max_steps")
        if step is not None:
            parts.append(f"step {step}/{total}" if total else f"step {step}")
        for key in ("loss", "eval_loss", "reward"):
            val = event.get(key)
            if isinstance(val, (int, float)):
                parts.append(f"{key} {val:.4g}")
        if event.get("epoch") is not None and isinstance(event["epoch"], (int, float)):
            parts.append(f"epoch {event['epoch']:.2f}")
        return " ".join(parts) or "progress"
    if "message" in event:
        return str(event["message"])
    rest = {k: v for k, v in event.items() if k not in ("event", "stage")}
    return f"{kind} {json.dumps(rest, sort_keys=True)}" if rest else str(kind)


class Display:
    """What the runner tells the user while stages run.

    ``tty=None`` decides from the stream. On a terminal the current stage's latest progress rewrites one
    line; otherwise each event becomes a plain line, at most one per ``interval`` seconds per stage (the
    first and the last step always print), so a CI log stays readable.
    """

    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None, interval: float = 1.0):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self._stage = ""
        self._last_print = 0.0
        self._pending: str | None = None
        self._live = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _end_live(self) -> None:
        if self._live:
            self._write("\n")
            self._live = False

    def info(self, text: str) -> None:
        self._end_live()
        self._write(text + "\n")

    def stage_started(self, stage_id: str, index: int, total: int, title: str = "", command: str = "") -> None:
        self._stage = stage_id
        self._last_print = 0.0
        self._pending = None
        head = f"[{index}/{total}] {stage_id}" + (f" - {title}" if title else "")
        self.info(head + (f"\n      $ {command}" if command and not self.tty else ""))

    def event(self, event: dict[str, Any]) -> None:
        text = f"      {self._stage}: {describe(event)}"
        if self.tty:
            width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
            self._write("\r" + text[:width].ljust(width))
            self._live = True
            return
        now = time.monotonic()
        last_step = event.get("step") is not None and event.get("step") == event.get("max_steps")
        if event.get("event") != "progress" or last_step or now - self._last_print >= self.interval:
            self.info(text)
            self._last_print = now
            self._pending = None
        else:
            self._pending = text

    def stage_finished(self, stage_id: str, status: str, seconds: float, note: str = "") -> None:
        if self._pending and not self.tty:
            self.info(self._pending)
        self._pending = None
        self.info(f"      {stage_id}: {status} in {seconds:.1f}s" + (f" - {note}" if note else ""))

    def stage_skipped(self, stage_id: str, index: int, total: int, reason: str) -> None:
        self.info(f"[{index}/{total}] {stage_id}: skipped ({reason})")

"""The exit codes every specc command and every emitted stage script uses (README, "Exit codes").

Why one enum: six modules used to carry their own copies of these numbers. Stdlib only, so light commands and
emitted scripts (which import it through :mod:`specc.runtime`) share it.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    """Success: the spec is valid, the plan has no errors, the run passed."""
    INVALID = 1
    """Invalid input, a plan with error findings (``--strict``: warnings too), or a failed stage."""
    USAGE = 2
    """Usage error: unknown option, missing argument, unknown rule id, unreadable file, not a build."""
    REFUSED = 3
    """Refused by a gate: firewall overlap, data changed since compile, forgetting gate failed, run lock held."""
    NEEDS_USER = 4
    """A step only the user can take: e.g. the push stage found no Hugging Face token (set HF_TOKEN or log in)."""
    INTERRUPTED = 130
    """``specc run`` interrupted (Ctrl-C / SIGTERM); the stage resumes on the next run."""

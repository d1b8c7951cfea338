"""Failures a user can fix, and the stops a user or a scheduler asks for (signals).

Every such failure is a `UserError` whose message is one line: where (a file and row, or a dotted config
field), what is wrong, and what to do. ``srpo`` prints it as ``srpo: <message>`` and exits with status 2,
without a traceback unless ``--debug`` is given. `ConfigError`, `DataError` and the disk problems of
`srpo.core.files` are such errors.

A stop is `Interrupted` (after a finished step, with a checkpoint) or `Stopped` (at once, on a repeated
signal); ``srpo`` says which signal and how to resume, and exits with status 128 + the signal's number
(130 for Ctrl-C's SIGINT, 143 for SIGTERM, 138 for SIGUSR1), as a shell reports a process the signal killed.
"""

from __future__ import annotations

import signal
from pathlib import Path


class UserError(Exception):
    """A failure the user can fix; the message is one line (where, what is wrong, what to do)."""


class Interrupted(KeyboardInterrupt):
    """Training stopped on signal `signum` (Ctrl-C's SIGINT, a scheduler's SIGTERM or SIGUSR1) after finishing
    step `step` (`checkpoint`: where it was saved)."""

    def __init__(self, step: int, checkpoint: Path | None, signum: int = signal.SIGINT):
        super().__init__(f"interrupted by {signal_name(signum)} at step {step}")
        self.step, self.checkpoint, self.signum = step, checkpoint, int(signum)


class Stopped(KeyboardInterrupt):
    """Stopped at once by a repeated signal `signum`, mid-step (the last checkpoint stays as it was)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal_name(signum)}")
        self.signum = int(signum)


def signal_name(signum: int) -> str:
    """``Ctrl-C`` for SIGINT, else the signal's name (``SIGTERM``)."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name

"""Failures a user can fix, and the user's interrupt.

Every such failure is a `UserError` whose message is one line: where (a file and row, or a dotted config
field), what is wrong, and what to do. ``srpo`` prints it as ``srpo: <message>`` and exits with status 2,
without a traceback unless ``--debug`` is given. `ConfigError`, `DataError` and the disk problems of
`srpo.core.files` are such errors.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """A failure the user can fix; the message is one line (where, what is wrong, what to do)."""


class Interrupted(KeyboardInterrupt):
    """Training stopped on a user's interrupt after finishing step `step` (`checkpoint`: where it was saved)."""

    def __init__(self, step: int, checkpoint: Path | None):
        super().__init__(f"interrupted at step {step}")
        self.step, self.checkpoint = step, checkpoint

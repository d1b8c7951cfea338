"""Failures a user can fix, and how a failed write reads.

Every such failure is a `UserError` whose message is one line: where (a file and row, or a dotted config
field), what is wrong, and what to do. ``srpo`` prints it as ``srpo: <message>`` and exits with status 2,
without a traceback unless ``--debug`` is given. `ConfigError` and `DataError` derive from it.
"""

from __future__ import annotations

import contextlib
import errno
from pathlib import Path
from typing import Iterator


class UserError(Exception):
    """A failure the user can fix; the message is one line (where, what is wrong, what to do)."""


class Interrupted(KeyboardInterrupt):
    """Training stopped on a user's interrupt after finishing step `step` (`checkpoint`: where it was saved)."""

    def __init__(self, step: int, checkpoint: Path | None):
        super().__init__(f"interrupted at step {step}")
        self.step, self.checkpoint = step, checkpoint


# What to do when a write fails, by errno; matched by text for libraries that hide the errno (safetensors, torch).
_WRITE_FIXES = {
    errno.ENOSPC: ("no space left on the device", ("No space left", "StorageFull", "file write failed"),
                   "free space or move the run to a disk with room (run.output_dir)"),
    errno.EDQUOT: ("disk quota exceeded", ("quota exceeded", "QuotaExceeded"),
                   "free space or move the run to a disk with room (run.output_dir)"),
    errno.EROFS: ("the file system is read-only", ("Read-only file system", "ReadOnlyFilesystem"),
                  "choose a writable directory"),
    errno.EACCES: ("permission denied", ("Permission denied", "PermissionDenied"),
                   "choose a directory you may write to, or fix its permissions"),
}
_WRITE_FIXES[errno.EPERM] = _WRITE_FIXES[errno.EACCES]


def write_error(err: BaseException, path: str | Path, what: str) -> UserError | None:
    """A one-line `UserError` for a failed write of `what` to `path` when `err` is a disk problem (full,
    read-only, no permission), else None.

    >>> str(write_error(OSError(28, "No space left on device"), "runs/x/metrics.jsonl", "the metrics log"))
    'runs/x/metrics.jsonl: cannot write the metrics log: no space left on the device; free space or move the run to a disk with room (run.output_dir)'
    """
    code = getattr(err, "errno", None)
    text = str(err)
    for key, (problem, markers, fix) in _WRITE_FIXES.items():
        if code == key or (code is None and any(m in text for m in markers)):
            return UserError(f"{path}: cannot write {what}: {problem}; {fix}")
    return None


@contextlib.contextmanager
def writing(path: str | Path, what: str) -> Iterator[None]:
    """Turn a disk problem while writing `what` to `path` into a one-line `UserError`; other errors pass."""
    try:
        yield
    except Exception as err:
        clear = write_error(err, path, what)
        if clear is None:
            raise
        raise clear from err

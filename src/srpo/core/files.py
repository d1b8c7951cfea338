"""Writing files so that a failure is one clear line and leaves nothing half-written behind.

`writing` turns a full, read-only or forbidden disk into a one-line `UserError` naming the file and what to
do, and removes the temporary file or directory of the failed write; `write_atomic` replaces a small file
in one step.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Iterator

from srpo.core.errors import UserError

# A failed write's cause by errno: (what is wrong, what to do, how libraries that hide the errno word it).
_ROOM = "free space or move the run to a disk with room (run.output_dir)"
_DISK_PROBLEMS = {
    errno.ENOSPC: ("no space left on the device", _ROOM, ("No space left", "StorageFull")),
    errno.EDQUOT: ("disk quota exceeded", _ROOM, ("quota exceeded", "QuotaExceeded")),
    errno.EROFS: ("the file system is read-only", "choose a writable directory",
                  ("Read-only file system", "ReadOnlyFilesystem")),
    errno.EACCES: ("permission denied", "choose a directory you may write to, or fix its permissions",
                   ("Permission denied", "PermissionDenied")),
}
_DISK_PROBLEMS[errno.EPERM] = _DISK_PROBLEMS[errno.EACCES]
NEARLY_FULL_BYTES = 1 << 20  # torch.save on a full disk says only "unexpected pos 576 vs 534"


def write_error(err: BaseException, path: str | Path, what: str) -> UserError | None:
    """A one-line `UserError` for a failed write of `what` to `path` when `err` is a disk problem (full,
    read-only, no permission), else None.

    >>> str(write_error(OSError(28, "No space left on device"), "runs/x/metrics.jsonl", "the metrics log"))
    'runs/x/metrics.jsonl: cannot write the metrics log: no space left on the device; free space or move the run to a disk with room (run.output_dir)'
    """
    code = _disk_problem(err, Path(path))
    if code is None:
        return None
    problem, fix, _ = _DISK_PROBLEMS[code]
    return UserError(f"{path}: cannot write {what}: {problem}; {fix}")


def _disk_problem(err: BaseException, path: Path) -> int | None:
    code = getattr(err, "errno", None)
    if code in _DISK_PROBLEMS:
        return code
    if code is not None:
        return None
    for key, (_, _, words) in _DISK_PROBLEMS.items():
        if any(w in str(err) for w in words):
            return key
    return errno.ENOSPC if _free_bytes(path) < NEARLY_FULL_BYTES else None


def _free_bytes(path: Path) -> int:
    """Free bytes on the file system that holds `path` (or its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return NEARLY_FULL_BYTES


@contextlib.contextmanager
def writing(path: str | Path, what: str, partial: Path | None = None) -> Iterator[None]:
    """Turn a disk problem while writing `what` to `path` into a one-line `UserError` (other errors pass).
    On any failure, an interrupt included, `partial` (a temporary file or directory) is removed, after the
    diagnosis: removing it frees the space whose lack may be the cause."""
    try:
        yield
    except BaseException as err:
        clear = write_error(err, path, what) if isinstance(err, Exception) else None
        if partial is not None:
            _remove(partial)
        if clear is None:
            raise
        raise clear from err


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_atomic(path: Path, text: str, what: str) -> None:
    """Replace `path` by `text` in one step: readers see the old or the new content, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    with writing(path, what, partial=tmp):
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

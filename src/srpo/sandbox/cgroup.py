"""One cgroup v2 per sandbox, where this machine lets srpo create them.

A sandbox's cgroup caps the memory of all its processes together, including the pages of its tmpfs
files and ``/dev/shm`` and the kernel memory they use (``memory.max``, no swap), and its number of
tasks (``pids.max``). Its bwrap is started inside it (a shell moves itself into the cgroup, then execs the
launcher), so every process of the sandbox is in it from the first instruction on.

``sandbox.cgroup``:

* ``auto``: create ``/sys/fs/cgroup/srpo-<pid>`` if the unified hierarchy is mounted there with the memory
  and pids controllers enabled for its children and this process may create directories in it (root on
  most systemd machines). Otherwise there is no cgroup and the sandbox falls back to per-process limits
  (see `srpo.sandbox.seccomp` and docs/rewards.md); the reason is logged.
* ``off``: never use a cgroup.
* a path: a cgroup v2 directory delegated to this user, with no processes of its own (e.g. one made by
  ``systemd-run --user -p Delegate=yes``); srpo creates one child per sandbox in it. Failing to use it is
  an error, not a silent fallback.
"""

from __future__ import annotations

import itertools
import logging
import os

log = logging.getLogger(__name__)

ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "pids")
# Tasks of a sandbox that are not the program's: the outer bwrap, bwrap's init in the sandbox, the runner.
OVERHEAD_TASKS = 3


class CgroupError(OSError):
    """The configured cgroup cannot hold sandboxes."""


class Cgroups:
    """The parent cgroup of this pool's sandboxes; `create` makes one child per sandbox."""

    def __init__(self, parent: str, owned: bool):
        self.parent, self.owned = parent, owned
        self._names = itertools.count()

    @classmethod
    def open(cls, setting: str) -> "Cgroups | None":
        """The cgroups to use for `setting` (``auto``, ``off`` or a path), or None: per-process limits."""
        if setting == "off":
            return None
        if setting != "auto":
            return cls._prepare(setting, owned=False)
        try:
            _check_controllers(ROOT, "cgroup.subtree_control")
            return cls._prepare(os.path.join(ROOT, f"srpo-{os.getpid()}"), owned=True)
        except OSError as err:
            log.info("no per-sandbox cgroup (%s): memory is bounded per process", err)
            return None

    @classmethod
    def _prepare(cls, parent: str, owned: bool) -> "Cgroups":
        try:
            if owned:
                os.makedirs(parent, exist_ok=True)
            _check_controllers(parent, "cgroup.controllers")
            _write(parent, "cgroup.subtree_control", " ".join("+" + c for c in CONTROLLERS))
        except OSError as err:
            if owned:
                _rmdir(parent)
            raise CgroupError(f"cgroup {parent}: {err}") from None
        return cls(parent, owned)

    def create(self, memory_bytes: int, max_tasks: int) -> str:
        """A new child cgroup with these limits; its path."""
        path = os.path.join(self.parent, f"s{next(self._names)}")
        os.mkdir(path)
        try:
            _write(path, "memory.max", str(memory_bytes))
            if os.path.exists(os.path.join(path, "memory.swap.max")):
                _write(path, "memory.swap.max", "0")
            _write(path, "pids.max", str(max_tasks + OVERHEAD_TASKS))
        except OSError:
            _rmdir(path)
            raise
        return path

    def remove(self, path: str) -> None:
        """Delete a sandbox's cgroup once its processes are gone (a populated one is left for `close`)."""
        _rmdir(path)

    def close(self) -> None:
        """Remove what is left of the children, and the parent if this pool made it."""
        for name in os.listdir(self.parent) if os.path.isdir(self.parent) else ():
            if name.startswith("s") and name[1:].isdigit():
                _rmdir(os.path.join(self.parent, name))
        if self.owned:
            _rmdir(self.parent)


def join_command(path: str) -> list[str]:
    """Argv prefix that moves the process into cgroup `path`, then execs the rest of the command line."""
    return ["/bin/sh", "-c", 'echo 0 > "$0/cgroup.procs" && exec "$@"', path]


def _check_controllers(path: str, listing: str) -> None:
    with open(os.path.join(path, listing)) as fh:
        available = fh.read().split()
    missing = [c for c in CONTROLLERS if c not in available]
    if missing:
        raise CgroupError(f"{path}/{listing} lacks {', '.join(missing)}")


def _write(path: str, name: str, value: str) -> None:
    with open(os.path.join(path, name), "w") as fh:
        fh.write(value)


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass

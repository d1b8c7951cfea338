"""One cgroup per sandbox, where this machine lets srpo create them (cgroup v2, or v1's memory and pids).

A sandbox's cgroup caps the memory of all its processes together, including the pages of its tmpfs
files and ``/dev/shm`` and the kernel memory they use (inodes, extended attributes, socket and pipe buffers:
``memory.max``, no swap; on v1 ``memory.limit_in_bytes``, which charges kernel memory too), and its number
of tasks (``pids.max``). Its bwrap is started inside it (a shell moves itself into the cgroup, then execs
the launcher), so every process of the sandbox is in it from the first instruction on.

``sandbox.cgroup``:

* ``auto``: create ``srpo-<pid>-<start>`` under the unified hierarchy at ``/sys/fs/cgroup`` if it is mounted
  there with the memory and pids controllers enabled for its children and this process may create
  directories in it (root on most systemd machines); else, on a cgroup v1 (or hybrid) machine, under this
  process's own cgroup in the v1 ``memory`` and ``pids`` hierarchies if it may create directories there
  (root). Otherwise there is no cgroup and the sandbox falls back to per-process limits (see
  `srpo.sandbox.seccomp` and docs/rewards.md); the reason is logged.
* ``off``: never use a cgroup.
* a path: a cgroup v2 directory delegated to this user, with no processes of its own (e.g. one made by
  ``systemd-run --user -p Delegate=yes``); srpo creates one child per sandbox in it. Failing to use it is
  an error, not a silent fallback.

Containment: `close` SIGKILLs whatever is still in the pool's cgroups before removing them, and `sweep`
(run when a pool starts) does the same for the cgroups of srpo processes that are gone.
"""

from __future__ import annotations

import itertools
import logging
import os
import time

log = logging.getLogger(__name__)

ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "pids")
# Tasks of a sandbox that are not the program's: the outer bwrap and the runner (the sandbox's pid 1).
OVERHEAD_TASKS = 2


class CgroupError(OSError):
    """The configured cgroup cannot hold sandboxes."""


class Cgroups:
    """The parent cgroup(s) of this pool's sandboxes; `create` makes one child per sandbox.

    cgroup v2: one parent directory. cgroup v1: two, in the ``memory`` and the ``pids`` hierarchy (`v1`).
    """

    def __init__(self, parent: str, owned: bool, v1_pids: str | None = None):
        self.parent, self.owned, self.v1_pids = parent, owned, v1_pids
        self._names = itertools.count()

    @property
    def v1(self) -> bool:
        return self.v1_pids is not None

    @property
    def parents(self) -> tuple[str, ...]:
        return (self.parent, self.v1_pids) if self.v1_pids else (self.parent,)

    @classmethod
    def open(cls, setting: str) -> "Cgroups | None":
        """The cgroups to use for `setting` (``auto``, ``off`` or a path), or None: per-process limits."""
        if setting == "off":
            return None
        if setting != "auto":
            return cls._prepare(setting, owned=False)
        sweep()
        try:
            _check_controllers(ROOT, "cgroup.subtree_control")
            return cls._prepare(os.path.join(ROOT, _own_name()), owned=True)
        except OSError as err:
            reason = err
        try:
            return cls._prepare_v1()
        except OSError as err:
            log.info("no per-sandbox cgroup (v2: %s; v1: %s): memory is bounded per process", reason, err)
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

    @classmethod
    def _prepare_v1(cls) -> "Cgroups":
        mounts = v1_mounts()
        missing = [c for c in CONTROLLERS if c not in mounts]
        if missing:
            raise CgroupError(f"no cgroup v1 hierarchy for {', '.join(missing)}")
        made = []
        try:
            for controller in CONTROLLERS:
                path = os.path.join(mounts[controller], _own_name())
                os.mkdir(path)
                made.append(path)
        except OSError as err:
            for path in made:
                _rmdir(path)
            raise CgroupError(f"cgroup v1: {err}") from None
        return cls(made[0], True, v1_pids=made[1])

    def create(self, memory_bytes: int, max_tasks: int) -> "str | tuple[str, str]":
        """A new child cgroup with these limits: its path (v2), or its memory and pids paths (v1)."""
        name = f"s{next(self._names)}"
        paths = tuple(os.path.join(parent, name) for parent in self.parents)
        made = []
        try:
            for path in paths:
                os.mkdir(path)
                made.append(path)
            if self.v1:
                _write(paths[0], "memory.limit_in_bytes", str(memory_bytes))  # kernel memory included
                if os.path.exists(os.path.join(paths[0], "memory.memsw.limit_in_bytes")):
                    _write(paths[0], "memory.memsw.limit_in_bytes", str(memory_bytes))
                _write(paths[1], "pids.max", str(max_tasks + OVERHEAD_TASKS))
            else:
                _write(paths[0], "memory.max", str(memory_bytes))
                if os.path.exists(os.path.join(paths[0], "memory.swap.max")):
                    _write(paths[0], "memory.swap.max", "0")
                _write(paths[0], "pids.max", str(max_tasks + OVERHEAD_TASKS))
        except OSError:
            for path in made:
                _rmdir(path)
            raise
        return paths if self.v1 else paths[0]

    def remove(self, path: "str | tuple[str, ...]") -> None:
        """Delete a sandbox's cgroup once its processes are gone (a populated one is left for `close`)."""
        for one in _paths(path):
            _rmdir(one)

    def close(self) -> None:
        """Kill what is still in the children, remove them, and the parent(s) if this pool made them."""
        for parent in self.parents:
            _empty(parent, remove_parent=self.owned)


def join_command(path: "str | tuple[str, ...]") -> list[str]:
    """Argv prefix that moves the process into cgroup `path` (each of its directories, v1), then execs the
    rest of the command line."""
    paths = _paths(path)
    joins = " && ".join(f'echo 0 > "${i}/cgroup.procs"' for i in range(len(paths)))
    return ["/bin/sh", "-c", joins + ' && shift %d && exec "$@"' % (len(paths) - 1)] + list(paths)


def v1_mounts() -> dict[str, str]:
    """controller -> this process's own cgroup directory in its v1 hierarchy (memory and pids only)."""
    own = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, names, path = line.rstrip("\n").split(":", 2)
            for name in names.split(","):
                own[name] = path
    found = {}
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, right = line.split(" - ", 1)
            fields, (fstype, _, options) = left.split(), right.split()[:3]
            root, mount_point = fields[3], fields[4]
            if fstype != "cgroup":
                continue
            for controller in CONTROLLERS:
                if controller in options.split(",") and controller in own:
                    rel = os.path.relpath(own[controller], root) if own[controller].startswith(root) else "."
                    found[controller] = os.path.normpath(os.path.join(mount_point, rel))
    return found


def sweep() -> None:
    """Kill what is left in the cgroups of srpo processes that are gone, and remove those cgroups."""
    from srpo.sandbox.backend import process_start

    places = [ROOT]
    try:
        places += list(v1_mounts().values())
    except OSError:
        pass
    for place in places:
        try:
            names = os.listdir(place)
        except OSError:
            continue
        for name in names:
            parts = name.split("-")
            if len(parts) != 3 or parts[0] != "srpo" or not (parts[1].isdigit() and parts[2].isdigit()):
                continue
            if process_start(int(parts[1])) != int(parts[2]):
                _empty(os.path.join(place, name), remove_parent=True)


def _own_name() -> str:
    from srpo.sandbox.backend import process_start

    return f"srpo-{os.getpid()}-{process_start(os.getpid())}"


def _paths(path: "str | tuple[str, ...]") -> tuple[str, ...]:
    return (path,) if isinstance(path, str) else tuple(path)


def _empty(parent: str, remove_parent: bool) -> None:
    """SIGKILL every process in the sandbox children of `parent`, then remove them (and `parent`)."""
    for name in os.listdir(parent) if os.path.isdir(parent) else ():
        if name.startswith("s") and name[1:].isdigit():
            child = os.path.join(parent, name)
            _kill_members(child)
            _rmdir(child)
    if remove_parent:
        _rmdir(parent)


def _kill_members(path: str) -> None:
    """SIGKILL every process in cgroup `path` until it is empty (a member that forks meanwhile adds one)."""
    if os.path.exists(os.path.join(path, "cgroup.kill")):
        try:
            _write(path, "cgroup.kill", "1")
        except OSError:
            pass
    for _ in range(100):
        try:
            with open(os.path.join(path, "cgroup.procs")) as fh:
                # never 0 or ourselves (kill(0) would hit our own process group): only a stand-in holds them
                pids = [int(p) for p in fh.read().split() if p.isdigit() and int(p) > 1 and int(p) != os.getpid()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        time.sleep(0.01)


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

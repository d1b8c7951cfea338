"""The limits a sandbox's processes apply to themselves: the runner's at start (`runner_limits`), the program's
and the tester's on top (`sandbox_limits`). See _inside._confine and docs/rewards.md ("Limits")."""

from __future__ import annotations

from typing import Any

from srpo.sandbox.config import SandboxConfig
from srpo.sandbox.seccomp import program as seccomp_program

# Tasks that are not the program's, inside the sandbox's own user namespace: the runner (the sandbox's pid 1;
# bwrap runs with --as-pid-1, so it has no init of its own in there).
RUNNER_TASKS = 1
# The main thread's C stack (RLIMIT_STACK, soft and hard), whatever the host's `ulimit -s` is: Linux's default
# and what CPython's C recursion limits are sized for (3.12 and 3.13 count a fixed number of C levels). An
# inherited larger or unlimited limit would let a runaway C recursion (a deep repr, compare, or json under a
# lifted recursion limit) grow the stack until RLIMIT_AS instead of crashing: measured with Python 3.11, the
# deep-repr program of the hostile suite segfaults in 0.55 s at 8 MiB, 1.9 s at 16 MiB, and at 64 MiB or
# unlimited recurses for 17-25 s of CPU (its work grows with the square of the depth), past any timeout.
STACK_BYTES = 8 << 20


def sandbox_limits(cfg: SandboxConfig, no_fork: bool) -> dict[str, Any]:
    """What the process that runs a program (or test code) applies to itself (see _inside._confine).

    RLIMIT_NPROC counts the tasks of the sandbox's user in its own user namespace, so it is per sandbox.
    RLIMIT_STACK is `STACK_BYTES` in every role, so a C-stack overflow crashes as fast as on a default machine
    and a program's verdict does not depend on the trainer's ``ulimit -s``.
    RLIMIT_MSGQUEUE 0 closes POSIX message queues; the seccomp filter (`srpo.sandbox.seccomp`) closes the
    other routes to memory that no rlimit counts, and with `no_fork` (no cgroup) keeps the sandbox one
    process that creates no file (no new inode in its tmpfs: only a cgroup would count their kernel memory).
    """
    mem = cfg.memory_mb << 20
    rlimits = [("RLIMIT_AS", mem, mem), ("RLIMIT_CPU", cfg.cpu_s, cfg.cpu_s + 1),  # SIGXCPU, then SIGKILL
               ("RLIMIT_NPROC", cfg.max_procs + RUNNER_TASKS, cfg.max_procs + RUNNER_TASKS),
               ("RLIMIT_FSIZE", cfg.file_mb << 20, cfg.file_mb << 20),
               ("RLIMIT_NOFILE", cfg.open_files, cfg.open_files), ("RLIMIT_CORE", 0, 0),
               ("RLIMIT_STACK", STACK_BYTES, STACK_BYTES),
               ("RLIMIT_MSGQUEUE", 0, 0)]
    return {"rlimits": rlimits, "seccomp": seccomp_program(no_fork, no_create=no_fork)}


def runner_limits(cfg: SandboxConfig, no_cgroup: bool = True) -> dict[str, Any]:
    """What every sandbox's runner applies to itself at start, before it reads a job (see _inside.main).

    Every process of a sandbox descends from its runner, so this is the floor for all of them: the program's
    rlimits without RLIMIT_CPU and RLIMIT_FSIZE (a stdio runner lives through all the cases and writes each
    case's stdin, which may be bigger than a program's files), and the seccomp filter without the two refusals
    the runner itself needs lifted: new processes (the stdio runner forks one per case) and ``memfd_create``
    (the cases' stdin and stdout). Without a cgroup (`no_cgroup`) it refuses file creation too: the runner
    creates no file. Each role then tightens both (`sandbox_limits`).
    """
    own = {"RLIMIT_CPU", "RLIMIT_FSIZE"}
    rlimits = [r for r in sandbox_limits(cfg, no_fork=False)["rlimits"] if r[0] not in own]
    return {"rlimits": rlimits, "seccomp": seccomp_program(False, runner=True, no_create=no_cgroup)}

"""``srpo sandbox-check``: can this machine isolate untrusted code?"""

from __future__ import annotations

import argparse
import time

from srpo.sandbox.config import SandboxConfig
from srpo.sandbox.job import SandboxJob
from srpo.sandbox.pool import SandboxPool
from srpo.sandbox.backend import SandboxUnavailable


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sandbox-check", help="check that the code sandbox (bubblewrap) works here")
    p.add_argument("--unsafe", action="store_true", help="check the unsafe (no isolation) mode instead")
    p.add_argument("--cgroup", default="auto", help="sandbox.cgroup to check: auto (default), off, or a "
                                                     "delegated cgroup v2 directory")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    cfg = SandboxConfig(mode="unsafe" if args.unsafe else "bwrap", workers=2, cgroup=args.cgroup)
    try:
        pool = SandboxPool(cfg)
    except SandboxUnavailable as err:
        print(err)
        return 1
    with pool:
        start = time.perf_counter()
        # Which network interfaces the program sees: only loopback means the network is off. Nothing is sent.
        # (From /proc/net/dev: socket.if_nameindex binds a netlink socket, which the no-cgroup filter refuses.)
        out = pool.run(SandboxJob("function", "def f():\n"
                                  "    with open('/proc/net/dev') as fh:\n"
                                  "        names = sorted(l.split(':')[0].strip() for l in fh.readlines()[2:])\n"
                                  "    names = [n for n in names if n != 'lo']\n"
                                  "    return 'network interfaces: ' + ', '.join(names) if names else 'no network'\n",
                                  "f", calls=[[]]))
        ms = (time.perf_counter() - start) * 1e3
    print(f"mode: {pool.backend.mode}; launcher: {' '.join(pool.backend.launcher) or '-'}; "
          f"binary: {pool.backend.argv[0]}; interpreter: {pool.backend.python}")
    print(f"memory bound: {_memory_bound(pool)}")
    print(f"test program: {out.status}, {out.tests[0].get('value') if out.tests else out.detail} ({ms:.0f} ms)")
    return 0 if out.status == "ok" else 1


def _memory_bound(pool: SandboxPool) -> str:
    """How one sandbox's memory is capped here (docs/rewards.md, "Limits")."""
    cfg = pool.cfg
    if pool.backend.mode != "bwrap":
        return f"unsafe mode: {cfg.memory_mb} MiB of address space per process, nothing else"
    if pool.cgroups:
        kind = "v1 memory+pids" if pool.cgroups.v1 else "v2"
        return (f"a cgroup ({kind}) per sandbox under {pool.cgroups.parent}: {cfg.memory_mb} MiB for all its "
                f"processes, tmpfs pages and kernel memory together, {cfg.max_procs} tasks")
    if pool.limits["seccomp"]:
        # bench/kernel_memory.py, no cgroup: pipes 58 MiB and socket pairs 12-14 MiB with 64 open files, POSIX
        # timers ~36 MiB of slab until RLIMIT_SIGPENDING (per user: all sandboxes together), byte-range locks on
        # a read-only file ~4 MiB in 4 s (each costs more time than the last), shared anonymous mappings (one
        # inode each) 64 MiB at vm.max_map_count (65530 per process); no file can be created.
        return (f"no cgroup: one process per sandbox, {cfg.memory_mb} MiB of address space; it can create no "
                f"file (its tmpfs stay empty); kernel memory outside that: pipe and socket buffers bounded by its "
                f"{cfg.open_files} open files (at most 1 MiB each), shared anonymous mappings up to "
                f"vm.max_map_count (~70 MiB), POSIX timers up to RLIMIT_SIGPENDING (~40 MiB, shared by all "
                f"sandboxes of the user) and a few MiB of file locks: about {cfg.memory_mb} + "
                f"{cfg.open_files + 75} MiB per sandbox ({cfg.workers or 'auto'} at once) plus ~40 MiB for all, "
                f"not growing with time. Programs that write files or start processes fail in this mode; a memory cgroup (root, "
                f"or sandbox.cgroup=<delegated v2 dir>) allows both")
    return (f"no cgroup and no seccomp filter on this architecture: up to {cfg.max_procs} processes of "
            f"{cfg.memory_mb} MiB each, plus 2 x {cfg.tmp_mb} MiB of tmpfs, plus kernel memory NOT capped: "
            f"inodes of files in its tmpfs (measured ~70 MiB per second of the program's time, so up to "
            f"~{70 * min(cfg.cpu_s, round(cfg.timeout_s))} MiB per sandbox at these limits), xattrs, inotify")

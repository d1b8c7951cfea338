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
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    cfg = SandboxConfig(mode="unsafe" if args.unsafe else "bwrap", workers=2)
    try:
        pool = SandboxPool(cfg)
    except SandboxUnavailable as err:
        print(err)
        return 1
    with pool:
        start = time.perf_counter()
        # Which network interfaces the program sees: only loopback means the network is off. Nothing is sent.
        out = pool.run(SandboxJob("function", "import socket\ndef f():\n"
                                  "    names = sorted(n for _, n in socket.if_nameindex() if n != 'lo')\n"
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
        return f"a cgroup per sandbox under {pool.cgroups.parent} ({cfg.memory_mb} MiB, {cfg.max_procs} tasks)"
    if pool.limits["seccomp"]:
        return (f"no cgroup: one process per sandbox, {cfg.memory_mb} MiB of address space, "
                f"plus 2 x {cfg.tmp_mb} MiB of tmpfs")
    return (f"no cgroup and no seccomp filter on this architecture: up to {cfg.max_procs} processes of "
            f"{cfg.memory_mb} MiB each")

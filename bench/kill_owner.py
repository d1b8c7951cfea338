"""Kill a sandbox pool's owner at random points of its start-up, many times; count what is left.

    PYTHONPATH=src python bench/kill_owner.py [--rounds 100] [--workers 4] [--seed 0] [--json]

Each round starts an owner process that builds a `SandboxPool` (which probes bwrap, then starts `workers`
warm sandboxes in its worker threads) and SIGKILLs it after a random delay drawn over its start-up (up to
the time the previous owner took to report its pool built, plus the warm start-up after it). This process
is a child subreaper (PR_SET_CHILD_SUBREAPER), so everything the owner started is reparented here when the
owner dies and can be counted exactly, independently of srpo's own bookkeeping:

* ``left_alone``: processes still alive a while after the owner died, before anything sweeps (bubblewrap's
  own race, containers/bubblewrap#633: a bwrap child blocked forever on an eventfd);
* ``left_after_sweep``: still alive after `sweep_orphans`, which the next pool on the machine runs at start
  (must be 0).

Prints one line per round that left something, then a summary (or one JSON object with ``--json``).
Exit status 1 if anything survived the sweep.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import signal
import subprocess
import sys
import time

OWNER = """
import sys, time
from srpo.sandbox import SandboxConfig, SandboxPool
pool = SandboxPool(SandboxConfig(workers={workers}, timeout_s=5.0))
print("up", flush=True)
time.sleep(120)
"""
PR_SET_CHILD_SUBREAPER = 36
SETTLE_S = 3.0  # how long the processes of a dead owner get to end by themselves
SWEEP_WAIT_S = 10.0


def descendants() -> list[int]:
    """Every process below this one."""
    parent: dict[int, int] = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                parent[int(name)] = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    me, found = os.getpid(), []
    for pid in parent:
        p, seen = pid, 0
        while p in parent and p != me and seen < 64:
            p, seen = parent[p], seen + 1
        if p == me and pid != me:
            found.append(pid)
    return sorted(found)


def reap() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` that are alive and not zombies."""
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                    out.append(pid)
        except OSError:
            pass
    return out


def wait_gone(seconds: float) -> list[int]:
    """Reap for up to `seconds` until no descendant is left; what is left."""
    deadline = time.monotonic() + seconds
    while True:
        reap()
        left = alive(descendants())
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def describe(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            out.append(f"{pid} {os.path.basename(argv[0]).decode(errors='replace')}")
        except OSError:
            out.append(f"{pid} ?")
    return out


def run(rounds: int, workers: int, seed: int, verbose: bool = True) -> dict:
    from srpo.sandbox.process import sweep_orphans

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_CHILD_SUBREAPER")
    rng = random.Random(seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    startup = 2.0  # seconds; updated from the owners that got far enough to say so
    report = {"rounds": rounds, "workers": workers, "seed": seed, "left_alone": 0, "rounds_with_strays": 0,
              "swept": 0, "left_after_sweep": 0, "killed_after_pool_built": 0, "kill_delays_s": [],
              "survivors": []}
    start = time.monotonic()
    for i in range(rounds):
        delay = rng.uniform(0.0, startup)
        t0 = time.monotonic()
        owner = subprocess.Popen([sys.executable, "-c", OWNER.format(workers=workers)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        os.set_blocking(owner.stdout.fileno(), False)
        up_at = None
        while time.monotonic() - t0 < delay:
            if up_at is None and owner.stdout.read():
                up_at = time.monotonic() - t0
            time.sleep(0.005)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        if up_at is None and owner.stdout.read():
            up_at = time.monotonic() - t0
        report["killed_after_pool_built"] += up_at is not None
        if up_at is not None:  # draw later rounds over the pool's build and its warm start-up after it
            startup = max(startup * 0.9, up_at + 1.0)
        owner.stdout.close()
        report["kill_delays_s"].append(round(delay, 3))
        left = wait_gone(SETTLE_S)
        if left:
            report["left_alone"] += len(left)
            report["rounds_with_strays"] += 1
            if verbose:
                print(f"round {i}: killed after {delay:.3f}s; left alone: {describe(left)}", flush=True)
        report["swept"] += sweep_orphans()
        after = wait_gone(SWEEP_WAIT_S)
        if after:
            report["left_after_sweep"] += len(after)
            report["survivors"] += describe(after)
            for pid in after:  # do not leave them to the next round
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            wait_gone(SWEEP_WAIT_S)
    report["seconds"] = round(time.monotonic() - start, 1)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report = run(args.rounds, args.workers, args.seed, verbose=not args.json)
    if args.json:
        print(json.dumps(report))
    else:
        delays = report.pop("kill_delays_s")
        print(json.dumps(report, indent=1))
        print(f"kill delays: {min(delays):.3f}-{max(delays):.3f}s")
    return 1 if report["left_after_sweep"] else 0


if __name__ == "__main__":
    sys.exit(main())

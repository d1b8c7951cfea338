"""The soak (issue 25, item 6): many verifications of mixed hostile and honest programs through the
trainer's entry point, then a check from the host that nothing is left behind.

    PYTHONPATH=src python bench/sandbox_soak.py [--n 1000] [--workers 4] [--cgroup auto|off] [--seed 0]

The programs: the hostile suite's (tests/sandbox/hostile/, in its six test formats, with its problems and
limits) and a few honest ones (in the same formats; they must pass). They go through `RewardScorer.score`
in steps of `--step` responses, on one `SandboxPool` of `--workers` sandboxes. No hostile program may pass,
every honest one must.

What the host counts, before the pool starts and after it is closed (plus what it sampled while it ran):

* processes: descendants of this process, and processes anywhere carrying this process's owner tag
  (``srpo-owner=<pid>:<start>``, the last argument of every sandbox process's command line);
* unreaped children (``waitpid(-1, WNOHANG)``);
* this process's open file descriptors (``/proc/self/fd``) and threads;
* cgroup directories: the pool's own parents (``srpo-<pid>-<start>``) and any ``srpo-<pid>-*`` under the
  cgroup mounts;
* mounts of this mount namespace (``/proc/self/mountinfo``);
* namespaces: every net, mnt, pid, ipc, uts and user namespace seen on a sandbox process while it ran
  (sampled from this process's descendants), looked for afterwards on every process of the machine
  (a namespace lives as long as a process, an open fd or a bind mount holds it; this process's fds and
  mounts are counted above). A namespace inode the kernel has since given to another job's new namespace
  is told apart by its holder: not ours. ``lsns`` counts, where present, for the record.

Exit status 1 if a verdict is wrong or anything is left.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))
sys.path.insert(0, str(ROOT / "src"))

import test_hostile as hostile  # noqa: E402  (the suite's programs, problems and limits)

from srpo.rewards import RewardComponent, RewardScorer, RewardsConfig  # noqa: E402
from srpo.sandbox import SandboxPool  # noqa: E402
from srpo.sandbox.backend import OWNER_PREFIX, process_start  # noqa: E402

NS_KINDS = ("net", "mnt", "pid", "ipc", "uts", "user")
ANSWERS = hostile.ANSWERS
HONEST = {
    "lookup": hostile.HONEST,
    "threads": "import threading\nANS = %r\ndef f(x):\n    out = []\n"
               "    t = threading.Thread(target=lambda: out.append(ANS[x]))\n    t.start()\n    t.join()\n"
               "    return out[0]\n" % ANSWERS,
    "memory": "ANS = %r\ndef f(x):\n    block = bytearray(64 << 20)\n    block[::4096] = b'x' * len(block[::4096])\n"
              "    return ANS[x] if block[0] == 120 else None\n" % ANSWERS,
    "stdlib": "import json, re, collections, itertools, math, heapq, functools, fractions, decimal, bisect\n"
              "ANS = json.loads(%r)\ndef f(x):\n    return ANS[str(x)]\n" % __import__("json").dumps(ANSWERS),
    "recursion": "import sys\nANS = %r\nsys.setrecursionlimit(10000)\ndef depth(n):\n"
                 "    return 0 if n == 0 else 1 + depth(n - 1)\ndef f(x):\n"
                 "    return ANS[x] if depth(5000) == 5000 else None\n" % ANSWERS,
    "noisy": "import sys\nANS = %r\ndef f(x):\n    print('debug', x, file=sys.stderr)\n    return ANS[x]\n" % ANSWERS,
}


# --------------------------------------------------------------------------------------- host view
def _stat(pid: str) -> tuple[int, int] | None:
    """(ppid, start time) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _tag(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().rstrip(b"\0").rsplit(b"\0", 1)[-1]
    except OSError:
        return b""


def descendants(root: int) -> dict[int, int]:
    """pid -> start time (clock ticks since boot) of every descendant of `root`."""
    children: dict[int, list[tuple[int, int]]] = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        st = _stat(name)
        if st:
            children.setdefault(st[0], []).append((int(name), st[1]))
    out: dict[int, int] = {}
    todo = [root]
    while todo:
        for child, started in children.get(todo.pop(), []):
            if child not in out:
                out[child] = started
                todo.append(child)
    return out


def tagged(owner_tag: bytes) -> set[int]:
    return {int(p) for p in filter(str.isdigit, os.listdir("/proc")) if _tag(p) == owner_tag}


def namespaces(pid: int) -> dict[str, str]:
    out = {}
    for kind in NS_KINDS:
        try:
            out[kind] = os.readlink(f"/proc/{pid}/ns/{kind}")
        except OSError:
            pass
    return out


def ns_holders(wanted) -> dict[str, list[int]]:
    """Every process of the machine that is in one of the `wanted` namespaces (``net:[123]`` strings)."""
    found: dict[str, list[int]] = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        for link in namespaces(int(name)).values():
            if link in wanted:
                found.setdefault(link, []).append(int(name))
    return found


def own_cgroups() -> list[str]:
    """This process's cgroup directories (``srpo-<pid>-<start>``, v2 or under each v1 hierarchy) and theirs."""
    me = f"srpo-{os.getpid()}-"
    return sorted(p for p in glob.glob("/sys/fs/cgroup/**/", recursive=True) if me in p)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return "?"


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return f"state {fields[0]}, ppid {fields[1]}"
    except OSError:
        return "gone"


def _boot_seconds() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _started(pid: int) -> float:
    """When a process started, in seconds since boot (0 if it is gone: counts as ours, the safe side)."""
    st = _stat(str(pid))
    return st[1] / os.sysconf("SC_CLK_TCK") if st else 0.0


def _age(pid: int) -> str:
    return f"{_boot_seconds() - _started(pid):.1f} s ago"


def lsns_count() -> dict[str, int] | None:
    if not shutil.which("lsns"):
        return None
    counts = {}
    for kind in ("net", "mnt"):
        out = subprocess.run(["lsns", "-n", "-t", kind, "-o", "NS"], capture_output=True, text=True)
        counts[kind] = len(out.stdout.split()) if out.returncode == 0 else -1
    return counts


def snapshot(owner_tag: bytes) -> dict:
    try:
        os.waitpid(-1, os.WNOHANG)
        unreaped = True
    except ChildProcessError:
        unreaped = False
    with open("/proc/self/mountinfo") as fh:
        mounts = len(fh.readlines())
    return {"descendants": sorted(descendants(os.getpid())), "tagged": sorted(tagged(owner_tag)),
            "unreaped children": unreaped, "fds": len(os.listdir("/proc/self/fd")),
            "threads": threading.active_count(), "cgroup dirs": own_cgroups(), "mounts": mounts,
            "lsns": lsns_count()}


class Sampler:
    """Records the namespaces of this process's descendants (the sandboxes) while the soak runs."""

    def __init__(self, period: float = 0.25):
        self.seen: dict[str, float] = {}  # namespace -> when a process of ours was last seen in it
        self.most_processes = 0
        self.ever: set[tuple[int, int]] = set()  # (pid, start) of every process of ours seen
        self._stop = threading.Event()
        self._period = period
        self._own = set(namespaces(os.getpid()).values())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            procs = descendants(os.getpid())
            self.most_processes = max(self.most_processes, len(procs))
            for pid, started in procs.items():
                now = _boot_seconds()
                links = namespaces(pid)
                st = _stat(str(pid))
                if st is None or st[1] != started:  # gone, and maybe its pid already another job's
                    continue
                self.seen.update((v, now) for v in links.values() if v not in self._own)
                self.ever.add((pid, started))
            self._stop.wait(self._period)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------------------------------- soak
def make_items(n: int, seed: int, host: dict) -> list[tuple[str, str, object, str]]:
    """(kind, name, problem, response): about half hostile (a sample of program x format), half honest."""
    rng = random.Random(seed)
    hostile_pairs = [(p, fmt) for p in hostile.PROGRAMS for fmt in hostile.FORMATS]
    rng.shuffle(hostile_pairs)
    n_hostile = min(len(hostile_pairs), n // 2)
    items = []
    for program, fmt in hostile_pairs[:n_hostile]:
        problem = hostile.make_problem(fmt, program.expect)
        code = hostile.make_program(fmt, program.source, host)
        items.append(("hostile", f"{program.group}: {program.name} [{fmt}]", problem, code))
    names = sorted(HONEST)
    for i in range(n - n_hostile):
        name, fmt = names[i % len(names)], hostile.FORMATS[(i // len(names)) % len(hostile.FORMATS)]
        items.append(("honest", f"{name} [{fmt}]", hostile.make_problem(fmt),
                      hostile.make_program(fmt, HONEST[name], host)))
    rng.shuffle(items)
    return [(kind, name, problem, f"```python\n{code}\n```") for kind, name, problem, code in items]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--step", type=int, default=50, help="responses per RewardScorer.score call")
    ap.add_argument("--cgroup", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    owner_tag = f"{OWNER_PREFIX}{os.getpid()}:{process_start(os.getpid())}".encode()
    tmp = Path(tempfile.mkdtemp(prefix="srpo-soak-"))
    (tmp / "secret.txt").write_text(hostile.HOME_SECRET)
    (tmp / "canary.txt").write_text("canary")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)
    host = {"home_secret": str(tmp / "secret.txt"), "cwd_canary": str(tmp / "canary.txt"),
            "port": listener.getsockname()[1]}
    items = make_items(args.n, args.seed, host)

    before = snapshot(owner_tag)
    cfg = dataclasses.replace(hostile.CFG, workers=args.workers, cgroup=args.cgroup)
    sampler = Sampler()
    wrong: list[str] = []
    counts = {"hostile": 0, "honest": 0}
    verdicts: dict[str, int] = {}
    start = time.perf_counter()
    pool = SandboxPool(cfg)
    mode = (f"cgroup ({'v1' if pool.cgroups.v1 else 'v2'})" if pool.cgroups else "no cgroup") \
        + f", {pool.backend.mode}, {args.workers} sandboxes in parallel"
    parents = list(pool.cgroups.parents) if pool.cgroups else []
    during = {}
    with pool, RewardScorer(RewardsConfig(code=[RewardComponent("code_accuracy", 1.0)]), sandbox=pool) as scorer:
        for lo in range(0, len(items), args.step):
            batch = items[lo:lo + args.step]
            results = scorer.score([r for *_, r in batch], [p for _, _, p, _ in batch])
            for (kind, name, _, _), result in zip(batch, results):
                counts[kind] += 1
                verdict = result.info.get("details", {}).get("code_accuracy", {}).get("verdict", "?")
                verdicts[f"{kind} {verdict}"] = verdicts.get(f"{kind} {verdict}", 0) + 1
                if result.correct != (kind == "honest"):
                    wrong.append(f"{kind} {name}: correct={result.correct} {str(result.info)[:300]}")
            if lo == 0:
                during = {"cgroup dirs": own_cgroups()}
    elapsed = time.perf_counter() - start
    time.sleep(0.5)  # the kernel's tear-down of the last sandboxes (the pool already waited for bwrap)
    sampler.stop()
    after = snapshot(owner_tag)
    holders = ns_holders(sampler.seen)
    # A namespace of ours is still held if any holder is ours (a descendant, our tag) or had started by the
    # last time a sandbox of ours was seen in it; one whose holders all started later, untagged, is another
    # job's new namespace that got the inode of one of ours after it was gone.
    ours = set(after["descendants"]) | set(after["tagged"])
    mine = {ns: pids for ns, pids in holders.items()
            if any(p in ours or _started(p) <= sampler.seen[ns] for p in pids)}
    try:
        listener.accept()
        reached = True
    except (BlockingIOError, OSError):
        reached = False
    listener.close()
    shutil.rmtree(tmp, ignore_errors=True)

    rate = len(items) / elapsed
    print(f"soak: {len(items)} verifications ({counts['hostile']} hostile, {counts['honest']} honest), {mode}; "
          f"{elapsed:.1f} s ({rate:.1f}/s); at most {sampler.most_processes} processes of ours at once")
    print("verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    print(f"wrong verdicts: {len(wrong)}" + "".join(f"\n  {w}" for w in wrong[:20]))
    rows = [
        ("processes descended from us", len(before["descendants"]), len(after["descendants"])),
        ("processes with our owner tag", len(before["tagged"]), len(after["tagged"])),
        ("unreaped children", before["unreaped children"], after["unreaped children"]),
        ("open fds of this process", before["fds"], after["fds"]),
        ("threads of this process", before["threads"], after["threads"]),
        ("our cgroup dirs (during the run: %d)" % len(during.get("cgroup dirs", [])),
         len(before["cgroup dirs"]), len(after["cgroup dirs"])),
        ("the pool's cgroup parents existing", 0, sum(os.path.isdir(p) for p in parents)),
        ("mounts in our mount namespace", before["mounts"], after["mounts"]),
        (f"sandbox namespaces seen ({len(sampler.seen)}) still held by ours", 0, len(mine)),
        ("... reused since by other jobs' new namespaces", 0, len(holders) - len(mine)),
    ]
    if before["lsns"] is not None:
        for kind in ("net", "mnt"):
            rows.append((f"lsns -t {kind} (whole machine, other jobs included)", before["lsns"][kind],
                         after["lsns"][kind]))
    print(f"\n| {'left behind':58} | before | after |\n|{'-' * 60}|--------|-------|")
    for what, b, a in rows:
        print(f"| {what:58} | {str(b):>6} | {str(a):>5} |")
    print(f"\nreached the host's 127.0.0.1 listener: {reached}")
    others = {ns: pids for ns, pids in holders.items() if ns not in mine}
    if others:
        print("inodes of gone sandbox namespaces since reused by processes started later: " + ", ".join(
            f"{ns} by {pids[:3]} ({_comm(pids[0])}, started {_age(pids[0])})" for ns, pids in list(others.items())[:8]))
    leaks = [what for what, b, a in rows[:9] if a != b]
    if leaks:
        print("LEFT BEHIND: " + ", ".join(leaks))
        print(f"  after: descendants {after['descendants'][:10]}, tagged {after['tagged'][:10]}, "
              f"cgroups {after['cgroup dirs'][:5]}")
        for ns, pids in list(mine.items())[:5]:
            print(f"  {ns} last seen on ours {sampler.seen[ns]:.2f}, held by " + ", ".join(
                f"{p} ({_comm(p)}, {_state(p)}, started {_started(p):.2f}, now {_boot_seconds():.2f}, "
                f"tag {_tag(str(p))[:40]!r}, "
                f"was ours: {(p, round(_started(p) * os.sysconf('SC_CLK_TCK'))) in sampler.ever})" for p in pids))
    return 1 if wrong or leaks or reached else 0


if __name__ == "__main__":
    sys.exit(main())

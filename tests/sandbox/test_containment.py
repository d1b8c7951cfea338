"""Containment seen from the host (issue 25, item 1): every process in a sandbox is confined, none can write
another's memory, and while a program tries everything, pid 1's memory and the number of processes in the
sandbox's pid namespace stay within the sandbox's limits.

The host reads /proc itself while the program runs: ``Seccomp`` and ``NoNewPrivs`` of every process of the
sandbox's pid namespace, its address-space limit, its resident memory, and how many there are. Nothing here
asserts on time: deadlines are generous and only bound how long a broken sandbox may take to fail.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from srpo.sandbox import SandboxConfig, SandboxJob
from srpo.sandbox.cgroup import Cgroups
from srpo.sandbox.host import run_job, sandbox_limits
from srpo.sandbox.process import SandboxProcess
from srpo.sandbox.resolve import resolve_backend

CFG = SandboxConfig(timeout_s=30.0, memory_mb=256, cpu_s=10, max_procs=8, tmp_mb=16, workers=1)

# Tries to write into the memory of every process it can see (pid 1, itself, a child of its own made
# dumpable again, and the child trying its parent), after trying to make /proc writable again; then holds
# as much memory and as many processes as it can while the host looks.
PROBE = r"""
import ctypes, os, time

def _try_all(tag):
    out = []
    for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open("/proc/%s/mem" % pid, "r+b", buffering=0) as mem:
                with open("/proc/%s/maps" % pid) as maps:
                    for line in maps:
                        addr, perms = line.split()[:2]
                        if perms.startswith("rw"):
                            start = int(addr.split("-")[0], 16)
                            mem.seek(start)
                            byte = mem.read(1)
                            mem.seek(start)
                            mem.write(byte)
                            out.append("%s wrote %s" % (tag, pid))
                            break
                    else:
                        out.append("%s opened %s" % (tag, pid))
        except OSError as exc:
            out.append("%s %s: errno %s" % (tag, pid, exc.errno))
    return out

def f(x):
    libc = ctypes.CDLL(None, use_errno=True)
    remount = libc.mount(None, b"/proc", None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND: read-write again
    libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: let the others in
    r, w = os.pipe()
    children = []
    for _ in range(32):  # as many processes as the sandbox lets it have
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            libc.prctl(4, 1, 0, 0, 0)
            os.close(r)
            if not children:
                os.write(w, ";".join(_try_all("child")).encode())
            os.close(w)
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    os.close(w)
    report = _try_all("parent")
    if children:
        report += os.read(r, 1 << 16).decode().split(";")
    blocks = []
    try:
        while len(blocks) < 4096:
            block = bytearray(1 << 20)
            block[::4096] = b"x" * len(block[::4096])
            blocks.append(block)
    except MemoryError:
        pass
    time.sleep(1.5)  # holding everything: the host samples now
    return "remount %d; forks %d; held %d; %s" % (remount, len(children), len(blocks), "; ".join(report))
"""

STDIO_TAIL = "\nprint(f(int(input())))\n"


@pytest.fixture(scope="module")
def backend():
    return resolve_backend(CFG)


@pytest.fixture(scope="module", params=["auto", "off"])
def cgroups(backend, request):
    """Both ways a sandbox can be bounded: its own cgroup where this machine gives one (else this is the
    one-process fallback too), and the fallback."""
    groups = Cgroups.open(request.param)
    yield groups
    if groups:
        groups.close()


def _processes(ns: int) -> dict[int, dict[str, str]]:
    """Every process of pid namespace `ns` with its status fields and address-space limit."""
    found = {}
    target = f"pid:[{ns}]"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") != target:
                continue
            with open(f"/proc/{pid}/status") as fh:
                status = dict(line.split(":\t", 1) for line in fh.read().splitlines() if ":\t" in line)
            with open(f"/proc/{pid}/limits") as fh:
                status["as_limit"] = next(line.split()[3] for line in fh if line.startswith("Max address space"))
        except (OSError, StopIteration):
            continue  # gone meanwhile
        found[int(pid)] = {k: v.strip() for k, v in status.items()}
    return found


class Watcher:
    """Samples the pid namespaces of the sandboxes handed to a job until stopped."""

    def __init__(self):
        self.namespaces: list[int] = []
        self.samples: list[dict[int, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            for ns in list(self.namespaces):
                procs = _processes(ns)
                if procs:
                    self.samples.append(procs)
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join()


def _confined_sandbox(backend, cgroups) -> SandboxProcess:
    """A started sandbox whose runner has confined itself (before it is given any job)."""
    proc = SandboxProcess(backend, CFG, cgroups)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        procs = _processes(proc.pid_namespace)
        if procs and all(p.get("Seccomp") == "2" for p in procs.values()):
            return proc
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"the runner never confined itself: {procs}")


def _run_watched(backend, cgroups, job: SandboxJob):
    limits = sandbox_limits(CFG, no_fork=cgroups is None)
    watcher, used = Watcher(), []

    def take():
        proc = _confined_sandbox(backend, cgroups)
        used.append(proc)
        watcher.namespaces.append(proc.pid_namespace)
        return proc

    try:
        outcome, _ = run_job(job, CFG, limits, backend.pidns, take)
    finally:
        watcher.stop()
        for proc in used:
            proc.kill()
    return outcome, watcher.samples


JOBS = {
    "candidate": SandboxJob("function", PROBE, "f", calls=[[2]]),
    "stdio": SandboxJob("stdio", PROBE + STDIO_TAIL, stdins=["2\n"]),
    "tester": SandboxJob("function", PROBE, "f", test_code="for x in [2]:\n    assert f(x) == 'no'\n"),
}


@pytest.mark.parametrize("role", sorted(JOBS))
def test_no_process_in_a_sandbox_is_unconfined_or_writable(backend, cgroups, role):
    if backend.mode != "bwrap":
        pytest.skip("bubblewrap mode only")
    outcome, samples = _run_watched(backend, cgroups, JOBS[role])
    assert samples, "the host saw no process of the sandbox"
    if role == "stdio":
        report = outcome.tests[0].get("stdout", "") + outcome.tests[0].get("detail", "")
    elif role == "candidate":
        report = str(outcome.tests[0].get("value", outcome.tests[0]))
    else:
        report = str(outcome.tests)
    assert "wrote" not in report and "opened" not in report, report
    if role != "tester":
        assert "errno" in report, f"the probe did not run: {report}"
    mib = CFG.memory_mb << 20
    most = CFG.max_procs + 1  # the program's tasks and the runner
    for sample in samples:
        for pid, st in sample.items():
            assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "1", (pid, st.get("Name"), st["Seccomp"])
            assert st["as_limit"] != "unlimited" and int(st["as_limit"]) <= mib, (pid, st["as_limit"])
            assert int(st.get("VmRSS", "0 kB").split()[0]) << 10 <= mib, (pid, st["VmRSS"])
        assert len(sample) <= most, sorted(sample)
        if cgroups is None:
            # one process per sandbox (two for stdio: the runner and the case's child)
            assert len(sample) <= (2 if role == "stdio" else 1), {p: s["Name"] for p, s in sample.items()}
            total = sum(int(s.get("VmRSS", "0 kB").split()[0]) << 10 for s in sample.values())
            assert total <= mib + (mib if role == "stdio" else 0)

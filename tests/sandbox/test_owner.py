"""Nothing outlives its owner (issue 25, item 5): `terminate()` always reaches the sandbox's init, the sweep at
pool start kills what a dead owner left (and nothing else), and killing an owner at random points of its
pool's start-up, many times, leaves no process once swept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srpo.sandbox import SandboxConfig
from srpo.sandbox.backend import OWNER_PREFIX, owner_tag, process_start
from srpo.sandbox.process import SandboxProcess, sweep_orphans
from srpo.sandbox.resolve import resolve_backend

ROOT = Path(__file__).resolve().parents[2]
CFG = SandboxConfig(timeout_s=5.0, workers=1)


def _gone(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_sweep_kills_only_what_a_dead_owner_left():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_start = process_start(dead.pid)
    dead.wait()
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    orphan = subprocess.Popen(sleeper + [f"{OWNER_PREFIX}{dead.pid}:{dead_start}"])
    mine = subprocess.Popen(sleeper + [owner_tag()])
    untagged = subprocess.Popen(sleeper + [f"{OWNER_PREFIX}{dead.pid}:{dead_start}", "more"])
    try:
        deadline = time.monotonic() + 20
        while not all(b"time.sleep" in open(f"/proc/{p.pid}/cmdline", "rb").read() for p in (orphan, mine)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert sweep_orphans() >= 1
        assert orphan.wait(timeout=20) == -signal.SIGKILL
        assert mine.poll() is None and untagged.poll() is None  # a live owner's, and a tag not last
    finally:
        for p in (orphan, mine, untagged):
            p.kill()
            p.wait()


def test_terminate_reaches_the_init_even_after_bwrap_exited():
    backend = resolve_backend(CFG)
    if backend.mode != "bwrap":
        pytest.skip("bubblewrap mode only")
    proc = SandboxProcess(backend, CFG)
    init = proc.pid_namespace_init
    assert init and proc.alive()
    real_poll = proc.popen.poll
    proc.popen.poll = lambda: 0  # as if bwrap had exited while its child lives on (bubblewrap#633)
    proc.terminate()
    proc.popen.poll = real_poll
    assert _gone(init)
    proc.reap()


@pytest.mark.slow
def test_killing_the_owner_during_pool_start_up_leaves_nothing():
    """bench/kill_owner.py: SIGKILL an owner at a random point of its pool's start-up, `ROUNDS` times (the
    issue's 100; ~80 s on 2 shared cores, 0.8 s a round); everything it started must be gone once the next
    pool's sweep has run. (Before the sweep, bubblewrap's own race leaves strays in a few rounds in a hundred:
    measured 2 of 40 here.)"""
    rounds = int(os.environ.get("SRPO_KILL_ROUNDS", "100"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "kill_owner.py"), "--rounds", str(rounds),
                          "--json", "--seed", str(int(time.time()))], env=env, capture_output=True, text=True,
                         timeout=60 + 30 * rounds)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["left_after_sweep"] == 0, report["survivors"]
    assert report["rounds"] == rounds

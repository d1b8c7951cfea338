"""The sandbox pool: verdicts, isolation basics, refusal without bwrap, unsafe opt-in, no leaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from srpo.core.configlib import ConfigError, build
from srpo.sandbox import SandboxConfig, SandboxJob, SandboxPool, SandboxUnavailable
from srpo.sandbox.backend import process_start
from srpo.sandbox.resolve import resolve_backend


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxConfig(timeout_s=2.0, workers=4)) as p:
        yield p


def test_function_cases_and_check(pool):
    job = SandboxJob("function", "def add(a, b):\n    return a + b\n", "add", calls=[[1, 2], ["a", "b"]],
                     test_code="def check(candidate):\n    assert candidate(2, 2) == 4\n")
    out = pool.run(job)
    assert out.status == "ok" and out.load_error is None
    assert [t.get("value") for t in out.tests[:2]] == [3, "ab"]
    assert out.tests[2] == {"name": "test_code", "status": "pass"}


def test_plain_asserts_prelude_and_failure_line(pool):
    job = SandboxJob("function", "import math\ndef f(x):\n    return math.floor(x)\n", "f",
                     test_code="assert f(2.5) == 2\nassert helper(3) == 3\nassert f(1.5) == 2\n",
                     prelude="def helper(x):\n    return x\n")
    out = pool.run(job)
    assert out.tests[-1]["status"] == "fail"
    assert out.tests[-1]["detail"].startswith("line 3: AssertionError")


def test_in_place_mutation_and_exceptions_cross_the_boundary(pool):
    job = SandboxJob("function", "def f(xs):\n    xs.sort()\n\ndef g(x):\n    raise ValueError('bad')\n",
                     "f", test_code="xs = [3, 1, 2]\nf(xs)\nassert xs == [1, 2, 3]\n"
                                    "try:\n    g(1)\nexcept ValueError as e:\n    assert str(e) == 'bad'\n")
    assert pool.run(job).tests[-1]["status"] == "pass"


ISOLATION_PROBE = """import os
def f():
    writable, written = [], []
    for d in ("/", "/usr", "/dev", "/etc", "/proc", "/tmp", "/dev/shm"):
        if os.access(d, os.W_OK):  # EROFS on a read-only mount
            writable.append(d)
        try:
            open(os.path.join(d, ".w"), "w").close()
            written.append(d)
        except OSError:
            pass
    size = lambda d: os.statvfs(d).f_blocks * os.statvfs(d).f_frsize >> 20
    with open("/proc/net/dev") as fh:
        net = [line.split(":")[0].strip() for line in fh.readlines()[2:]]
    return {"env": sorted(os.environ), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "writable": writable, "written": written, "sizes": [size("/tmp"), size("/dev/shm")],
            "net": net, "uid0": os.getuid() == 0}
"""


def test_isolation_inside_a_sandbox(pool, monkeypatch):
    monkeypatch.setenv("SRPO_POOL_SECRET", "x")
    facts = pool.run(SandboxJob("function", ISOLATION_PROBE, "f", calls=[[]])).tests[0]["value"]
    assert facts["env"] == ["HOME", "LANG", "MALLOC_ARENA_MAX", "PATH", "PWD", "TMPDIR"]  # none of the host's
    assert facts["pids"] == [1]  # the program is the sandbox's pid 1: no other process is visible
    assert facts["writable"] == ["/tmp", "/dev/shm"] and facts["sizes"] == [pool.cfg.tmp_mb] * 2
    # without a cgroup no file can be created at all (the kernel memory of inodes would be unbounded)
    assert facts["written"] == (["/tmp", "/dev/shm"] if pool.cgroups else [])
    assert facts["net"] == ["lo"] and not facts["uid0"]


def test_the_tester_runs_in_a_sandbox_of_its_own(pool):
    looped = SandboxJob("function", "def f(x):\n    return x\n", "f",
                        test_code="for i in range(3):\n    assert f(i) == i\n")
    static = SandboxJob("function", "def f(x):\n    return x\n", "f", test_code="assert f(1) == 1\n")
    out = pool.run(looped)
    assert out.tests[-1]["status"] == "pass" and len(set(out.pid_namespaces)) == 2
    out = pool.run(static)
    assert out.tests[-1]["status"] == "pass" and len(out.pid_namespaces) == 1  # asserted by the host


def test_candidate_exceptions_reach_test_code_without_steering_it(pool):
    program = ("class Bad(ValueError):\n    pass\n"
               "def f(x):\n    if x < 0:\n        raise Bad('negative')\n    raise StopIteration\n")
    caught = "try:\n    f(-1)\nexcept ValueError as e:\n    assert 'negative' in str(e)\nelse:\n    assert False\n"
    assert pool.run(SandboxJob("function", program, "f", test_code=caught)).tests[-1]["status"] == "pass"
    all_map = "def check(c):\n    assert all(map(c, [1, 2]))\n"
    out = pool.run(SandboxJob("function", program, "f", test_code=all_map)).tests[-1]
    assert out["status"] == "fail" and "RuntimeError" in out["detail"] and "StopIteration" in out["detail"]


def test_candidate_functions_never_replace_builtins_in_test_code(pool):
    program = "def abs(x):\n    return 0\ndef all(*args):\n    return True\ndef truncate(x):\n    return 0.0\n"
    test = "def check(candidate):\n    assert abs(candidate(3.5) - 0.5) < 1e-6\n    assert all([candidate(1)])\n"
    assert pool.run(SandboxJob("function", program, "truncate", test_code=test)).tests[-1]["status"] == "fail"


def test_missing_entry_point_and_syntax_error(pool):
    assert "does not define g()" in pool.run(SandboxJob("function", "def f(): pass", "g", calls=[[]])).load_error
    assert "SyntaxError" in pool.run(SandboxJob("function", "def f(:", "f", calls=[[]])).load_error


def test_stdio_runs_each_case_in_a_fresh_process(pool):
    prog = "import os, sys\nprint(sum(map(int, sys.stdin.read().split())), os.getpid() == 1)\n"
    out = pool.run(SandboxJob("stdio", prog, stdins=["1 2", "3 4 5\n"]))
    assert [t["stdout"] for t in out.tests] == ["3 False\n", "12 False\n"]  # a child of the runner, pid 1
    assert all(t["status"] == "done" for t in out.tests)


def test_timeout_per_stdio_case(pool):
    out = pool.run(SandboxJob("stdio", "import time, sys\nif sys.stdin.read() == 'slow':\n    time.sleep(9)\n"
                                       "print('ok')\n", stdins=["fast", "slow"], timeout_s=0.5))
    assert [t["status"] for t in out.tests] == ["done", "timeout"]


def test_bad_kind_is_rejected(pool):
    with pytest.raises(ValueError, match="kind"):
        pool.submit(SandboxJob("shell", "echo"))


def test_refusal_when_bwrap_cannot_run():
    # Outside pytest's 0700 tmp dirs: as root the sandbox starts bwrap as an unprivileged user.
    folder = tempfile.mkdtemp(prefix="srpo-fake-bwrap-")
    os.chmod(folder, 0o755)
    fake = Path(folder) / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(SandboxUnavailable) as err:
        resolve_backend(SandboxConfig(bwrap_path=str(fake)))
    message = str(err.value)
    assert "Refusing to run untrusted code" in message and "No permissions" in message
    assert "sandbox.mode=unsafe" in message
    shutil.rmtree(folder)


def test_unsafe_mode_warns_and_runs(capsys):
    with pytest.warns(RuntimeWarning, match="WITHOUT isolation"):
        p = SandboxPool(SandboxConfig(mode="unsafe", workers=1, timeout_s=2.0))
    with p:
        out = p.run(SandboxJob("function", "def f():\n    return 7\n", "f", calls=[[]]))
        assert out.tests[0]["value"] == 7
        assert p.run(SandboxJob("function", "def f():\n    while True: pass\n", "f", calls=[[]],
                                timeout_s=0.3)).tests[0]["status"] == "timeout"
    assert "WITHOUT isolation" in capsys.readouterr().err


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="sandbox.timeout_s"):
        build(SandboxConfig, {"timeout_s": 0}, "sandbox")
    with pytest.raises(ConfigError, match=r"sandbox.mode: must be one of"):
        build(SandboxConfig, {"mode": "docker"}, "sandbox")


def _children() -> list[int]:
    me = str(os.getpid())
    kids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    if fh.read().rsplit(")", 1)[1].split()[1] == me:
                        kids.append(int(pid))
            except OSError:
                pass
    return kids


@pytest.mark.slow
def test_no_leaked_processes_or_fds_after_1000_runs():
    fds_before = len(os.listdir("/proc/self/fd"))
    kids_before = _children()
    cfg = SandboxConfig(timeout_s=5.0, workers=8)
    jobs = [SandboxJob("function", "def f(x):\n    return x + 1\n", "f", calls=[[i]]) for i in range(1000)]
    with SandboxPool(cfg) as p:
        outs = p.map(jobs)
    assert [o.tests[0].get("value") for o in outs] == [i + 1 for i in range(1000)]
    assert _children() == kids_before
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_close_reaps_every_warm_sandbox_itself():
    """Not even a zombie is left: the warm sandboxes are killed while the threads that started them live
    (a bwrap killed by its thread's end would leave its init for the machine's init to reap, if it does)."""
    pool = SandboxPool(SandboxConfig(workers=4))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(p.pid_namespace_init is not None for p in list(pool._started)) < 4:
        time.sleep(0.02)
    inits = [(p.pid_namespace_init, process_start(p.pid_namespace_init)) for p in list(pool._started)
             if p.pid_namespace_init is not None]
    assert len(inits) >= 4
    pool.close()
    # a zombie still has its /proc entry and start time; a reused pid has another start time
    assert [pid for pid, start in inits if process_start(pid) == start] == []


def test_sandboxes_die_when_the_owner_exits_without_close(tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(
        "import time\n"
        "from srpo.sandbox import SandboxConfig, SandboxPool\n"
        "from srpo.sandbox.process import _LIVE\n"
        "pool = SandboxPool(SandboxConfig(workers=3))\n"
        "deadline = time.time() + 10\n"
        "while len(_LIVE) < 3 and time.time() < deadline:\n"
        "    time.sleep(0.01)\n"
        "print(' '.join(str(p.pid_namespace_init) for p in _LIVE), flush=True)\n")  # no close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[2] / "src"),
                                                                     os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 3, out.stderr
    deadline = time.monotonic() + 2
    while any(os.path.exists(f"/proc/{p}") for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if os.path.exists(f"/proc/{p}")]

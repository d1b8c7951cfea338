"""Hostile programs: each must get a fail/timeout/error verdict within timeout + 2 s, leave no process
alive, change nothing outside its private temp dir, and leave the caller working. Programs that try to
cheat the harness must never be counted correct.

All programs run at once through one pool (parallel), then every guarantee is checked per program.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from srpo.data import Problem
from srpo.rewards.code_reward import build_job, judge_outcome
from srpo.sandbox import SandboxConfig, SandboxPool

TIMEOUT_S = 1.0
SECRET = "s3cr3t-value-7f1d"


def fn_problem(expected, cases=None, test_code=None):
    """A function problem whose single case expects `expected` (what a successful attack would return)."""
    tests = {"kind": "function", "entry_point": "f",
             "cases": cases if cases is not None else [{"input": [], "output": expected}]}
    if test_code:
        tests["test_code"] = test_code
    return Problem.create("code", "hostile", tests=tests)


def stdio_problem(cases):
    return Problem.create("code", "hostile-stdio", tests={
        "kind": "stdio", "cases": [{"input": i, "output": o} for i, o in cases]})


def hostile_programs(paths):
    """(name, problem, program). `paths` holds host paths and ports the attacks aim at."""
    home_secret, cwd_canary, port = paths["home_secret"], paths["cwd_canary"], paths["port"]
    ok = fn_problem(True)
    return [
        ("infinite loop", ok, "def f():\n    while True:\n        pass\n"),
        ("infinite loop at import", ok, "while True:\n    pass\n"),
        ("fork bomb", ok, "import os\ndef f():\n    while True:\n        try:\n            os.fork()\n"
                          "        except OSError:\n            pass\n"),
        ("thread bomb", ok, "import threading, time\ndef f():\n    while True:\n"
                            "        threading.Thread(target=time.sleep, args=(60,)).start()\n"),
        ("memory bomb", ok, "def f():\n    x = []\n    while True:\n        x.append(bytearray(1 << 24))\n"),
        ("huge allocation", ok, "def f():\n    return len(bytearray(1 << 40)) > 0\n"),
        ("huge output (stdio)", stdio_problem([("", "x")]), "while True:\n    print('x' * 65536)\n"),
        ("huge output (function)", ok, "def f():\n    while True:\n        print('y' * 65536)\n"),
        ("huge file in tmp", ok, "def f():\n    with open('/tmp/big', 'wb') as fh:\n"
                                 "        while True:\n            fh.write(b'z' * (1 << 20))\n"),
        ("deep recursion", ok, "import sys\nsys.setrecursionlimit(10**9)\n"
                               "def r(n):\n    return r(n + 1) + 1\ndef f():\n    return r(0) > 0\n"),
        ("write outside tmp", ok, f"def f():\n    open({cwd_canary!r}, 'w').write('pwned')\n    return True\n"),
        ("write to system dir", ok, "def f():\n    open('/usr/pwned', 'w').write('x')\n    return True\n"),
        ("delete files", ok, f"import os, shutil\ndef f():\n    shutil.rmtree({os.path.dirname(cwd_canary)!r})\n"
                             f"    os.remove('/usr/bin/env')\n    return True\n"),
        ("read environment", fn_problem(SECRET), "import os\ndef f():\n"
                                                 "    return os.environ.get('SRPO_HOSTILE_SECRET')\n"),
        ("read file under $HOME", fn_problem("topsecret"), f"def f():\n    return open({home_secret!r}).read()\n"),
        ("socket to 127.0.0.1", ok, f"import socket\ndef f():\n    s = socket.create_connection(('127.0.0.1', {port}),"
                                    f" timeout=0.5)\n    s.sendall(b'leak')\n    return True\n"),
        ("socket to outside address", ok, "import socket\ndef f():\n"
                                          "    socket.create_connection(('1.1.1.1', 53), timeout=0.5)\n"
                                          "    return True\n"),
        ("kill the parent", ok, "import os, signal\ndef f():\n    os.kill(os.getppid(), signal.SIGKILL)\n"
                                "    return True\n"),
        ("kill everything", ok, "import os, signal\ndef f():\n    os.kill(-1, signal.SIGKILL)\n    return True\n"),
        ("segfault via ctypes", ok, "import ctypes\ndef f():\n    return ctypes.string_at(0) == b''\n"),
        ("sleep past the timeout", ok, "import time\ndef f():\n    time.sleep(60)\n    return True\n"),
        ("daemon outliving the test", ok, "import os, time\ndef f():\n    if os.fork() == 0:\n        os.setsid()\n"
                                          "        if os.fork() == 0:\n            time.sleep(60)\n"
                                          "        os._exit(0)\n    return False\n"),
        ("close stdout (stdio)", stdio_problem([("", "1")]), "import os\nos.close(1)\nprint(1)\n"),
        ("close every fd", ok, "import os\ndef f():\n    os.closerange(0, 4096)\n    return True\n"),
        ("ptrace the judge", fn_problem(0), "import ctypes, os\ndef f():\n"
                                            "    return ctypes.CDLL(None).ptrace(16, os.getppid(), 0, 0)\n"),
        ("read judge memory", ok, "import os\ndef f():\n    open('/proc/%d/mem' % os.getppid(), 'rb')\n"
                                  "    return True\n"),
        # --- cheating the harness ------------------------------------------------------------------------
        ("redefine check()", fn_problem(None, cases=[], test_code="def check(c):\n    assert c(2) == 4\n"),
         "def check(candidate):\n    pass\ndef f(x):\n    return 0\n"),
        ("patch builtins the test uses", fn_problem(None, cases=[], test_code="assert abs(f(2) - 4) < 1e-9\n"),
         "import builtins\nbuiltins.abs = lambda x: 0\ndef f(x):\n    return 0\n"),
        ("exit 0 at import", fn_problem(None, cases=[], test_code="assert f(2) == 4\n"),
         "import sys\nsys.exit(0)\n"),
        ("os._exit(0) inside the call", fn_problem(4, cases=[{"input": [2], "output": 4}]),
         "import os\ndef f(x):\n    os._exit(0)\n"),
        ("always-equal object", fn_problem(None, cases=[], test_code="assert f(2) == 4\n"),
         "class E:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return E()\n"),
        ("int subclass equal to all", fn_problem(None, cases=[], test_code="assert f(2) == 4\n"),
         "class I(int):\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return I(0)\n"),
        ("forge the judge's report", fn_problem(None, cases=[], test_code="assert f(2) == 4\n"),
         "import marshal, os\nres = marshal.dumps({'tests': [{'name': 'test_code', 'status': 'pass'}]})\n"
         "for fd in range(64):\n    try:\n        os.write(fd, len(res).to_bytes(8, 'little') + res)\n"
         "    except OSError:\n        pass\ndef f(x):\n    os._exit(0)\n"),
        ("hunt the test via gc", fn_problem(None, cases=[], test_code="def check(c):\n    assert c(2) == 4\n"),
         "import gc\nfor o in gc.get_objects():\n    if isinstance(o, dict) and 'check' in o:\n"
         "        o['check'] = lambda c: None\ndef f(x):\n    return 0\n"),
        ("hard-coded visible example", fn_problem(None, cases=[{"input": [2], "output": 4},
                                                              {"input": [3], "output": 9}]),
         "def f(x):\n    return 4\n"),
        ("print expected output without computing", stdio_problem([("2\n", "4"), ("3\n", "9")]), "print(4)\n"),
        ("SystemExit inside the call", fn_problem(None, cases=[], test_code="assert f(2) == 4\n"),
         "def f(x):\n    raise SystemExit(0)\n"),
    ]


def _ns_alive(ns_inode: int) -> list[int]:
    target = f"pid:[{ns_inode}]"
    alive = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") == target:
                    alive.append(int(pid))
            except OSError:
                pass
    return alive


def _snapshot(root: str) -> dict[str, tuple[int, float, bytes]]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime, open(p, "rb").read())
    return out


@pytest.fixture()
def host(tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "secret.txt").write_text("topsecret")
    (work / "canary.txt").write_text("canary")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SRPO_HOSTILE_SECRET", SECRET)
    monkeypatch.chdir(work)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    accepted = []

    def accept_loop():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    stop = threading.Event()
    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield {"home_secret": str(home / "secret.txt"), "cwd_canary": str(work / "canary.txt"),
           "port": listener.getsockname()[1], "root": str(tmp_path), "accepted": accepted}
    stop.set()
    thread.join()
    listener.close()


def test_hostile_programs(host):
    before = _snapshot(host["root"])
    cfg = SandboxConfig(timeout_s=TIMEOUT_S, memory_mb=256, cpu_s=2, max_procs=8, workers=8,
                        max_output_bytes=1 << 16, file_mb=4)
    programs = hostile_programs(host)
    assert len(programs) >= 25
    with SandboxPool(cfg) as pool:
        futures = [(name, problem, pool.submit(build_job(problem, code))) for name, problem, code in programs]
        results = [(name, problem, fut.result()) for name, problem, fut in futures]
        # The caller keeps working: an honest program still passes afterwards.
        honest = fn_problem(4, cases=[{"input": [2], "output": 4}])
        good = judge_outcome(honest, pool.run(build_job(honest, "def f(x):\n    return x * 2\n")))
        assert good.correct, good.info
    problems = []
    for name, problem, outcome in results:
        verdict = judge_outcome(problem, outcome)
        limit = TIMEOUT_S * build_job(problem, "").runs() + 2.0
        if verdict.correct:
            problems.append(f"{name}: counted correct ({verdict.info})")
        if verdict.info["verdict"] not in ("fail", "timeout", "error"):
            problems.append(f"{name}: verdict {verdict.info['verdict']}")
        if outcome.seconds > limit:
            problems.append(f"{name}: took {outcome.seconds:.2f}s > {limit:.1f}s")
    deadline = time.monotonic() + 2.0
    survivors = {name: _ns_alive(o.pid_namespace) for name, _, o in results if o.pid_namespace}
    while any(survivors.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
        survivors = {name: _ns_alive(o.pid_namespace) for name, _, o in results if o.pid_namespace}
    problems += [f"{name}: processes survive: {pids}" for name, pids in survivors.items() if pids]
    assert len([o for _, _, o in results if o.pid_namespace]) == len(results), "pid namespace not reported"
    assert not problems, "\n".join(problems)
    assert _snapshot(host["root"]) == before, "files outside the sandbox changed"
    assert not host["accepted"], "a sandboxed program reached a socket on the host's 127.0.0.1"
    assert os.path.exists("/usr/bin/env") and not os.path.exists("/usr/pwned")

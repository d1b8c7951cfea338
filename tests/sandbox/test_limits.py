"""Limits a sandboxed program gets whatever limits the host process has (its ``ulimit`` settings).

Machines hand the trainer different limits: RLIMIT_STACK is 8 MiB by default on Linux, larger or unlimited in
some containers and CI runners. With an inherited unlimited stack, a runaway C recursion grows until RLIMIT_AS
instead of crashing (the hostile suite's deep-repr program then ran into its timeout). Every role (function
candidate, stdio child, tester) must get the sandbox's own stack limit, and an inherited stricter hard limit
must not keep sandboxes from starting.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
from pathlib import Path

from srpo.sandbox import SandboxConfig, SandboxJob, SandboxPool
from srpo.sandbox.host import STACK_BYTES

HOSTILE_DIR = Path(__file__).parent / "hostile"
REPORT = """import resource
def f():
    limit = resource.getrlimit(resource.RLIMIT_STACK)
    try:
        resource.setrlimit(resource.RLIMIT_STACK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        raised = True
    except (ValueError, OSError):
        raised = False
    return [limit[0], limit[1], raised]
"""
TESTER_CHECK = """import resource
limit = resource.getrlimit(resource.RLIMIT_STACK)
assert limit == ({want}, {want}), limit
assert f() is not None
"""


def hostile(file: str, name: str) -> str:
    """The source of one program of tests/sandbox/hostile/ (see its README)."""
    text = (HOSTILE_DIR / file).read_text()
    match = re.search(rf"^#: {re.escape(name)} \|[^\n]*\n(.*?)(?=^#: |\Z)", text, flags=re.M | re.S)
    assert match, f"{file}: no program {name!r}"
    return match.group(1)


def expected_stack(inherited_hard: int) -> int:
    """The sandbox's stack limit, or a stricter hard limit it inherited."""
    if inherited_hard == resource.RLIM_INFINITY or inherited_hard >= STACK_BYTES:
        return STACK_BYTES
    return inherited_hard


def test_every_role_gets_the_sandbox_stack_limit_whatever_the_host_has(raised_stack_limit):
    want = expected_stack(resource.getrlimit(resource.RLIMIT_STACK)[1])
    with SandboxPool(SandboxConfig(timeout_s=10.0, workers=3)) as pool:
        function, stdio, tester = pool.map([
            SandboxJob("function", REPORT, "f", calls=[[]]),
            SandboxJob("stdio", REPORT + "print(f())\n", stdins=[""]),
            SandboxJob("function", "def f():\n    return 1\n", "f", test_code=TESTER_CHECK.format(want=want)),
        ])
    assert function.tests[0].get("value") == [want, want, False], function.tests
    assert stdio.tests[0].get("stdout", "").strip() == repr([want, want, False]), stdio.tests
    assert len(tester.pid_namespaces) == 2, "the test code did not run in a tester sandbox"
    assert tester.tests[-1]["status"] == "pass", tester.tests


def test_a_c_stack_overflow_crashes_whatever_stack_the_host_has(raised_stack_limit):
    """The hostile suite's deep repr under a lifted recursion limit: it must crash (SIGSEGV) when it overflows
    the sandbox's stack, not recurse on until the timeout. The CPU limit is above the timeout, so that an end
    by SIGXCPU cannot pass for the crash."""
    program = hostile("resources.py", "C-stack overflow with the recursion limit lifted")
    with SandboxPool(SandboxConfig(timeout_s=10.0, cpu_s=60, memory_mb=256, workers=2)) as pool:
        function, stdio = pool.map([SandboxJob("function", program, "f", calls=[[1]]),
                                    SandboxJob("stdio", program + "print(f(1))\n", stdins=["1\n"])])
    assert function.tests[0]["status"] == "error" and "sandbox ended" in function.tests[0]["detail"], function.tests
    assert stdio.tests[0]["status"] == "error" and "signal 11" in stdio.tests[0]["detail"], stdio.tests


SMALL_HARD_STACK = """import json
from srpo.sandbox import SandboxConfig, SandboxJob, SandboxPool
with SandboxPool(SandboxConfig(timeout_s=10.0, workers=1)) as pool:
    out = pool.run(SandboxJob("function", {program!r}, "f", calls=[[]]))
print(json.dumps(out.tests))
"""


def test_an_inherited_stricter_hard_limit_stays_and_sandboxes_still_start(tmp_path):
    """A host whose hard stack limit is below the sandbox's (raising it would fail): the stricter one holds."""
    small = STACK_BYTES // 2

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_STACK, (small, small))

    done = subprocess.run([sys.executable, "-c", SMALL_HARD_STACK.format(program=REPORT)], cwd=tmp_path,
                          preexec_fn=lower, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    tests = json.loads(done.stdout.strip().splitlines()[-1])
    assert tests[0].get("value") == [small, small, False], tests


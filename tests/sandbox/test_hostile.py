"""The hostile suite: every program in tests/sandbox/hostile/ (see its README) runs in six test formats
through the trainer's own scoring path (`build_job` -> `SandboxPool` -> `judge_outcome`), all at once
through one pool.

For every program and format: never a pass (a timeout where the program expects one), a verdict within
timeout + 2 s, no process of its sandboxes alive afterwards, neither a host secret nor an expected value
in the verdict. For the whole run: no file outside the sandboxes changed, nothing reached the host's
listening socket, the memory a program held stayed within the sandbox's bound, and honest programs still
pass in every format afterwards. Runs as root and as an ordinary user (docs/rewards.md), with the largest
stack limit the host may hand down.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from srpo.data import Problem
from srpo.rewards.code_reward import build_job, judge_outcome
from srpo.sandbox import SandboxConfig, SandboxPool

pytestmark = pytest.mark.slow  # ~20 s: 750 runs, a few hundred of them burning their whole timeout

HOSTILE_DIR = Path(__file__).parent / "hostile"
CFG = SandboxConfig(timeout_s=1.0, memory_mb=256, cpu_s=3, max_procs=8, workers=16,
                    max_output_bytes=1 << 16, file_mb=4, tmp_mb=16)
# Programs that must time out get a short limit (they burn CPU until it runs out). The others must be stopped
# by one of the sandbox's own limits (memory, CPU, processes, output, a crash), never by the clock, so theirs
# is set by the sandbox's bound, not by a guess at the machine's speed: RLIMIT_CPU caps each process at
# cpu_s of CPU, and 8 x cpu_s of wall clock lets it use all of that with an eighth of a core (16 sandboxes on
# 2 cores). The heaviest of them need far less (a deep repr overflowing the stack ~0.6 CPU-s, filling the
# heap ~0.3), yet took 3.2 s with eight CPU burners on 2 cores: a fixed 5 s was about the machine.
TIMEOUT_S = {"timeout": 1.0, "fail": 8.0 * CFG.cpu_s}
# Function cases and stdio are compared by the host; asserts and check (asserts on literal calls) are
# asserted by the host too; check_loop and all_map need a tester sandbox.
FORMATS = ("cases", "asserts", "check", "check_loop", "all_map", "stdio")
SECRET = "s3cr3t-" + secrets.token_hex(8)
HOME_SECRET = "topsecret-" + secrets.token_hex(8)
ANSWERS = {2: "canary-" + secrets.token_hex(8), 3: "canary-" + secrets.token_hex(8)}


@dataclass(frozen=True)
class Hostile:
    group: str  # the attack class: the file it comes from
    name: str
    expect: str  # "fail" (a fail or error verdict) or "timeout"
    source: str


def load_programs() -> list[Hostile]:
    """Every ``#: name | expect`` block of every file in tests/sandbox/hostile/."""
    programs = []
    for path in sorted(HOSTILE_DIR.glob("*.py")):
        for block in re.split(r"^#: ", path.read_text(), flags=re.M)[1:]:
            header, source = block.split("\n", 1)
            name, expect = (part.strip() for part in header.rsplit("|", 1))
            assert expect in ("fail", "timeout"), f"{path.name}: {header}"
            programs.append(Hostile(path.stem, name, expect, source))
    return programs


PROGRAMS = load_programs()


def make_problem(fmt: str, expect: str = "fail") -> Problem:
    """The problem every program faces: f(2) and f(3) must return two random strings."""
    (a, want_a), (b, want_b) = ANSWERS.items()
    if fmt == "stdio":
        return Problem.create("code", "hostile", tests={"kind": "stdio", "timeout_s": TIMEOUT_S[expect], "cases": [
            {"input": f"{a}\n", "output": want_a}, {"input": f"{b}\n", "output": want_b}]})
    tests = {"kind": "function", "entry_point": "f", "timeout_s": TIMEOUT_S[expect]}
    if fmt == "cases":
        tests["cases"] = [{"input": [a], "output": want_a}, {"input": [b], "output": want_b}]
    elif fmt == "asserts":
        tests["test_code"] = f"assert f({a}) == {want_a!r}\nassert f({b}) == {want_b!r}\n"
    elif fmt == "check":
        tests["test_code"] = (f"def check(candidate):\n    assert candidate({a}) == {want_a!r}\n"
                              f"    assert candidate({b}) == {want_b!r}\n")
    elif fmt == "check_loop":
        tests["test_code"] = (f"def check(candidate):\n    for x, want in {list(ANSWERS.items())!r}:\n"
                              f"        assert candidate(x) == want\n")
    else:
        tests["test_code"] = (f"def check(candidate):\n    assert all(map(lambda c: candidate(c[0]) == c[1], "
                              f"{list(ANSWERS.items())!r}))\n")
    return Problem.create("code", "hostile", tests=tests)


# Put in front of every program: where the host's things are, and the helpers an attacker would write to
# get what it found into the short verdict text: pick(text, x), the answer for input x if the text holds
# the tests (answers appear in the order of their inputs); leak(text), the host secret if the text has it.
HEADER = """HOST_PORT = {port}
CANARY_FILE = {cwd_canary!r}
HOME_SECRET_FILE = {home_secret!r}
def pick(text, x):
    import re
    found = list(dict.fromkeys(re.findall("canary-[0-9a-f]{{16}}", text)))
    return found[x - 2] if len(found) > x - 2 else "nothing"
def leak(text):
    import re, sys
    m = re.search("(?:SRPO_HOSTILE_SECRET=|topsecret-)[^\\x00\\n'\\"]*", text)
    found = m.group(0) if m else text[:200]
    print(found, file=sys.stderr)
    return found
"""


def make_program(fmt: str, source: str, host: dict) -> str:
    return HEADER.format(**host) + source + ("\nprint(f(int(input())))\n" if fmt == "stdio" else "")


HONEST = f"def f(x):\n    return {ANSWERS!r}[x]\n"  # knows the answers: must pass in every format


def _boot_clock() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _survivors(ns_inode: int, verdict_at: float) -> list[int]:
    """Processes of pid namespace `ns_inode` that were started before the verdict. (A namespace's inode is
    reused once it is gone, e.g. by other jobs on this machine; their processes start later.)"""
    target, tick = f"pid:[{ns_inode}]", os.sysconf("SC_CLK_TCK")
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") != target:
                continue
            with open(f"/proc/{pid}/stat") as fh:
                started = int(fh.read().rsplit(")", 1)[1].split()[19]) / tick
        except OSError:
            continue
        if started <= verdict_at:
            alive.append(int(pid))
    return alive


def _snapshot(root: str) -> dict[str, tuple[int, float, bytes]]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime, open(p, "rb").read())
    return out


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    home, work = root / "home", root / "work"
    home.mkdir()
    work.mkdir()
    (home / "secret.txt").write_text(HOME_SECRET)
    (work / "canary.txt").write_text("canary")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    accepted: list = []
    stop = threading.Event()

    def accept_loop():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("SRPO_HOSTILE_SECRET", SECRET)
        mp.chdir(work)
        yield {"home_secret": str(home / "secret.txt"), "cwd_canary": str(work / "canary.txt"),
               "port": listener.getsockname()[1], "root": str(root), "accepted": accepted}
    stop.set()
    thread.join()
    listener.close()


@pytest.fixture(scope="module")
def suite(host, raised_stack_limit):
    """Run every program in every format at once; then the honest program in every format. The sandboxes
    inherit the largest stack limit this process may set (unlimited unless the hard limit forbids it): no
    verdict may depend on the host's ``ulimit -s``."""
    before = _snapshot(host["root"])
    verdict_at: dict = {}
    with SandboxPool(CFG) as pool:
        futures = {}
        for program in sorted(PROGRAMS, key=lambda p: p.expect == "timeout"):  # CPU burners last
            for fmt in FORMATS:
                key, problem = (program.name, fmt), make_problem(fmt, program.expect)
                futures[key] = (problem, pool.submit(build_job(problem, make_program(fmt, program.source, host))))
                futures[key][1].add_done_callback(lambda _, key=key: verdict_at.__setitem__(key, _boot_clock()))
        outcomes = {key: (problem, fut.result()) for key, (problem, fut) in futures.items()}
        honest = {fmt: judge_outcome(make_problem(fmt), pool.run(build_job(make_problem(fmt),
                                                                           make_program(fmt, HONEST, host))))
                  for fmt in FORMATS}
    time.sleep(2.0)  # the grace the guarantee allows for the kernel to finish tearing sandboxes down
    return {"outcomes": outcomes, "verdict_at": verdict_at, "honest": honest, "before": before,
            "after": _snapshot(host["root"])}


def test_the_suite_covers_every_class():
    assert len(PROGRAMS) >= 70
    assert len({p.name for p in PROGRAMS}) == len(PROGRAMS), "program names must be unique"
    assert {p.group for p in PROGRAMS} == {"forge", "secrets", "environment", "exceptions", "memory", "resources",
                                           "escape"}


def _scrubbed(info: dict) -> str:
    """The verdict's text without the expected values the host itself put there."""
    tests = [{k: v for k, v in t.items() if k != "expected"} for t in info.get("tests", [])]
    return repr({**info, "tests": tests})


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: f"{p.group}: {p.name}")
def test_hostile_program(program, suite):
    problems = []
    for fmt in FORMATS:
        problem, outcome = suite["outcomes"][(program.name, fmt)]
        verdict = judge_outcome(problem, outcome)
        got = verdict.info["verdict"]
        wanted = ("timeout",) if program.expect == "timeout" else ("fail", "error")
        if verdict.correct or got not in wanted:
            problems.append(f"{fmt}: verdict {got}, expected {'/'.join(wanted)}: {verdict.info}")
        limit = TIMEOUT_S[program.expect] * build_job(problem, "").runs() + 2.0
        if outcome.seconds > limit:
            problems.append(f"{fmt}: took {outcome.seconds:.2f}s > {limit:.1f}s")
        if not outcome.pid_namespaces:
            problems.append(f"{fmt}: no pid namespace reported")
        verdict_at = suite["verdict_at"][(program.name, fmt)]
        alive = [pid for ns in outcome.pid_namespaces for pid in _survivors(ns, verdict_at)]
        if alive:
            problems.append(f"{fmt}: processes survive: {alive}")
        text = _scrubbed(verdict.info)
        leaked = [s for s in (SECRET, HOME_SECRET, *ANSWERS.values()) if s in text]
        if leaked:
            problems.append(f"{fmt}: the verdict shows {leaked}: {text[:500]}")
    assert not problems, "\n".join(problems)


def test_nothing_outside_the_sandboxes_changed(suite, host):
    assert suite["after"] == suite["before"], "files outside the sandbox changed"
    assert not host["accepted"], "a sandboxed program reached a socket on the host's 127.0.0.1"
    assert os.path.exists("/usr/bin/env") and not os.path.exists("/usr/pwned")


def test_the_caller_still_works(suite):
    failed = {fmt: r.info for fmt, r in suite["honest"].items() if not r.correct}
    assert not failed


def test_memory_held_stays_within_the_sandbox_bound(suite):
    """What a memory program reports holding (in the function-cases format, where its value is seen)."""
    bound = CFG.memory_mb + 2 * CFG.tmp_mb
    held = {}
    for program in (p for p in PROGRAMS if p.group == "memory"):
        for test in judge_outcome(*suite["outcomes"][(program.name, "cases")]).info.get("tests", []):
            match = re.fullmatch(r"held (\d+)", test.get("got", ""))
            if match:
                held[program.name] = max(held.get(program.name, 0), int(match.group(1)))
    assert held, "no memory program reported what it held"
    assert {name: mib for name, mib in held.items() if mib > bound} == {}, f"bound {bound} MiB"

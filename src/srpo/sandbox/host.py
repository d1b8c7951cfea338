"""The host's side of one verification: it drives the sandboxes of a job and builds the outcome itself.

* Function calls: the host sends each call's arguments to the candidate's sandbox and reads back the value
  (decoded by `wire.decode`: plain data only). Comparing it with the expected value is the caller's job
  (`srpo.rewards.code_reward`); the expected value never leaves the host.
* Test code (asserts, ``check(candidate)``): if it only asserts things about calls with literal arguments
  (`static_tests`: MBPP asserts, most HumanEval checks), the host makes the calls and evaluates the asserts
  itself. Otherwise a second sandbox, the tester, runs it; the host relays each proxy call of the tester to
  the candidate and the raw reply back, then reads the tester's one verdict. The candidate's sandbox holds
  no test code and no channel to the tester: only its own pipes to the host.
* Stdio: one sandbox whose runner starts a fresh process per case; the host sends one case's stdin at a
  time and reads back stdout, which the caller compares.

The host makes exactly one entry per test, in order; a reply it cannot decode, a message of the wrong
kind or size, a sandbox that ends, and a passed deadline all fail the test concerned (and the ones after
it when the candidate is no longer usable). The whole function job (load, calls, test code) shares one
`timeout_s`; each stdio case has its own. The deadline covers reading a reply, decoding it (inert: nothing
the sandbox chose is hashed, linear in its size; see `wire`) and the host's own comparisons (static asserts);
a reply that takes past it is a timeout. The caller's comparison of case values with expected ones
(`srpo.rewards.code_reward.values_equal`) costs O(S log S) for a reply of S bytes, whatever it holds.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from srpo.sandbox.config import SandboxConfig
from srpo.sandbox.job import SandboxJob, SandboxOutcome
from srpo.sandbox.process import SandboxBroken, SandboxExpired, SandboxProcess
from srpo.sandbox.limits import RUNNER_TASKS, STACK_BYTES, runner_limits, sandbox_limits  # noqa: F401
from srpo.sandbox.static_tests import Assertion, static_assertions
from srpo.sandbox.wire import WireError, WireTimeout, decode, encode

log = logging.getLogger(__name__)

CASE_GRACE_S = 0.5  # stdio: the runner's own per-case timer fires first; this is for a runner that hangs
REPLY_SLACK = 64 << 10  # frame bytes beyond a value's `max_output_bytes` (stderr tail, tuple overhead)
TESTER_FRAME_LIMIT = 64 << 20
def run_job(job: SandboxJob, cfg: SandboxConfig, limits: dict[str, Any], pidns: bool,
            take: Callable[[], SandboxProcess]) -> tuple[SandboxOutcome, list[SandboxProcess]]:
    """Run `job` in sandboxes from `take`; the outcome and the sandboxes used, already SIGKILLed (the
    caller reaps them)."""
    run = _Run(job, cfg, limits, pidns, take)
    start = time.monotonic()
    try:
        outcome = run.stdio() if job.kind == "stdio" else run.function()
    except OSError as err:
        outcome = SandboxOutcome("error", detail=f"could not start a sandbox: {err}")
    except Exception as err:  # a bug here must not kill the pool's worker
        log.exception("sandbox job failed")
        outcome = SandboxOutcome("error", detail=f"sandbox failure: {err!r}")
    finally:
        for proc in run.used:
            proc.terminate()
    outcome.seconds = time.monotonic() - start
    outcome.pid_namespaces = [p.pid_namespace for p in run.used if p.pid_namespace]
    return outcome, run.used


class _Run:
    def __init__(self, job: SandboxJob, cfg: SandboxConfig, limits: dict[str, Any], pidns: bool,
                 take: Callable[[], SandboxProcess]):
        self.job, self.limits, self.pidns, self._take = job, limits, pidns, take
        self.timeout = float(job.timeout_s or cfg.timeout_s)
        self.max_output = cfg.max_output_bytes
        self.used: list[SandboxProcess] = []

    def take(self) -> SandboxProcess:
        proc = self._take()
        self.used.append(proc)
        return proc

    # ---------------------------------------------------------------------------------------- function
    def function(self) -> SandboxOutcome:
        deadline = time.monotonic() + self.timeout
        cand = self.take()
        try:
            cand.send(encode({"role": "function", "program": self.job.program, "limits": self.limits}), deadline)
            first = _read(cand.recv(self.max_output + REPLY_SLACK, deadline), deadline)
        except (SandboxExpired, WireTimeout):
            return SandboxOutcome("timeout", load_error="time limit exceeded while loading the program")
        except (SandboxBroken, WireError) as err:
            return SandboxOutcome("error", detail=f"the program did not load: {err}")
        load_error, names = _loaded(first, self.job.entry_point)
        if load_error:
            return SandboxOutcome("ok", load_error=load_error)
        tests, usable = self._cases(cand, deadline)
        if self.job.test_code and usable:
            tests.append(self._test_code(cand, names, deadline))
        return SandboxOutcome("ok", tests=tests)

    def _cases(self, cand: SandboxProcess, deadline: float) -> tuple[list[dict[str, Any]], bool]:
        """One entry per call, and whether the candidate can still be asked (if not, the entries already
        include the test code's)."""
        tests: list[dict[str, Any]] = []
        calls = self.job.calls
        rest = [f"case {i}" for i in range(len(calls))] + (["test_code"] if self.job.test_code else [])
        for i, args in enumerate(calls):
            try:
                cand.send(encode((self.job.entry_point, tuple(args), {})), deadline)
                reply = _read(cand.recv(self.max_output + REPLY_SLACK, deadline), deadline)
                tests.append({"name": f"case {i}", **_call_result(reply)})
            except (SandboxExpired, WireTimeout):
                return tests + _failed(rest[i:], "timeout", "time limit exceeded"), False
            except (SandboxBroken, WireError) as err:
                return tests + _failed(rest[i:], "error", f"no valid reply from the program: {err}"), False
        return tests, True

    def _test_code(self, cand: SandboxProcess, names: list[str], deadline: float) -> dict[str, Any]:
        try:
            status, detail = self._run_test_code(cand, names, deadline)
        except (SandboxExpired, WireTimeout):
            status, detail = "timeout", "time limit exceeded"
        except (SandboxBroken, WireError) as err:
            status, detail = "error", f"the test code could not finish: {err}"
        return {"name": "test_code", "status": status, **({"detail": detail} if detail else {})}

    def _run_test_code(self, cand: SandboxProcess, names: list[str], deadline: float) -> tuple[str, str]:
        job = self.job
        static = static_assertions(job.test_code, job.entry_point)
        if static is not None:
            return self._assert_here(cand, static, deadline)
        tester = self.take()
        tester.send(encode({"role": "tester", "prelude": job.prelude, "test_code": job.test_code,
                            "entry_point": job.entry_point, "names": names, "limits": self.limits}), deadline)
        return self._relay(cand, tester, deadline)

    def _assert_here(self, cand: SandboxProcess, asserts: tuple[Assertion, ...],
                     deadline: float) -> tuple[str, str]:
        """Run test code made of asserts on literal calls (`static_tests`) on the host: no tester needed."""
        for check in asserts:
            value = None
            if check.args is not None:
                cand.send(encode((self.job.entry_point, check.args, check.kwargs)), deadline)
                result = _call_result(_read(cand.recv(self.max_output + REPLY_SLACK, deadline), deadline))
                if result["status"] != "done":
                    return "fail", f"line {check.line}: {result['detail']}"
                value = result["value"]
            holds = check.holds(value)  # plain `==` / truth: bounded for inert values (see wire.py)
            if time.monotonic() > deadline:
                raise WireTimeout("time limit exceeded while comparing")
            if not holds:
                return "fail", f"line {check.line}: AssertionError"
        return "pass", ""

    def _relay(self, cand: SandboxProcess, tester: SandboxProcess, deadline: float) -> tuple[str, str]:
        """Carry the tester's calls to the candidate and the raw replies back, until the verdict."""
        gone = ""
        while True:
            message = tester.recv(TESTER_FRAME_LIMIT, deadline)
            if message[:1] == b"V":
                return _verdict(_read(message[1:], deadline), gone)
            if message[:1] != b"C":
                raise WireError("unexpected message from the tester")
            reply = b""  # an empty reply tells the tester that the candidate is gone
            if not gone:
                try:
                    cand.send(message[1:], deadline)
                    reply = cand.recv(self.max_output + REPLY_SLACK, deadline)
                except SandboxBroken as err:
                    gone = f"no valid reply from the program: {err}"
            tester.send(reply, deadline)

    # ------------------------------------------------------------------------------------------- stdio
    def stdio(self) -> SandboxOutcome:
        runner = self.take()
        try:
            runner.send(encode({"role": "stdio", "program": self.job.program, "limits": self.limits,
                                "timeout_s": self.timeout, "max_output_bytes": self.max_output,
                                "pidns": self.pidns}), time.monotonic() + self.timeout)
        except (SandboxBroken, SandboxExpired) as err:
            return SandboxOutcome("error", detail=f"the sandbox did not take the job: {err}")
        tests: list[dict[str, Any]] = []
        names = [f"case {i}" for i in range(len(self.job.stdins))]
        for i, text in enumerate(self.job.stdins):
            deadline = time.monotonic() + self.timeout + CASE_GRACE_S
            try:
                runner.send(encode(text), deadline)
                reply = _read(runner.recv(self.max_output + REPLY_SLACK, deadline), deadline)
                tests.append({"name": names[i], **_stdio_result(reply)})
            except (SandboxExpired, WireTimeout):
                return SandboxOutcome("ok", tests=tests + _failed(names[i:], "timeout", "time limit exceeded"))
            except (SandboxBroken, WireError) as err:
                failed = _failed(names[i:], "error", f"the runner failed: {err}")
                return SandboxOutcome("ok", tests=tests + failed)
        return SandboxOutcome("ok", tests=tests)


def _read(data: bytes, deadline: float) -> Any:
    """What a sandbox sent, decoded inert (nothing it chose is hashed: linear in its size, see wire.py) and
    within the deadline that counted its arrival (`WireTimeout`)."""
    return decode(data, inert=True, deadline=deadline)


def _failed(names: list[str], status: str, detail: str) -> list[dict[str, Any]]:
    """Entries for tests that can no longer run (the sandbox they needed is unusable)."""
    return [{"name": name, "status": status, "detail": detail} for name in names]


def _loaded(first: Any, entry: str | None) -> tuple[str, list[str]]:
    """(load error or "", the program's function names) from the candidate's first message."""
    if type(first) is tuple and len(first) == 2 and first[0] == "load_error" and type(first[1]) is str:
        return first[1][:2000] or "the program did not load", []
    if not (type(first) is tuple and len(first) == 2 and first[0] == "ready" and type(first[1]) is list
            and all(type(n) is str for n in first[1])):
        return "malformed first message from the program", []
    if entry not in first[1]:
        return f"the program does not define {entry}()", []
    return "", first[1]


def _call_result(reply: Any) -> dict[str, Any]:
    kind = reply[0] if type(reply) is tuple and reply else None
    if kind == "ok" and len(reply) in (2, 3):
        return {"status": "done", "value": reply[1]}
    if kind == "raise" and len(reply) == 4 and all(type(x) is str for x in reply[1:]):
        return {"status": "error", "detail": f"{reply[1][:100]}: {reply[3][:2000]}"}
    if kind == "bad" and len(reply) == 2 and type(reply[1]) is str:
        return {"status": "error", "detail": f"returned a {reply[1][:100]}, which is not plain data"}
    raise WireError("unexpected reply shape")


def _verdict(verdict: Any, gone: str) -> tuple[str, str]:
    if not (type(verdict) is tuple and len(verdict) == 2 and verdict[0] in ("pass", "fail", "error")
            and type(verdict[1]) is str):
        raise WireError("malformed verdict from the tester")
    if verdict[0] == "pass" and gone:  # the test code swallowed the candidate's failure
        return "fail", gone
    return verdict[0], verdict[1][:2000]


def _stdio_result(reply: Any) -> dict[str, Any]:
    if not (type(reply) is tuple and len(reply) == 4 and reply[0] in ("done", "timeout", "error")
            and type(reply[1]) is bytes and type(reply[2]) is str and type(reply[3]) is str):
        raise WireError("unexpected reply shape")
    status, out, err, detail = reply
    row = {"status": status, "stdout": out.decode("utf-8", "replace"), "stderr": err[:2000]}
    return {**row, "detail": detail[:2000]} if detail else row

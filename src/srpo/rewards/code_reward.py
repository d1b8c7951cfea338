"""Code accuracy: run the response's code against the problem's tests in the sandbox.

``Problem.tests`` (see `srpo.core.problem`): ``kind`` ``"function"`` (``cases`` as argument lists and
expected return values, and/or ``test_code`` with asserts or ``check(candidate)``) or ``"stdio"`` (``cases``
as stdin and expected stdout), optional ``entry_point`` and ``prelude``. One optional key is added here:

``timeout_s``
    Per-problem wall-clock limit overriding ``sandbox.timeout_s`` (per stdio case / per function check).

Expected outputs never enter the sandbox: return values and stdout come back and are compared here, and
an outcome counts only if it holds exactly the problem's tests (see docs/rewards.md, "Trust boundary").
"""

from __future__ import annotations

import atexit
import math
from typing import Any

from srpo.core.problem import Problem
from srpo.core.results import RewardResult
from srpo.rewards.extract import extract_code
from srpo.rewards.registry import register_reward
from srpo.sandbox import SandboxConfig, SandboxJob, SandboxOutcome, SandboxPool

REL_TOL, ABS_TOL = 1e-6, 1e-9
SHOWN_CHARS = 300


def build_job(problem: Problem, code: str, timeout_s: float | None = None) -> SandboxJob:
    """The sandbox job for `code` under `problem.tests`; ValueError naming the problem if the spec is bad."""
    spec = problem.tests or {}
    kind = spec.get("kind")
    where = f"problem {problem.uid}: tests"
    if kind not in ("function", "stdio"):
        raise ValueError(f"{where}.kind must be 'function' or 'stdio', got {kind!r}")
    cases = spec.get("cases") or []
    if not isinstance(cases, list) or any(not isinstance(c, dict) or "input" not in c or "output" not in c
                                          for c in cases):
        raise ValueError(f"{where}.cases must be a list of {{'input': ..., 'output': ...}}")
    prelude = spec.get("prelude") or ""
    program = f"{prelude}\n{code}" if prelude else code
    timeout = spec.get("timeout_s", timeout_s)
    if kind == "stdio":
        if not cases or any(not isinstance(c["input"], str) or not isinstance(c["output"], str) for c in cases):
            raise ValueError(f"{where}.cases: stdio problems need string inputs and outputs")
        return SandboxJob("stdio", program, stdins=[c["input"] for c in cases], timeout_s=timeout)
    entry = spec.get("entry_point")
    if not entry:
        raise ValueError(f"{where}.entry_point is required for kind 'function'")
    if any(not isinstance(c["input"], list) for c in cases):
        raise ValueError(f"{where}.cases: 'input' must be the list of positional arguments")
    if not cases and not spec.get("test_code"):
        raise ValueError(f"{where}: needs cases or test_code")
    return SandboxJob("function", program, entry, calls=[c["input"] for c in cases],
                      test_code=spec.get("test_code"), prelude=prelude or None, timeout_s=timeout)


def normalise_stdout(text: str) -> list[str]:
    """Lines with whitespace runs collapsed, leading/trailing blank lines dropped.

    >>> normalise_stdout("  1  2 \\r\\n3\\n\\n")
    ['1 2', '3']
    """
    return [" ".join(line.split()) for line in text.strip().splitlines()]


def values_equal(actual: Any, expected: Any) -> bool:
    """A candidate's return value against a JSON expected value.

    Tuples compare as lists, sets as sorted lists, dict keys as strings (JSON has no tuples, sets or
    non-string keys); floats with rel 1e-6 / abs 1e-9; a bool never equals a number.

    >>> values_equal((1, 2.0000000001), [1, 2]), values_equal(True, 1), values_equal({1: "a"}, {"1": "a"})
    (True, False, True)
    """
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if isinstance(expected, int) and isinstance(actual, int):
            return actual == expected
        return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL) or (
            math.isnan(actual) and math.isnan(expected))
    if isinstance(actual, (set, frozenset)):
        actual = _sorted(actual)
        expected = _sorted(expected) if isinstance(expected, list) else expected
    if isinstance(actual, (list, tuple)) and isinstance(expected, list):
        return len(actual) == len(expected) and all(map(values_equal, actual, expected))
    if isinstance(actual, dict) and isinstance(expected, dict):
        actual = {str(k): v for k, v in actual.items()}
        return actual.keys() == expected.keys() and all(values_equal(actual[k], expected[k]) for k in actual)
    return type(actual) is type(expected) and actual == expected


def _sorted(items: Any) -> list:
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def _short(value: Any) -> str:
    try:
        text = value if isinstance(value, str) else repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def test_names(problem: Problem) -> list[str]:
    """The entries a sandbox outcome must have for `problem`, in order: one per case, then the test code.

    >>> test_names(Problem.create("code", "f", tests={"kind": "function", "entry_point": "f",
    ...                           "cases": [{"input": [1], "output": 1}], "test_code": "assert f(1)"}))
    ['case 0', 'test_code']
    """
    spec = problem.tests or {}
    names = [f"case {i}" for i in range(len(spec.get("cases") or []))]
    return names + (["test_code"] if spec.get("kind") == "function" and spec.get("test_code") else [])


def test_results(problem: Problem, outcome: SandboxOutcome) -> list[dict[str, Any]]:
    """Per-test verdicts ``{"name", "passed", "status", "detail", ...}`` from a sandbox outcome.

    A case passes only when its value or stdout, compared here, equals the expected output; the test
    code passes only on its tester's ``pass``.
    """
    cases = (problem.tests or {}).get("cases") or []
    results = []
    for i, test in enumerate(outcome.tests):
        status, detail = test.get("status", "error"), test.get("detail", "")
        row: dict[str, Any] = {"name": test.get("name", f"test {i}")}
        if i < len(cases):
            status = _compare(cases[i]["output"], test, row) if status == "done" else status
            passed = status == "pass" and test.get("status") == "done"
        else:
            passed = status == "pass"
        row.update(passed=passed, status=status)
        if detail:
            row["detail"] = detail
        if test.get("stderr"):
            row["stderr"] = _short(test["stderr"])
        results.append(row)
    return results


def _compare(expected: Any, test: dict[str, Any], row: dict[str, Any]) -> str:
    """``pass`` or ``fail`` for a case's value or stdout; a failure adds expected/got to `row`."""
    if "stdout" in test:
        got = test["stdout"]
        passed = normalise_stdout(got) == normalise_stdout(expected)
    else:
        got = test.get("value")
        passed = values_equal(got, expected)
    if not passed:
        row.update(expected=_short(expected), got=_short(got))
    return "pass" if passed else "fail"


def judge_outcome(problem: Problem, outcome: SandboxOutcome, score: str = "binary") -> RewardResult:
    """Turn a sandbox outcome into the reward: correct iff every test passed; score binary or fraction.

    The outcome must hold exactly the problem's tests, in order (`test_names`); anything else is an error
    verdict, never a pass.
    """
    names = test_names(problem)
    info: dict[str, Any] = {"status": outcome.status, "seconds": round(outcome.seconds, 4)}
    failed = {"tests": [], "passed": 0, "total": len(names)}
    if outcome.status != "ok" or outcome.load_error:
        info["error"] = outcome.load_error or outcome.detail
        info["verdict"] = "timeout" if outcome.status == "timeout" or "time limit" in (outcome.detail or "") \
            else "error"
        return RewardResult(0.0, False, {**info, **failed})
    if [t.get("name") for t in outcome.tests] != names:
        info.update(verdict="error", error=f"the sandbox reported {len(outcome.tests)} results for "
                                           f"{len(names)} tests")
        return RewardResult(0.0, False, {**info, **failed})
    tests = test_results(problem, outcome)
    passed = sum(t["passed"] for t in tests)
    correct = bool(names) and passed == len(names)
    info.update(tests=tests, passed=passed, total=len(names),
                verdict="pass" if correct else ("timeout" if any(t["status"] == "timeout" for t in tests)
                                                else "fail"))
    value = float(correct) if score == "binary" else (passed / len(names) if names else 0.0)
    return RewardResult(value, correct, info)


_DEFAULT_POOL: list[SandboxPool] = []


def default_pool() -> SandboxPool:
    """A process-wide sandbox pool (default `SandboxConfig`) for standalone calls; closed at exit."""
    if not _DEFAULT_POOL:
        _DEFAULT_POOL.append(SandboxPool(SandboxConfig()))
        atexit.register(_DEFAULT_POOL[0].close)
    return _DEFAULT_POOL[0]


@register_reward("code_accuracy", resources=("sandbox",))
def code_accuracy(response: str, problem: Problem, *, sandbox: SandboxPool | None = None,
                  score: str = "binary", block: str = "last", timeout_s: float | None = None
                  ) -> RewardResult | None:
    """Run the response's code (last fenced python block by default) against the problem's tests.

    `score`: ``"binary"`` (1.0 iff all tests pass) or ``"fraction"`` (passed / total). `correct` is always
    "all tests passed". info: ``tests`` (per-test verdicts), ``passed``, ``total``, ``verdict``, ``error``.

    >>> p = Problem.create("code", "double x", tests={"kind": "function", "entry_point": "f",
    ...                    "cases": [{"input": [2], "output": 4}]})
    >>> code_accuracy("```python\\ndef f(x):\\n    return 2 * x\\n```", p).correct  # doctest: +SKIP
    True
    """
    if problem.domain != "code" or not problem.tests:
        return None
    if score not in ("binary", "fraction"):
        raise ValueError(f"code_accuracy: score must be 'binary' or 'fraction', got {score!r}")
    code = extract_code(response, block)
    if code is None:
        return RewardResult(0.0, False, {"verdict": "error", "error": "no fenced python code block",
                                         "tests": [], "passed": 0, "total": 0})
    job = build_job(problem, code, timeout_s)
    outcome = (sandbox or default_pool()).run(job)
    return judge_outcome(problem, outcome, score)

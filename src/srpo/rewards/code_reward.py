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
from fractions import Fraction
from typing import Any

from srpo.core.problem import Problem
from srpo.core.results import RewardResult
from srpo.rewards.extract import extract_code
from srpo.rewards.registry import register_reward
from srpo.sandbox import SandboxConfig, SandboxJob, SandboxOutcome, SandboxPool
from srpo.sandbox.wire import MAX_DEPTH, NotPlain, WireDict, WireSet, canonical, unique, unique_pairs

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
    non-string keys); floats with rel 1e-6 / abs 1e-9 (NaN equals NaN; an int too large for a float is
    compared exactly); a bool never equals a number.

    Total and bounded: it never raises, whatever either side holds, and `actual` is never hashed. Sets and
    dicts from the wire (`WireSet`, `WireDict`) are sorted by a canonical key, so a reply of S bytes costs
    O(S log S) however its keys collide; values nested deeper than `COMPARE_DEPTH` (more than a reply can
    be) are unequal.

    >>> values_equal((1, 2.0000000001), [1, 2]), values_equal(True, 1), values_equal({1: "a"}, {"1": "a"})
    (True, False, True)
    >>> values_equal(10 ** 400, 1.5), values_equal({3, 1}, [1, 3]), values_equal(float("nan"), float("nan"))
    (False, True, True)
    """
    try:
        return _equal(actual, expected, COMPARE_DEPTH)
    except (RecursionError, NotPlain):  # a caller's own deep values, or one already near the recursion limit
        return False


COMPARE_DEPTH = 2 * MAX_DEPTH + 2
_NUMBERS = (int, float)
_SETS = (set, frozenset, WireSet)
_DICTS = (dict, WireDict)


def _equal(actual: Any, expected: Any, depth: int) -> bool:
    if depth < 0:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, _NUMBERS) and isinstance(actual, _NUMBERS):
        if isinstance(expected, int) and isinstance(actual, int):
            return int.__eq__(actual, expected)
        return _close(actual, expected)
    if isinstance(actual, _SETS):
        if not isinstance(expected, list):
            return False
        actual, expected = _in_order(_members(actual)), _in_order(expected)
    if isinstance(actual, (list, tuple)) and isinstance(expected, list):
        return len(actual) == len(expected) and all(_equal(a, e, depth - 1) for a, e in zip(actual, expected))
    if isinstance(actual, _DICTS) and isinstance(expected, dict):
        return _dicts_equal(actual, expected, depth)
    if type(actual) is not type(expected) or isinstance(actual, _DICTS + _SETS):
        return False
    if type(actual) in (str, bytes, complex, type(None)):
        return actual == expected
    try:  # some other type, from a caller other than the sandbox: its own ==, whatever it does
        return bool(actual == expected)
    except Exception:
        return False


def _close(a: float | int, b: float | int) -> bool:
    """math.isclose with REL_TOL / ABS_TOL, NaN equal to NaN, and ints beyond a float's range exact."""
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):  # a caller's own number type with an odd __float__
        return False
    except OverflowError:  # an int past 1.8e308 against a float (both ints were compared exactly)
        big, other = (a, b) if isinstance(a, int) else (b, a)
        if other != other or other in (math.inf, -math.inf) or big.bit_length() > 1100:
            return False  # |big - other| > big * (1 - 2**-70), far past any tolerance
        diff = abs(Fraction(big) - Fraction(other))
        return diff <= Fraction(REL_TOL) * max(abs(Fraction(big)), abs(Fraction(other))) or diff <= ABS_TOL
    if fa != fa or fb != fb:
        return fa != fa and fb != fb
    return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _members(items: Any) -> list:
    """A set's members: a wire set's distinct ones (it may repeat an item; nothing is hashed)."""
    if isinstance(items, WireSet):
        return unique(items.items)
    return list(items)


def _in_order(items: list) -> list:
    """`items` sorted by a total order that needs no hashing and never raises: numbers by value (NaN
    first), other plain data by `canonical` bytes, anything else last in its own order."""
    if all(type(x) is str for x in items) or all(type(x) in (int, float, bool) and x == x for x in items):
        return sorted(items)  # the common case, in C
    return [item for _, item in sorted(((_order_key(x), n), x) for n, x in enumerate(items))]


def _order_key(value: Any) -> tuple:
    if type(value) in (bool, int) or (type(value) is float and value == value):
        return (1, value, b"")
    if type(value) is float:
        return (0, 0, b"")
    try:
        return (2, 0, canonical(value))
    except (NotPlain, RecursionError):
        return (3, 0, b"")


def _dicts_equal(actual: Any, expected: dict, depth: int) -> bool:
    """Keys as strings (the last of keys with the same text wins), matched by sorting: nothing hashed."""
    pairs = unique_pairs(actual.pairs) if isinstance(actual, WireDict) else list(actual.items())
    texts = []
    for n, (key, value) in enumerate(pairs):
        text = _key_text(key)
        if text is None:
            return False
        texts.append((text, n, value))
    texts.sort(key=lambda entry: entry[:2])
    kept = [t for n, t in enumerate(texts) if n + 1 == len(texts) or texts[n + 1][0] != t[0]]
    want = list(expected.items())
    if len(kept) != len(want) or not all(type(k) is str for k, _ in want):
        return False
    want.sort(key=lambda entry: entry[0])
    return all(k == w and _equal(v, ev, depth - 1) for (k, _, v), (w, ev) in zip(kept, want))


def _key_text(key: Any) -> str | None:
    """``str(key)`` (JSON's keys are strings), or None where that is not cheap: an int of more than
    `sys.int_info.str_digits_check_threshold`-ish digits (quadratic to print) anywhere in the key."""
    if type(key) is str:
        return key
    stack = [key]
    while stack:
        item = stack.pop()
        if type(item) is int and item.bit_length() > 10_000:
            return None
        if type(item) in (tuple, list):
            stack.extend(item)
        elif type(item) is WireSet:
            stack.extend(item.items)
    try:
        return str(key)
    except (ValueError, RecursionError):  # past the interpreter's int digit limit
        return None


def _short(value: Any) -> str:
    """At most `SHOWN_CHARS` characters (+ "...") showing `value`, in time bounded by that, not by its
    size: a str as itself, anything else as a repr that stops where the budget does."""
    parts: list[str] = []
    left = [SHOWN_CHARS + 1]

    def emit(text: str) -> None:
        text = text[:left[0]]
        parts.append(text)
        left[0] -= len(text)

    def show(item: Any, depth: int) -> None:
        if left[0] <= 0:
            return
        t = type(item)
        if depth > 40:
            emit("...")
        elif t in (list, tuple, set, frozenset, WireSet, dict, WireDict):
            if t in (dict, WireDict):
                items, opening, closing = (item.pairs if t is WireDict else list(item.items())), "{", "}"
            elif t in (set, frozenset, WireSet):
                items = item.items if t is WireSet else item
                opening, closing = ("{", "}") if items else ("set(", ")")
            else:
                items, opening, closing = item, ("[" if t is list else "("), ("]" if t is list else ")")
            emit(opening)
            for n, entry in enumerate(items):
                if left[0] <= 0:
                    break
                if n:
                    emit(", ")
                if t in (dict, WireDict):
                    show(entry[0], depth + 1)
                    emit(": ")
                    show(entry[1], depth + 1)
                else:
                    show(entry, depth + 1)
            emit("," + closing if t is tuple and len(item) == 1 else closing)
        elif t is int and item.bit_length() > 3000:
            emit(f"<int of {item.bit_length()} bits>")
        elif t in (str, bytes):
            emit(repr(item[:left[0]]))
        else:
            try:
                emit(repr(item))
            except Exception:
                emit(f"<{t.__name__}>")

    if isinstance(value, str):
        emit(value)
    else:
        show(value, 0)
    text = "".join(parts)
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

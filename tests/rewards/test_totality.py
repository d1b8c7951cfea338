"""The reward boundary is total: no value and no string makes a comparison or a reward raise, and any
exception inside one response's reward is that response's verdict, never the batch's.

hypothesis is not in the environment, so the values come from a seeded generator of every kind of plain
value (huge ints, inf/nan/-0.0, deep nesting, mixed containers, odd unicode, colliding keys, the wire's
inert containers) and of a few odd types a caller could pass.
"""

from __future__ import annotations

import decimal
import enum
import fractions
import random

import pytest

from srpo.core.errors import Interrupted, Stopped
from srpo.data import Problem
from srpo.rewards import RewardComponent, RewardResult, RewardScorer, RewardsConfig, register_reward
from srpo.rewards.code_reward import _short, judge_outcome, normalise_stdout, values_equal
from srpo.rewards.extract import extract_answer, extract_code, last_boxed, last_tag_content
from srpo.rewards.format_reward import format_reward
from srpo.rewards.language import foreign_share, language_penalty
from srpo.rewards.math_reward import _bare, fast_equal, math_accuracy, to_latex
from srpo.rewards.math_verifier import MathVerifier
from srpo.sandbox import SandboxConfig, SandboxOutcome, SandboxPool, SandboxUnavailable
from srpo.sandbox.static_tests import Assertion
from srpo.sandbox.wire import decode, encode

P = 2 ** 61 - 1
NAN, INF = float("nan"), float("inf")
ATOMS = [None, True, False, 0, 1, -1, 2 ** 63, -(2 ** 64), 10 ** 400, -(10 ** 400), 2 ** 1024, 10 ** 5000, P, 3 * P,
         0.0, -0.0, 1.5, 1e-300, 5e-324, 1.7976931348623157e308, INF, -INF, NAN, 1 + 0j, complex(NAN, 1),
         complex(INF, -0.0), "", "1", "1.5", "\udc80", "\x00", "a\u200fb", "\U0001d7d9", "\u0663", "e\u0301",
         "\U0001f600" * 3, b"", b"\xff\x00", "x" * 5000]
ODD_UNICODE = ["\udc80", "\ud800", "\x00", "\u202e", "\u200b", "\ufeff", "\U0001d7d9", "\u0663\u0664",
               "\U0001f600", "e\u0301", "\u00bd", "\u2155", "\uff11", "\U000e0001", "\\", "{", "}", "$",
               "<answer>", "</answer>", "<think>", "\\boxed{", "```", "```python\n", "\n", " ", "\t", "\r"]


class Color(enum.IntEnum):
    RED = 1


class Loud(float):
    def __eq__(self, other):
        raise RuntimeError("no comparing me")

    __hash__ = float.__hash__


class NoBool:
    def __eq__(self, other):
        return self

    def __bool__(self):
        raise ValueError("ambiguous")


def odd_values():
    return [object(), decimal.Decimal("1.5"), decimal.Decimal("nan"), fractions.Fraction(1, 3), Color.RED,
            Loud(1.0), NoBool(), Ellipsis, range(3), bytearray(b"x"), memoryview(b"x"), type, print]


def deep(depth, kind=list):
    value = 1
    for _ in range(depth):
        value = kind([value])
    return value


def plain(rng, depth=3):
    """A random plain value: what a sandbox can send (before the wire's own depth limit)."""
    kind = rng.randrange(9 if depth else 1)
    if kind == 0:
        return rng.choice(ATOMS)
    items = [plain(rng, depth - 1) for _ in range(rng.randrange(5))]
    keys = [key(rng, depth - 1) for _ in range(rng.randrange(5))]
    return [tuple(items), items, set(keys), frozenset(keys), dict(zip(keys, items)),
            {P * k for k in range(1, rng.randrange(2, 40))}, {P * k: k for k in range(1, rng.randrange(2, 40))},
            deep(rng.randrange(1, 90), rng.choice([list, tuple]))][kind - 1]


def key(rng, depth):
    value = plain(rng, depth)
    try:
        hash(value)
    except TypeError:
        return rng.choice([1, "k", P, 1.5, (2, "x"), frozenset({3})])
    return value


def json_like(rng, depth=3):
    """A random expected value: JSON's types (and NaN/inf, which json.loads accepts)."""
    kind = rng.randrange(5 if depth else 1)
    if kind == 0:
        return rng.choice([None, True, False, 0, 1, -1, 10 ** 400, 1.5, -0.0, INF, NAN, 1e308, "", "1", "\udc80",
                           3 * P, float(P)])
    items = [json_like(rng, depth - 1) for _ in range(rng.randrange(5))]
    return [items, {str(i): v for i, v in enumerate(items)}, [str(v) for v in items],
            sorted(P * k for k in range(1, 30))][kind - 1]


ODD = odd_values() + [deep(3000), deep(3000, tuple), [deep(3000)], {"a": deep(3000)}]


def any_value(rng):
    roll = rng.random()
    if roll < 0.45:
        return decode(encode(plain(rng)), inert=True)  # what the host gets from a sandbox
    if roll < 0.75:
        return plain(rng)
    if roll < 0.9:
        return json_like(rng)
    return rng.choice(ODD)


def odd_string(rng, n=None):
    n = rng.randrange(60) if n is None else n
    pieces = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.4:
            pieces.append(rng.choice(ODD_UNICODE))
        elif roll < 0.7:
            pieces.append(chr(rng.randrange(0x110000)))
        else:
            pieces.append(rng.choice(["1", "0.5", "-", "/", "\\frac{1}{2}", "x", "=", "the answer is ", "9" * 400]))
    return "".join(pieces)


# ------------------------------------------------------------------------------------------ comparisons
def test_values_equal_is_total_on_every_kind_of_value():
    rng = random.Random(25)
    for _ in range(3000):
        actual, expected = any_value(rng), any_value(rng) if rng.random() < 0.5 else json_like(rng)
        assert type(values_equal(actual, expected)) is bool, (actual, expected)
        assert type(values_equal(expected, actual)) is bool
        assert type(values_equal(actual, actual)) is bool
        text = _short(actual)
        assert type(text) is str and len(text) <= 303


@pytest.mark.parametrize("actual, expected, equal", [
    (10 ** 400, 1.5, False), (10 ** 400, INF, False), (-(10 ** 400), -INF, False), (10 ** 400, NAN, False),
    (2 ** 1024, 1.7976931348623157e308, True),  # within rel 1e-6 of the largest float, compared exactly
    (10 ** 400, 10 ** 400, True), (10 ** 400, float(10 ** 300), False), (NAN, NAN, True), (NAN, 1.0, False),
    (-0.0, 0, True), (0.0, -0.0, True), (INF, INF, True), (INF, -INF, False), (True, 1, False), (1, True, False),
    (True, True, True), (1.0, 1, True), (1, 1.0000000001, True), ((1, 2), [1, 2], True), ([1, 2], (1, 2), False),
    ({2, 1}, [1, 2], True), ({1}, {1}, False), ({1: "a"}, {"1": "a"}, True), ({1: "a"}, {1: "a"}, False),
    ({1: "a", "1": "b"}, {"1": "b"}, True), ({(1, 2): 0}, {"(1, 2)": 0}, True), ({10 ** 5000: 0}, {"1": 0}, False),
    ({P * k for k in range(1, 500)}, [P * k for k in range(1, 500)], True), (deep(5000), deep(5000), False),
    (deep(50), deep(50), True), ("\udc80", "\udc80", True), (b"a", "a", False), (1 + 0j, 1, False),
    ({1.0000000001, 2}, [1, 2], True), ({NAN, 1}, [NAN, 1], True), ({"a", 1, (2,)}, ["a", 1, [2]], True),
    (object(), object(), False), (NoBool(), NoBool(), False), (Loud(1.0), 1.0, True), (Loud(1.0), Loud(1.0), True),
    (decimal.Decimal(1), 1, False), (Color.RED, 1, True),
], ids=lambda v: type(v).__name__)
def test_values_equal_semantics(actual, expected, equal):
    assert values_equal(actual, expected) is equal
    assert values_equal(decode(encode(actual), inert=True) if _wire_safe(actual) else actual, expected) is equal


def _wire_safe(value):
    try:
        encode(value)
    except ValueError:
        return False
    return not (isinstance(value, list) and value and isinstance(value[0], list))  # deep(5000): past the wire


def test_static_asserts_are_total():
    """What the host's asserts see: a decoded reply against a literal of the test code."""
    rng = random.Random(26)
    for _ in range(2000):
        value, literal = decode(encode(plain(rng)), inert=True), plain(rng)
        for kind in ("eq", "truthy", "falsy", "literal"):
            assert type(Assertion(1, kind, (), {}, literal).holds(value)) is bool


def test_judging_an_outcome_is_total():
    rng = random.Random(27)
    for _ in range(1500):
        expected = json_like(rng)
        problem = Problem("p", "code", "f", tests={"kind": "function", "entry_point": "f",
                                                   "cases": [{"input": [], "output": expected}]})
        outcome = SandboxOutcome("ok", tests=[{"name": "case 0", "status": "done", "value": any_value(rng)}])
        verdict = judge_outcome(problem, outcome, rng.choice(["binary", "fraction"]))
        assert type(verdict.correct) is bool and type(verdict.score) is float
        row = verdict.info["tests"][0]
        assert type(row["passed"]) is bool and all(len(row.get(k, "")) <= 303 for k in ("got", "expected"))
        text = odd_string(rng)
        assert type(normalise_stdout(text) == normalise_stdout(odd_string(rng))) is bool


# --------------------------------------------------------------------------------------- text rewards
MATH = Problem.create("math", "x?", answer="57")


def test_text_rewards_and_extraction_are_total_on_any_string():
    rng = random.Random(28)
    for i in range(3000):
        text = odd_string(rng)
        for r in (format_reward(text, MATH), language_penalty(text, MATH),
                  format_reward(text, MATH, template="<a>{x}</a>{y}"), language_penalty(text, MATH, scripts=("han",))):
            assert type(r.correct) is bool and isinstance(r.score, float)
        assert isinstance(foreign_share(text)[0], float)
        found = extract_answer(text)
        assert found is None or type(found.text) is str
        assert extract_code(text, rng.choice(["first", "last", "all"])) is None or True
        assert last_boxed(text) is None or type(last_boxed(text)) is str
        assert last_tag_content(text, "answer") is None or True
        gold = odd_string(rng, 3) if i % 2 else rng.choice(["57", "1/2", "\\frac{1}{2}", "9" * 5000, "x"])
        assert fast_equal(gold, text) in (True, False, None) and fast_equal(text, text) in (True, False, None)
        assert type(to_latex(_bare(text))) is str


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(workers=2, timeout_s=3.0) as v:
        yield v


def test_math_accuracy_is_total_on_any_string(verifier):
    rng = random.Random(29)
    golds = ["57", "\\frac{1}{2}", "x^2", "\\udc80", "[1,2]", "9" * 5000, "\u0663"]
    for _ in range(40):
        response = f"<answer>{odd_string(rng, rng.randrange(1, 8))}</answer>"
        problem = Problem("p", "math", "x?", answer=rng.choice(golds + [odd_string(rng, 4)]))
        r = math_accuracy(response, problem, math_verifier=verifier)
        assert type(r.correct) is bool and type(r.score) is float


# ------------------------------------------------------------------------------------------- the scorer
FAILURES = {
    "overflow": lambda: 1.5 < 10 ** 400 / 1,  # OverflowError, as values_equal's math.isclose raised
    "recursion": lambda: (_ for _ in ()).throw(RecursionError("deep")),
    "memory": lambda: (_ for _ in ()).throw(MemoryError()),
    "zero": lambda: 1 / 0,
    "key": lambda: {}["x"],
    "unicode": lambda: "\udc80".encode(),
    "bad str": lambda: (_ for _ in ()).throw(type("Odd", (Exception,), {"__str__": lambda self: 1 / 0})()),
    "value": lambda: int("x"),
}
RETURNS = {"garbage": "not a result", "nan score": RewardResult(NAN, True), "huge score": RewardResult(10 ** 400, True),
           "str score": RewardResult("1", True), "odd correct": RewardResult(1.0, NoBool()),
           "bad info": RewardResult(1.0, True, info=[1])}
STOPS = {"ctrl-c": KeyboardInterrupt, "exit": SystemExit, "interrupted": lambda: Interrupted(3, None),
         "stopped": lambda: Stopped(15)}


@register_reward("test_fragile")
def fragile(response: str, problem: Problem) -> RewardResult:
    if response in FAILURES:
        FAILURES[response]()
    if response in RETURNS:
        return RETURNS[response]
    if response in STOPS:
        raise STOPS[response]()
    return RewardResult(1.0, True, {"fine": True})


@pytest.fixture(scope="module")
def scorer():
    cfg = RewardsConfig(math=[RewardComponent("math_accuracy", 1.0), RewardComponent("test_fragile", 0.5)],
                        correct_from={"math": "test_fragile"})
    with RewardScorer(cfg) as s:
        yield s


def test_every_exception_of_one_response_is_that_responses_verdict(scorer):
    responses = ["fine"] + list(FAILURES) + list(RETURNS) + ["fine"]
    out = scorer.score(responses, [MATH] * len(responses))
    assert [r.correct for r in out] == [True] + [False] * (len(responses) - 2) + [True]
    for response, r in zip(responses[1:-1], out[1:-1]):
        info = r.info["details"]["test_fragile"]
        assert r.score == 0.0 and info["verdict"] == "error" and type(info["error"]) is str, response
    assert "ZeroDivisionError" in out[1 + list(FAILURES).index("zero")].info["accuracy"]["error"]


@pytest.mark.parametrize("stop", list(STOPS))
def test_stops_are_not_verdicts(scorer, stop):
    with pytest.raises(BaseException) as err:
        scorer.score(["fine", stop], [MATH, MATH])
    assert isinstance(err.value, (KeyboardInterrupt, SystemExit)) and not isinstance(err.value, Exception)


# ---------------------------------------------------------------------- end to end, through a sandbox
@pytest.fixture(scope="module")
def code_scorer():
    try:
        with RewardScorer(RewardsConfig(), SandboxConfig(timeout_s=5.0, workers=2)) as s:
            yield s
    except SandboxUnavailable as err:
        pytest.skip(f"no sandbox here: {err}")


def _problem(output, test_code=None):
    tests = {"kind": "function", "entry_point": "f", "cases": [{"input": [], "output": output}]}
    return Problem("p", "code", "f", tests={**tests, **({"test_code": test_code} if test_code else {})})


@pytest.mark.parametrize("body, output, correct", [
    ("return 10 ** 400", 1.5, False),                      # the issue's example: OverflowError before
    ("return float('nan')", 1.5, False),
    ("return float('inf')", 1e308, False),
    ("return {(2**61 - 1) * k for k in range(1, 3000)}", [(2 ** 61 - 1) * k for k in range(1, 3000)], True),
    ("return {(2**61 - 1) * k: 0 for k in range(1, 3000)}", {str((2 ** 61 - 1) * k): 0 for k in range(1, 3000)}, True),
    ("x = []\n    for _ in range(95):\n        x = [x]\n    return x", [], False),
    ("return 10 ** 5000", 10 ** 5000, True),
    ("return -0.0", 0, True),
], ids=lambda v: str(v)[:20] if isinstance(v, str) else type(v).__name__)
def test_odd_return_values_get_verdicts_through_the_scorer(code_scorer, body, output, correct):
    response = f"```python\ndef f():\n    {body}\n```"
    [r] = code_scorer.score([response], [_problem(output)])
    assert r.correct is correct and type(r.info["accuracy"]["tests"][0]["passed"]) is bool


def test_colliding_sets_in_static_asserts(code_scorer):
    response = "```python\ndef f():\n    return {(2**61 - 1) * k for k in range(1, 3000)}\n```"
    good = "assert f() == {(2**61 - 1) * k for k in range(1, 3000)}\nassert f()\n"
    bad = "assert f() == {(2**61 - 1) * k for k in range(1, 2999)}\n"
    ok, wrong = code_scorer.score([response, response], [_problem([], good), _problem([], bad)])
    assert [t["passed"] for t in ok.info["accuracy"]["tests"]] == [False, True]
    assert [t["passed"] for t in wrong.info["accuracy"]["tests"]] == [False, False]


def test_pool_is_importable():
    assert SandboxPool  # the scorer above used it

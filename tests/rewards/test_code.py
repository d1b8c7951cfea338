"""Code accuracy through the sandbox: extraction, both test formats, per-test results, scoring modes."""

from __future__ import annotations

import pytest

from srpo.data import Problem
from srpo.rewards import code_accuracy, extract_code
from srpo.rewards.code_reward import build_job, judge_outcome, normalise_stdout, values_equal
from srpo.sandbox import SandboxConfig, SandboxOutcome, SandboxPool


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxConfig(timeout_s=2.0, workers=4)) as p:
        yield p


def fence(code: str, lang: str = "python") -> str:
    return f"Here you go.\n```{lang}\n{code}```\n"


ADD = Problem.create("code", "add", tests={"kind": "function", "entry_point": "add",
                                           "cases": [{"input": [1, 2], "output": 3},
                                                     {"input": [[1], [2]], "output": [1, 2]},
                                                     {"input": [0.1, 0.2], "output": 0.3}]})
MBPP = Problem.create("code", "sq", tests={"kind": "function", "entry_point": "square",
                                           "test_code": "assert square(3) == 9\nassert square(-2) == 4\n"})
HUMANEVAL = Problem.create("code", "inc", tests={
    "kind": "function", "entry_point": "incr_list", "prelude": "from typing import List\n",
    "test_code": "def check(candidate):\n    assert candidate([1, 2]) == [2, 3]\n    assert candidate([]) == []\n"})
STDIO = Problem.create("code", "sum", tests={"kind": "stdio", "cases": [
    {"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"}, {"input": "0 0", "output": "0"}]})


def test_extract_code_picks_last_python_block():
    text = "```python\nx = 1\n```\n```text\nnot code\n```\n```\ny = 2\n```\n```python\nz = 3\n```"
    assert extract_code(text) == "z = 3\n"
    assert extract_code(text, "first") == "x = 1\n"
    assert extract_code(text, "all") == "x = 1\n\ny = 2\n\nz = 3\n"
    assert extract_code("```cpp\nint main(){}\n```") is None
    assert extract_code("```python\nunterminated") is None


def test_function_cases_all_pass(pool):
    res = code_accuracy(fence("def add(a, b):\n    return a + b\n"), ADD, sandbox=pool)
    assert res.correct and res.score == 1.0
    assert [t["passed"] for t in res.info["tests"]] == [True, True, True]


def test_fraction_scoring_and_per_test_details(pool):
    wrong = fence("def add(a, b):\n    return a + b if isinstance(a, int) else None\n")
    binary = code_accuracy(wrong, ADD, sandbox=pool)
    frac = code_accuracy(wrong, ADD, sandbox=pool, score="fraction")
    assert not binary.correct and binary.score == 0.0
    assert not frac.correct and frac.score == pytest.approx(1 / 3)
    failed = [t for t in frac.info["tests"] if not t["passed"]]
    assert failed[0]["expected"] == "[1, 2]" and failed[0]["got"] == "None"


def test_mbpp_asserts_and_humaneval_check(pool):
    assert code_accuracy(fence("def square(x):\n    return x * x\n"), MBPP, sandbox=pool).correct
    bad = code_accuracy(fence("def square(x):\n    return x * abs(x)\n"), MBPP, sandbox=pool)
    assert not bad.correct and "line 2" in bad.info["tests"][0]["detail"]
    good = fence("def incr_list(l: List[int]) -> List[int]:\n    return [x + 1 for x in l]\n")
    assert code_accuracy(good, HUMANEVAL, sandbox=pool).correct


def test_stdio_whitespace_normalised(pool):
    prog = "a, b = map(int, input().split())\nprint(a + b, end='  \\n\\n')\n"
    res = code_accuracy(fence(prog), STDIO, sandbox=pool)
    assert res.correct, res.info
    res = code_accuracy(fence("print(3)\n"), STDIO, sandbox=pool, score="fraction")
    assert res.score == pytest.approx(1 / 3) and not res.correct


def test_errors_are_verdicts(pool):
    no_code = code_accuracy("I think the answer is add(a,b)", ADD, sandbox=pool)
    assert not no_code.correct and "no fenced python code block" in no_code.info["error"]
    syntax = code_accuracy(fence("def add(a, b)\n    return a + b\n"), ADD, sandbox=pool)
    assert syntax.info["verdict"] == "error" and "SyntaxError" in syntax.info["error"]
    slow = code_accuracy(fence("def add(a, b):\n    while True:\n        pass\n"), ADD, sandbox=pool,
                         timeout_s=0.3)
    assert slow.info["verdict"] == "timeout" and not slow.correct


def test_math_problem_is_not_scored():
    assert code_accuracy("```python\nx=1\n```", Problem.create("math", "q", answer="1")) is None


def test_bad_specs_name_the_problem():
    p = Problem(uid="p42", domain="code", prompt="x", tests={"kind": "function", "cases": []})
    with pytest.raises(ValueError, match="problem p42: tests.entry_point"):
        build_job(p, "pass")
    p = Problem(uid="p43", domain="code", prompt="x", tests={"kind": "stdio", "cases": [{"input": 1}]})
    with pytest.raises(ValueError, match="problem p43: tests.cases"):
        build_job(p, "pass")


def test_comparison_helpers():
    assert values_equal((1, 2), [1, 2]) and values_equal({2, 1}, [1, 2]) and values_equal(1.0, 1)
    assert not values_equal(True, 1) and not values_equal("1", 1) and not values_equal([1], [1, 2])
    assert normalise_stdout("a  b\n\n") == normalise_stdout("a b")
    assert normalise_stdout("a\nb") != normalise_stdout("a b")


def test_an_outcome_counts_only_with_exactly_the_problems_tests():
    two = Problem.create("code", "sq", tests={"kind": "function", "entry_point": "f", "test_code": "assert f(1)",
                                              "cases": [{"input": [2], "output": 4}, {"input": [3], "output": 9}]})
    good = [{"name": "case 0", "status": "done", "value": 4}, {"name": "case 1", "status": "done", "value": 9},
            {"name": "test_code", "status": "pass"}]
    assert judge_outcome(two, SandboxOutcome("ok", tests=good)).correct
    claimed = [{"name": "case 0", "status": "pass"}, {"name": "case 1", "status": "pass"}, good[2]]
    extra = good + [{"name": "test_code", "status": "pass"}]
    renamed = [good[1], good[0], good[2]]
    for tests in (claimed, extra, good[:2], renamed, []):
        verdict = judge_outcome(two, SandboxOutcome("ok", tests=tests))
        assert not verdict.correct and verdict.score == 0.0, tests
    assert judge_outcome(two, SandboxOutcome("ok", tests=claimed)).info["tests"][0]["passed"] is False
    assert judge_outcome(two, SandboxOutcome("ok", tests=extra)).info["verdict"] == "error"

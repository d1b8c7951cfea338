"""The built-in suites: determinism, difficulty levels, correct answers, held-out disjointness."""

import ast
import operator
import re

import pytest

from srpo.toy import tasks
from srpo.rewards import RewardScorer, RewardsConfig
from srpo.sandbox import SandboxConfig

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def _eval_int(expr: str) -> int:
    """Evaluate +, -, * and parentheses over integers by walking the AST (independent of the generator)."""
    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise ValueError(f"unexpected node {ast.dump(node)}")
    return walk(ast.parse(expr, mode="eval"))


def _solve_linear(equation: str) -> list[int]:
    """All integers x in [-200, 200] satisfying 'a*x+b=c' (brute force, no algebra shared with the generator)."""
    lhs, rhs = equation.split("=")
    return [x for x in range(-200, 201) if _eval_int(lhs.replace("x", f"({x})")) == _eval_int(rhs)]


def _check_math(p):
    m = re.fullmatch(r"Compute (.+)\.", p.prompt)
    if m:
        assert str(_eval_int(m.group(1))) == p.answer, p.prompt
    else:
        m = re.fullmatch(r"Solve (.+) for x\.", p.prompt)
        assert m, p.prompt
        assert _solve_linear(m.group(1)) == [int(p.answer)], p.prompt
    assert p.metadata["solution"].endswith(f"<answer>{p.answer}</answer>")
    assert p.metadata["solution"].startswith("<think>")


@pytest.mark.parametrize("level", range(1, tasks.MAX_LEVEL["math"] + 1))
def test_math_answers_are_correct(level):
    probs = tasks.math_problems(150, level, seed=3) + tasks.heldout("math", 50, level, seed=3)
    for p in probs:
        assert p.domain == "math" and p.source == "toy/math" and p.difficulty == level
        _check_math(p)
        # every "a op b=c" step of the reference reasoning is itself true arithmetic
        think = re.search(r"<think>(.*)</think>", p.metadata["solution"]).group(1)
        for step in think.split():
            lhs, rhs = step.split("=")
            if "/" in lhs:
                num, den = map(int, lhs.split("/"))
                assert num == den * int(rhs), step
            else:
                assert _eval_int(lhs) == int(rhs), step


@pytest.fixture(scope="module")
def passes():
    """Whether `code` passes a problem's hidden cases, judged by the real sandboxed verifier."""
    with RewardScorer(RewardsConfig(), SandboxConfig(workers=2)) as scorer:
        yield lambda code, problem: scorer.score([f"```python\n{code}```"], [problem])[0].correct


@pytest.mark.parametrize("level", range(1, tasks.MAX_LEVEL["code"] + 1))
def test_code_reference_solutions_pass_their_cases(level, passes):
    probs = tasks.code_problems(6, level, seed=5) + tasks.heldout("code", 2, level, seed=5)
    for p in probs:
        assert p.domain == "code" and p.source == "toy/code" and p.difficulty == level
        assert p.tests["kind"] == "function" and p.tests["entry_point"] == "f"
        assert len(p.tests["cases"]) >= 4
        solution = p.metadata["solution"]
        assert solution.startswith("<think>") and f"```python\n{p.metadata['code']}```" in solution
        assert passes(p.metadata["code"], p), p.prompt
        # the hidden cases can fail: a constant function does not pass them
        assert not passes("def f(*a):\n    return 0\n", p), p.prompt


def test_code_cases_are_computed_not_copied():
    """Cases agree with an independent reading of the prompt (level 2: f(0)=b, f(1)=a+b)."""
    for p in tasks.code_problems(100, 2, seed=1):
        b, ab = map(int, re.fullmatch(r"Write f\(x\) in Python with f\(0\)=(-?\d+) and f\(1\)=(-?\d+)\.",
                                      p.prompt).groups())
        for case in p.tests["cases"]:
            (x,) = case["input"]
            assert case["output"] == (ab - b) * x + b


@pytest.mark.parametrize("domain", ["math", "code"])
def test_deterministic_per_seed_and_seeds_differ(domain):
    for level in range(1, tasks.MAX_LEVEL[domain] + 1):
        a = tasks.problems(domain, 40, level, seed=7)
        b = tasks.problems(domain, 40, level, seed=7)
        c = tasks.problems(domain, 40, level, seed=8)
        assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
        assert [p.uid for p in a] != [p.uid for p in c]
        assert len({p.prompt for p in a}) == 40  # distinct within one call


def _think_steps(p):
    return len(re.search(r"<think>(.*)</think>", p.metadata["solution"]).group(1).split())


def test_math_levels_get_harder():
    """More reasoning steps and more operators per problem as the level rises."""
    steps = [sum(_think_steps(p) for p in tasks.math_problems(100, lv, 0)) / 100 for lv in range(1, 6)]
    ops = [sum(len(re.findall(r"[+\-*]", p.prompt)) for p in tasks.math_problems(100, lv, 0)) / 100
           for lv in range(1, 6)]
    assert steps[0] == 1 and steps[1] == steps[2] == steps[3] == 2 and steps[4] > 3
    assert ops[0] == 1 and ops[1] == 2 and ops[4] >= 3
    assert all("x" in p.prompt for p in tasks.math_problems(20, 4, 0))


def test_code_levels_differ():
    prompts = {lv: [p.prompt for p in tasks.code_problems(30, lv, 0)] for lv in range(1, 5)}
    assert all(" times " in s for s in prompts[1])
    assert all("f(1)=" in s and "f(2)=" not in s for s in prompts[2])
    assert all("f(xs)" in s for s in prompts[3])
    assert all("f(2)=" in s for s in prompts[4])
    codes = [p.metadata["code"] for p in tasks.code_problems(30, 4, 0)]
    assert all("x*x" in c for c in codes)


@pytest.mark.parametrize("domain", ["math", "code"])
def test_heldout_is_disjoint_from_training_streams(domain):
    for level in range(1, tasks.MAX_LEVEL[domain] + 1):
        held = tasks.heldout(domain, 100, level, seed=0)
        train = [p for seed in range(4) for p in tasks.problems(domain, 200, level, seed)]
        assert all(tasks.is_heldout(domain, p.prompt) for p in held)
        assert not any(tasks.is_heldout(domain, p.prompt) for p in train)
        assert not {p.prompt for p in held} & {p.prompt for p in train}
        assert not {p.uid for p in held} & {p.uid for p in train}


def test_heldout_split_is_a_quarter_of_the_prompt_space():
    prompts = {f"Compute {a}+{b}." for a in range(100) for b in range(100)}
    share = sum(tasks.is_heldout("math", s) for s in prompts) / len(prompts)
    assert 0.22 < share < 0.28


def test_at_least_200_heldout_problems_per_cell():
    for domain in ("math", "code"):
        for level in range(1, tasks.MAX_LEVEL[domain] + 1):
            assert len(tasks.heldout(domain, 200, level, seed=0)) == 200


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="difficulty"):
        tasks.math_problems(1, 6, 0)
    with pytest.raises(ValueError, match="domain"):
        tasks.problems("poetry", 1, 1, 0)
    with pytest.raises(ValueError, match="n: only"):
        tasks.heldout("code", 2000, 3, 0)

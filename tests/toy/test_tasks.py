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


def _check_math(p):
    m = re.fullmatch(r"Compute ([0-9+*-]+)\.", p.prompt)
    assert m, p.prompt
    assert str(_eval_int(m.group(1))) == p.answer, p.prompt
    for key in ("solution", "terse"):
        assert p.metadata[key].endswith(f"<answer>{p.answer}</answer>")
        assert p.metadata[key].startswith("<think>")
    # the terse think is the whole expression in one step
    assert p.metadata["terse"] == f"<think>{m.group(1)}={p.answer}</think><answer>{p.answer}</answer>"


def _think(text):
    return re.search(r"<think>(.*)</think>", text).group(1)


@pytest.mark.parametrize("level", range(1, tasks.MAX_LEVEL["math"] + 1))
def test_math_answers_are_correct(level):
    probs = tasks.math_problems(150, level, seed=3) + tasks.heldout("math", 50, level, seed=3)
    for p in probs:
        assert p.domain == "math" and p.source == "toy/math" and p.difficulty == level
        _check_math(p)
        # every step of the reference reasoning is one true operation, and no intermediate value is negative
        steps = _think(p.metadata["solution"]).split()
        for step in steps:
            lhs, rhs = step.split("=")
            assert _eval_int(lhs) == int(rhs) >= 0, step
            assert len(re.findall(r"[+*-]", lhs)) == 1, step
        assert steps[-1].endswith(f"={p.answer}")


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
        # the terse response differs only in its think: the same program, the values without their arithmetic
        assert p.metadata["terse"].split("</think>")[1] == solution.split("</think>")[1]
        terse, steps = _think(p.metadata["terse"]), _think(solution)
        assert terse.count("=") < steps.count("=") and not re.search(r"\d[+*/-]", terse)
        # the hidden cases can fail: a constant function does not pass them
        assert not passes("def f(*a):\n    return 0\n", p), p.prompt


def test_code_cases_are_computed_not_copied():
    """Cases agree with an independent reading of the prompt (level 2: f(0)=b, f(1)=a+b; level 3: the
    same line through f(0) and f(1), mapped over a list)."""
    for p in tasks.code_problems(100, 2, seed=1):
        b, ab = map(int, re.fullmatch(r"Write f\(x\)=a\*x\+b in Python with f\(0\)=(-?\d+) and f\(1\)=(-?\d+)\.",
                                      p.prompt).groups())
        for case in p.tests["cases"]:
            (x,) = case["input"]
            assert case["output"] == (ab - b) * x + b
    for p in tasks.code_problems(100, 3, seed=1):
        y0, y1 = map(int, re.search(r"f\(\[0, 1\]\)=\[(-?\d+), (-?\d+)\]", p.prompt).groups())
        for case in p.tests["cases"]:
            (xs,) = case["input"]
            assert case["output"] == [y0 + (y1 - y0) * x for x in xs]


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
    return len(_think(p.metadata["solution"]).split())


def test_math_levels_get_harder():
    """One step per operator in the prompt, and more operators as the level rises; level 1 has one, so its
    terse and step-by-step responses coincide."""
    for lv, want in zip(range(1, 6), (1, 2, 3, 4, 6)):
        for p in tasks.math_problems(100, lv, 0):
            assert _think_steps(p) == len(re.findall(r"[+*-]", p.prompt)) == want, p.prompt
            assert (p.metadata["terse"] == p.metadata["solution"]) == (lv == 1)


def test_code_levels_differ():
    prompts = {lv: [p.prompt for p in tasks.code_problems(30, lv, 0)] for lv in range(1, 5)}
    assert all(re.search(r"f\(x\)=x[+-]c ", s) for s in prompts[1])
    assert all("f(1)=" in s and "f(2)=" not in s for s in prompts[2])
    assert all("f(xs)" in s and "f([0, 1])" in s for s in prompts[3])
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


# ------------------------------------------------------------------ the checked form (reflective variant)

def _think(text):
    return text.split("<think>")[1].split("</think>")[0]


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_checked_reference_drafts_then_rechecks_and_answers_the_recomputation(level):
    from srpo.analysis import detect_reflection

    problems = tasks.math_problems(100, level, seed=0)
    wrong = 0
    for p in problems:
        checked = p.metadata["checked"]
        think = _think(checked)
        draft, recomputation = think.split(f" {tasks.CHECK_PHRASE} ")
        # the recomputation is the step-by-step think, the draft the terse expression with some result
        assert recomputation == _think(p.metadata["solution"])
        assert draft.rsplit("=", 1)[0] == _think(p.metadata["terse"]).rsplit("=", 1)[0]
        # the answer always equals the recomputation's last value, whatever the draft says
        assert checked.endswith(f"<answer>{p.answer}</answer>") and recomputation.rsplit("=", 1)[1] == p.answer
        drafted = int(draft.rsplit("=", 1)[1])
        assert drafted >= 0 and abs(drafted - int(p.answer)) <= 3
        wrong += drafted != int(p.answer)
        assert detect_reflection(checked)["recheck"] == 1
        assert detect_reflection(p.metadata["terse"])["recheck"] == 0
        assert detect_reflection(p.metadata["solution"])["recheck"] == 0
    assert 0.35 < wrong / len(problems) < 0.65, wrong


def test_checked_reference_is_deterministic_and_leaves_the_streams_alone():
    a, b = tasks.math_problems(50, 3, seed=7), tasks.math_problems(50, 3, seed=7)
    assert [p.metadata["checked"] for p in a] == [p.metadata["checked"] for p in b]
    # computed from the prompt alone, no draw from the problem stream
    p = a[0]
    terse = _think(p.metadata["terse"])
    think = tasks.checked_think(p.prompt, p.answer, _think(p.metadata["solution"]), terse)
    assert think == _think(p.metadata["checked"])
    assert all("checked" not in c.metadata for c in tasks.code_problems(5, 2, seed=0))

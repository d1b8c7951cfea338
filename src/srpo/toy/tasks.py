"""Built-in procedural task suites: MATH (integer arithmetic/algebra) and CODE (tiny function writing).

Both suites are pure functions of ``(n, difficulty, seed)``: the same arguments give the same problems in
the same order, on any machine (only `random.Random` and `hashlib` are used).

Held-out split. A problem is *held out* iff the SHA-256 of ``"<domain>\\n<prompt>"`` is 0 modulo
`HELDOUT_MODULUS` (one problem in four). The training generators (`math_problems`, `code_problems`) never
return a held-out problem, and `heldout` returns nothing else, whatever the seed: the split is a partition
of the prompt space, so no choice of seeds can leak evaluation prompts into the warm start or RL. The key
is the prompt (what the model sees), not the uid, because two code problems with the same prompt but
different hidden tests would otherwise land on both sides.

Each problem has two reference responses, both in the format the rewards expect,
``<think>...</think><answer>...</answer>``: ``metadata["solution"]`` writes one think step per operation,
``metadata["terse"]`` the result in one step; the warm start trains on a seeded mix of both. MATH problems
also carry a third, ``metadata["checked"]``: a terse draft, the phrase ``let me check`` (counted by
`srpo.analysis.reflection`'s ``recheck`` family), the step-by-step recomputation, and the recomputed
answer; the draft is off by 1-3 for half the problems (`checked_think`), so the check corrects it. The
warm start uses it only when `WarmStartConfig.checked_fraction` > 0 (the shipped toy never saw it). For code the
answer is a fenced ```` ```python ```` block that defines the entry point (also kept bare in
``metadata["code"]``).
"""

from __future__ import annotations

import hashlib
import random
from typing import Callable

from srpo.core.problem import Problem

MAX_LEVEL = {"math": 5, "code": 4}
HELDOUT_MODULUS = 4
ENTRY_POINT = "f"

# (prompt, answer, think, terse think) for math; (prompt, code, think, terse think, cases) for code.
MathItem = tuple[str, str, str, str]
CodeItem = tuple[str, str, str, str, list[dict]]


def is_heldout(domain: str, prompt: str) -> bool:
    """True iff the prompt belongs to the held-out split (see the module docstring)."""
    digest = hashlib.sha256(f"{domain}\n{prompt}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % HELDOUT_MODULUS == 0


# ----------------------------------------------------------------------------------------------- math

def _apply(acc: int, op: str, v: int) -> int:
    return acc + v if op == "+" else acc - v if op == "-" else acc * v


def _chain(rng: random.Random, acc: int, expr: str, n: int, steps: list[str]) -> tuple[str, int]:
    """Append `n` terms ``±d`` (d in 1..9) to a running total, one think step per term; a minus that would
    take the total below zero becomes a plus (every intermediate value is >= 0)."""
    for _ in range(n):
        d, op = rng.randrange(1, 10), "+-"[rng.randrange(2)]
        if op == "-" and acc < d:
            op = "+"
        new = _apply(acc, op, d)
        steps.append(f"{acc}{op}{d}={new}")
        expr, acc = expr + f"{op}{d}", new
    return expr, acc


def _product(rng: random.Random, steps: list[str]) -> tuple[str, int]:
    a, b = rng.randrange(2, 10), rng.randrange(2, 10)
    steps.append(f"{a}*{b}={a * b}")
    return f"{a}*{b}", a * b


def _compute(expr: str, value: int, steps: list[str]) -> MathItem:
    """(prompt, answer, step-by-step think, terse think): terse is the whole expression in one step."""
    return f"Compute {expr}.", str(value), " ".join(steps), f"{expr}={value}"


def _math_l1(rng: random.Random) -> MathItem:
    """One operation of the kinds the longer levels chain: a±d, d*d, or a±b with two-digit a, b."""
    form, steps = rng.randrange(3), []
    if form == 0:
        a = rng.randrange(10, 100)
        expr, value = _chain(rng, a, str(a), 1, steps)
        return _compute(expr, value, steps)
    if form == 1:
        expr, value = _product(rng, steps)
        return _compute(expr, value, steps)
    a, b = rng.randrange(10, 82), rng.randrange(4, 82)
    op = "-" if rng.randrange(2) and a >= b else "+"
    steps.append(f"{a}{op}{b}={_apply(a, op, b)}")
    return _compute(f"{a}{op}{b}", _apply(a, op, b), steps)


def _math_l2(rng: random.Random) -> MathItem:
    """d±d±d: two steps."""
    steps: list[str] = []
    first = rng.randrange(1, 10)
    expr, value = _chain(rng, first, str(first), 2, steps)
    return _compute(expr, value, steps)


def _products_sum(rng: random.Random, steps: list[str]) -> tuple[str, int]:
    """a*b±c*d: three steps (the minus only where the result stays >= 0)."""
    e1, p1 = _product(rng, steps)
    e2, p2 = _product(rng, steps)
    op = "-" if rng.randrange(2) and p1 >= p2 else "+"
    steps.append(f"{p1}{op}{p2}={_apply(p1, op, p2)}")
    return f"{e1}{op}{e2}", _apply(p1, op, p2)


def _math_l3(rng: random.Random) -> MathItem:
    """a*b±c*d: three steps."""
    steps: list[str] = []
    expr, value = _products_sum(rng, steps)
    return _compute(expr, value, steps)


def _math_l4(rng: random.Random) -> MathItem:
    """a*b±d±d±d: four steps."""
    steps: list[str] = []
    expr, value = _product(rng, steps)
    expr, value = _chain(rng, value, expr, 3, steps)
    return _compute(expr, value, steps)


def _math_l5(rng: random.Random) -> MathItem:
    """a*b±c*d±d±d±d: six steps (never in the warm start)."""
    steps: list[str] = []
    expr, value = _products_sum(rng, steps)
    expr, value = _chain(rng, value, expr, 3, steps)
    return _compute(expr, value, steps)


_MATH: dict[int, Callable[[random.Random], MathItem]] = {
    1: _math_l1, 2: _math_l2, 3: _math_l3, 4: _math_l4, 5: _math_l5}


CHECK_PHRASE = "let me check"
DRAFT_WRONG_FRACTION = 0.5  # share of problems whose checked reference starts from a wrong draft


def checked_think(prompt: str, answer: str, think: str, terse: str) -> str:
    """The think of ``metadata["checked"]``: ``<draft> let me check <steps>``.

    The draft is the terse think (the expression and a result computed in the head). Whether it is wrong,
    and by how much, is a pure function of the prompt (SHA-256, no draw from the problem stream, so the
    streams are unchanged): with probability `DRAFT_WRONG_FRACTION` the drafted result is off by 1-3
    (never negative). The recomputation is the step-by-step think, whose last value is the answer, so the
    answer always equals the recomputation, whatever the draft said.

    >>> checked_think("Compute 2+3+4.", "9", "2+3=5 5+4=9", "2+3+4=9")
    '2+3+4=9 let me check 2+3=5 5+4=9'
    """
    digest = hashlib.sha256(f"srpo.toy/checked\n{prompt}".encode("utf-8")).digest()
    draft = int(answer)
    if digest[0] / 256 < DRAFT_WRONG_FRACTION:
        offset = 1 + digest[1] % 3
        draft = draft - offset if digest[2] % 2 and draft >= offset else draft + offset
    expr = terse.rsplit("=", 1)[0]
    return f"{expr}={draft} {CHECK_PHRASE} {think}"


def _math_problem(item: MathItem, level: int) -> Problem:
    prompt, answer, think, terse = item
    solution = f"<think>{think}</think><answer>{answer}</answer>"
    short = f"<think>{terse}</think><answer>{answer}</answer>"
    checked = f"<think>{checked_think(prompt, answer, think, terse)}</think><answer>{answer}</answer>"
    return Problem.create("math", prompt, answer=answer, source="toy/math", difficulty=level,
                          metadata={"solution": solution, "terse": short, "checked": checked})


# ----------------------------------------------------------------------------------------------- code

def _num_cases(fn: Callable[[int], int], rng: random.Random) -> list[dict]:
    xs = rng.sample(range(-10, 31), 5)
    return [{"input": [x], "output": fn(x)} for x in xs]


def _list_cases(fn: Callable[[list[int]], object], rng: random.Random) -> list[dict]:
    cases = []
    for length in (0, 3, 5, 7):
        xs = [rng.randrange(21) for _ in range(length)]
        cases.append({"input": [xs], "output": fn(xs)})
    return cases


def _affine_src(a: int, b: int) -> str:
    """Python source of a*x+b with the sign of b folded in (3*x-4, not 3*x+-4)."""
    return f"{a}*x{_signed(b, '')}"


def _signed(v: int, suffix: str) -> str:
    """A term with its sign as Python source: +3*x, -3*x, or nothing for 0."""
    if v == 0:
        return ""
    return f"+{v}{suffix}" if v > 0 else f"-{-v}{suffix}"


def _paren(v: int) -> str:
    return f"({v})" if v < 0 else str(v)


def _slope(rng: random.Random) -> int:
    return rng.choice([v for v in range(-9, 10) if v not in (-1, 0, 1)])


def _code_l1(rng: random.Random) -> CodeItem:
    """x+c or x-c from one example: c is one subtraction away."""
    if rng.randrange(2) == 0:
        x0, c = rng.randrange(1, 21), rng.randrange(1, 51)
        prompt = f"Write f(x)=x+c in Python with f({x0})={x0 + c}."
        think, terse, expr, fn = f"c={x0 + c}-{x0}={c}", f"c={c}", f"x+{c}", (lambda x: x + c)
    else:
        c = rng.randrange(1, 10)
        x0 = rng.randrange(c + 1, 61)
        prompt = f"Write f(x)=x-c in Python with f({x0})={x0 - c}."
        think, terse, expr, fn = f"c={x0}-{x0 - c}={c}", f"c={c}", f"x-{c}", (lambda x: x - c)
    return prompt, f"def f(x):\n    return {expr}\n", think, terse, _num_cases(fn, rng)


def _code_l2(rng: random.Random) -> CodeItem:
    """a*x+b from f(0), f(1): b is given, a is one subtraction away."""
    a, b = _slope(rng), rng.randrange(0, 81)
    prompt = f"Write f(x)=a*x+b in Python with f(0)={b} and f(1)={a + b}."
    think, terse = f"b={b} a={a + b}-{b}={a}", f"b={b} a={a}"
    code = f"def f(x):\n    return {_affine_src(a, b)}\n"
    return prompt, code, think, terse, _num_cases(lambda x: a * x + b, rng)


def _code_l3(rng: random.Random) -> CodeItem:
    """a*x+b mapped over a list, from f([0, 1]): b is given, a is one subtraction away (level 2's
    arithmetic, with the list comprehension to write)."""
    a, b = _slope(rng), rng.randrange(0, 61)
    y0, y1 = b, a + b
    prompt = f"Write f(xs) in Python mapping each x to a*x+b, with f([0, 1])=[{y0}, {y1}]."
    think, terse = f"b={y0} a={y1}-{y0}={a}", f"b={b} a={a}"
    code = f"def f(xs):\n    return [{_affine_src(a, b)} for x in xs]\n"
    return prompt, code, think, terse, _list_cases(lambda xs: [a * x + b for x in xs], rng)


def _code_l4(rng: random.Random) -> CodeItem:
    """A quadratic from f(0), f(1), f(2) (never in the warm start)."""
    a = rng.choice([v for v in range(-5, 6) if v != 0])
    b, c = rng.randrange(-9, 10), rng.randrange(-9, 10)
    f0, f1, f2 = c, a + b + c, 4 * a + 2 * b + c
    d1, d2 = f1 - f0, f2 - f1
    prompt = f"Write f(x) in Python with f(0)={f0}, f(1)={f1}, f(2)={f2}."
    think = f"d1={f1}-{_paren(f0)}={d1} d2={f2}-{_paren(f1)}={d2} a=({d2}-{_paren(d1)})/2={a} b={d1}-{_paren(a)}={b} c={c}"
    terse = f"a={a} b={b} c={c}"
    expr = f"{a}*x*x" + _signed(b, "*x") + _signed(c, "")
    return prompt, f"def f(x):\n    return {expr}\n", think, terse, _num_cases(lambda x: a * x * x + b * x + c, rng)


_CODE: dict[int, Callable[[random.Random], CodeItem]] = {1: _code_l1, 2: _code_l2, 3: _code_l3, 4: _code_l4}


def _code_problem(item: CodeItem, level: int) -> Problem:
    prompt, code, think, terse, cases = item
    tests = {"kind": "function", "entry_point": ENTRY_POINT, "cases": cases}
    block = f"<answer>```python\n{code}```</answer>"
    return Problem.create("code", prompt, tests=tests, source="toy/code", difficulty=level,
                          metadata={"solution": f"<think>{think}</think>{block}",
                                    "terse": f"<think>{terse}</think>{block}", "code": code})


# ------------------------------------------------------------------------------------------ generators

def _generate(domain: str, n: int, difficulty: int, seed: int, heldout: bool) -> list[Problem]:
    """Draw from the level's generator until `n` distinct prompts on the requested side of the split."""
    if domain not in MAX_LEVEL:
        raise ValueError(f"domain: expected one of {sorted(MAX_LEVEL)}, got {domain!r}")
    if not 1 <= difficulty <= MAX_LEVEL[domain]:
        raise ValueError(f"difficulty: {domain} levels are 1..{MAX_LEVEL[domain]}, got {difficulty!r}")
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    draw, make = (_MATH[difficulty], _math_problem) if domain == "math" else (_CODE[difficulty], _code_problem)
    # The split name is part of the stream seed so train and held-out streams are also independent draws.
    rng = random.Random(f"srpo.toy/{domain}/{difficulty}/{seed}/{'heldout' if heldout else 'train'}")
    seen: set[str] = set()
    out: list[Problem] = []
    budget = 50 * n + 1000
    while len(out) < n and budget > 0:
        budget -= 1
        item = draw(rng)
        prompt = item[0]
        if prompt in seen or is_heldout(domain, prompt) != heldout:
            continue
        seen.add(prompt)
        out.append(make(item, difficulty))
    if len(out) < n:
        raise ValueError(f"n: only {len(out)} distinct {'held-out' if heldout else 'training'} {domain} "
                         f"problems found at difficulty {difficulty}, asked for {n}")
    return out


def math_problems(n: int, difficulty: int, seed: int) -> list[Problem]:
    """`n` distinct training MATH problems at `difficulty` (1..5), never held-out ones.

    1: one operation (a±d, d*d, a±b); 2: d±d±d; 3: a*b±c*d; 4: a*b±d±d±d; 5: a*b±c*d±d±d±d.
    """
    return _generate("math", n, difficulty, seed, heldout=False)


def code_problems(n: int, difficulty: int, seed: int) -> list[Problem]:
    """`n` distinct training CODE problems at `difficulty` (1..4), never held-out ones.

    1: x±c from one example; 2: a*x+b from f(0), f(1); 3: a*x+b mapped over a list, from f([0, 1]);
    4: quadratic from f(0), f(1), f(2). Hidden tests: 5 numeric inputs or 4 lists (one empty).
    """
    return _generate("code", n, difficulty, seed, heldout=False)


def heldout(domain: str, n: int, difficulty: int, seed: int = 0) -> list[Problem]:
    """`n` distinct held-out problems (disjoint by prompt from every training stream, any seed)."""
    return _generate(domain, n, difficulty, seed, heldout=True)


def problems(domain: str, n: int, difficulty: int, seed: int) -> list[Problem]:
    """Training problems of either domain (`math_problems` or `code_problems`)."""
    return _generate(domain, n, difficulty, seed, heldout=False)

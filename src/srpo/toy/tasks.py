"""Built-in procedural task suites: MATH (integer arithmetic/algebra) and CODE (tiny function writing).

Both suites are pure functions of ``(n, difficulty, seed)``: the same arguments give the same problems in
the same order, on any machine (only `random.Random` and `hashlib` are used).

Held-out split. A problem is *held out* iff the SHA-256 of ``"<domain>\\n<prompt>"`` is 0 modulo
`HELDOUT_MODULUS` (one problem in four). The training generators (`math_problems`, `code_problems`) never
return a held-out problem, and `heldout` returns nothing else, whatever the seed: the split is a partition
of the prompt space, so no choice of seeds can leak evaluation prompts into the warm start or RL. The key
is the prompt (what the model sees), not the uid, because two code problems with the same prompt but
different hidden tests would otherwise land on both sides.

Reference responses (``metadata["solution"]``) are what the warm start trains on. They all have the
format the rewards expect, ``<think>short steps</think><answer>...</answer>``; for code the answer is a
fenced ```` ```python ```` block that defines the entry point (also kept bare in ``metadata["code"]``).
"""

from __future__ import annotations

import hashlib
import random
from typing import Callable

from srpo.core.problem import Problem

MAX_LEVEL = {"math": 5, "code": 4}
HELDOUT_MODULUS = 4
ENTRY_POINT = "f"

# (prompt, answer, think) for math; (prompt, code, think, cases) for code.
MathItem = tuple[str, str, str]
CodeItem = tuple[str, str, str, list[dict]]


def is_heldout(domain: str, prompt: str) -> bool:
    """True iff the prompt belongs to the held-out split (see the module docstring)."""
    digest = hashlib.sha256(f"{domain}\n{prompt}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % HELDOUT_MODULUS == 0


# ----------------------------------------------------------------------------------------------- math

def _math_l1(rng: random.Random) -> MathItem:
    a, b = rng.randrange(100), rng.randrange(100)
    return f"Compute {a}+{b}.", str(a + b), f"{a}+{b}={a + b}"


def _math_l2(rng: random.Random) -> MathItem:
    a, b = rng.randrange(100), rng.randrange(100)
    c = rng.randrange(a + b + 1)  # keep the result non-negative at this level
    s = a + b
    return f"Compute {a}+{b}-{c}.", str(s - c), f"{a}+{b}={s} {s}-{c}={s - c}"


def _math_l3(rng: random.Random) -> MathItem:
    a, b, c = rng.randrange(100), rng.randrange(2, 10), rng.randrange(2, 10)
    p = b * c
    form = rng.randrange(3)
    if form == 0:
        return f"Compute {a}+{b}*{c}.", str(a + p), f"{b}*{c}={p} {a}+{p}={a + p}"
    if form == 1:
        return f"Compute {b}*{c}+{a}.", str(p + a), f"{b}*{c}={p} {p}+{a}={p + a}"
    return f"Compute {b}*{c}-{a}.", str(p - a), f"{b}*{c}={p} {p}-{a}={p - a}"


def _math_l4(rng: random.Random) -> MathItem:
    a, x, b = rng.randrange(2, 10), rng.randrange(21), rng.randrange(51)
    if rng.randrange(2) == 0:
        c = a * x + b
        return (f"Solve {a}*x+{b}={c} for x.", str(x), f"{c}-{b}={c - b} {c - b}/{a}={x}")
    c = a * x - b
    return (f"Solve {a}*x-{b}={c} for x.", str(x), f"{c}+{b}={c + b} {c + b}/{a}={x}")


def _math_l5(rng: random.Random) -> MathItem:
    a, b = rng.randrange(2, 20), rng.randrange(2, 20)
    c, d = rng.randrange(2, 10), rng.randrange(100)
    form = rng.randrange(2)
    if form == 0:
        s, p = a + b, (a + b) * c
        return (f"Compute ({a}+{b})*{c}-{d}.", str(p - d), f"{a}+{b}={s} {s}*{c}={p} {p}-{d}={p - d}")
    p, q = a * c, b * c
    return (f"Compute {a}*{c}+{b}*{c}-{d}.", str(p + q - d),
            f"{a}*{c}={p} {b}*{c}={q} {p}+{q}={p + q} {p + q}-{d}={p + q - d}")


_MATH: dict[int, Callable[[random.Random], MathItem]] = {
    1: _math_l1, 2: _math_l2, 3: _math_l3, 4: _math_l4, 5: _math_l5}


def _math_problem(item: MathItem, level: int) -> Problem:
    prompt, answer, think = item
    solution = f"<think>{think}</think><answer>{answer}</answer>"
    return Problem.create("math", prompt, answer=answer, source="toy/math", difficulty=level,
                          metadata={"solution": solution})


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


def _code_l1(rng: random.Random) -> CodeItem:
    a, b = rng.randrange(2, 20), rng.randrange(1, 50)
    form = rng.randrange(3)
    if form == 0:
        spec, expr, fn = f"x times {a} plus {b}", f"{a}*x+{b}", (lambda x: a * x + b)
    elif form == 1:
        spec, expr, fn = f"x times {a} minus {b}", f"{a}*x-{b}", (lambda x: a * x - b)
    else:
        spec, expr, fn = f"x plus {b}, times {a}", f"(x+{b})*{a}", (lambda x: (x + b) * a)
    prompt = f"Write f(x) in Python returning {spec}."
    return prompt, f"def f(x):\n    return {expr}\n", expr, _num_cases(fn, rng)


def _code_l2(rng: random.Random) -> CodeItem:
    a = rng.choice([v for v in range(-9, 10) if v != 0])
    b = rng.randrange(-50, 100)
    expr = _affine_src(a, b)
    prompt = f"Write f(x) in Python with f(0)={b} and f(1)={a + b}."
    think = f"b={b} a={a + b}-{b if b >= 0 else f'({b})'}={a}"
    return prompt, f"def f(x):\n    return {expr}\n", think, _num_cases(lambda x: a * x + b, rng)


def _code_l3(rng: random.Random) -> CodeItem:
    form = rng.randrange(4)
    if form == 0:
        a, b = rng.randrange(1, 13), rng.randrange(-30, 31)
        body = f"[{_affine_src(a, b)} for x in xs]"
        spec, fn = f"each x in xs mapped to {_affine_src(a, b)}", (lambda xs: [a * x + b for x in xs])
        think = f"map {_affine_src(a, b)}"
    elif form == 1:
        k, m, cmp = rng.randrange(21), rng.randrange(2, 13), rng.choice([">", "<"])
        word = "greater" if cmp == ">" else "less"
        body = f"[x*{m} for x in xs if x{cmp}{k}]"
        spec = f"{m} times each x in xs {word} than {k}"
        think = f"keep x{cmp}{k} times {m}"
        fn = (lambda xs: [x * m for x in xs if (x > k if cmp == ">" else x < k)])
    elif form == 2:
        k, cmp = rng.randrange(21), rng.choice([">", "<"])
        word = "greater" if cmp == ">" else "less"
        body = f"len([x for x in xs if x{cmp}{k}])"
        spec = f"how many x in xs are {word} than {k}"
        think = f"count x{cmp}{k}"
        fn = (lambda xs: len([x for x in xs if (x > k if cmp == ">" else x < k)]))
    else:
        k, cmp = rng.randrange(21), rng.choice([">", "<"])
        word = "greater" if cmp == ">" else "less"
        body = f"sum([x for x in xs if x{cmp}{k}])"
        spec = f"the sum of the x in xs {word} than {k}"
        think = f"sum x{cmp}{k}"
        fn = (lambda xs: sum([x for x in xs if (x > k if cmp == ">" else x < k)]))
    prompt = f"Write f(xs) in Python returning {spec}."
    return prompt, f"def f(xs):\n    return {body}\n", think, _list_cases(fn, rng)


def _code_l4(rng: random.Random) -> CodeItem:
    a = rng.choice([v for v in range(-5, 6) if v != 0])
    b, c = rng.randrange(-9, 10), rng.randrange(-9, 10)
    f0, f1, f2 = c, a + b + c, 4 * a + 2 * b + c
    d1, d2 = f1 - f0, f2 - f1
    prompt = f"Write f(x) in Python with f(0)={f0}, f(1)={f1}, f(2)={f2}."
    think = f"d1={d1} d2={d2} a={a} b={b} c={c}"
    expr = f"{a}*x*x" + _signed(b, "*x") + _signed(c, "")
    return prompt, f"def f(x):\n    return {expr}\n", think, _num_cases(lambda x: a * x * x + b * x + c, rng)


_CODE: dict[int, Callable[[random.Random], CodeItem]] = {1: _code_l1, 2: _code_l2, 3: _code_l3, 4: _code_l4}


def _code_problem(item: CodeItem, level: int) -> Problem:
    prompt, code, think, cases = item
    tests = {"kind": "function", "entry_point": ENTRY_POINT, "cases": cases}
    solution = f"<think>{think}</think><answer>```python\n{code}```</answer>"
    return Problem.create("code", prompt, tests=tests, source="toy/code", difficulty=level,
                          metadata={"solution": solution, "code": code})


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

    1: a+b; 2: a+b-c; 3: mixed precedence (a+b*c, b*c+a, b*c-a); 4: solve a*x+b=c; 5: longer chains.
    """
    return _generate("math", n, difficulty, seed, heldout=False)


def code_problems(n: int, difficulty: int, seed: int) -> list[Problem]:
    """`n` distinct training CODE problems at `difficulty` (1..4), never held-out ones.

    1: affine function from words; 2: affine function from f(0), f(1); 3: list map/filter/count/sum from
    words; 4: quadratic from f(0), f(1), f(2). Hidden tests: 5 numeric inputs or 4 lists (one empty).
    """
    return _generate("code", n, difficulty, seed, heldout=False)


def heldout(domain: str, n: int, difficulty: int, seed: int = 0) -> list[Problem]:
    """`n` distinct held-out problems (disjoint by prompt from every training stream, any seed)."""
    return _generate(domain, n, difficulty, seed, heldout=True)


def problems(domain: str, n: int, difficulty: int, seed: int) -> list[Problem]:
    """Training problems of either domain (`math_problems` or `code_problems`)."""
    return _generate(domain, n, difficulty, seed, heldout=False)

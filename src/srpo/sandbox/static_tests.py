"""Test code the host can run itself: asserts about calls of the entry point with literal arguments.

MBPP-style asserts (``assert f(2) == 4``) and most HumanEval checks (``def check(candidate): assert
candidate([1, 2]) == [2, 3]``) only call the candidate with literals and compare what comes back with a
literal, or test its truth. For such test code the host makes the calls and compares the plain values
itself, with Python's own ``==`` and ``bool``, exactly as the test code would: no tester sandbox is
needed, and nothing but values ever comes out of the candidate. Anything else (other statements or
names, imports, computed arguments, ``abs(candidate(x) - y) < 1e-6``) returns None and runs in a tester.

Semantics kept: the top-level asserts run in order, then the body of ``check`` (called with the entry
point, as the tester does); the first failing assert ends the test; an assert's message is only ever
evaluated after a failure, so it is ignored.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Assertion:
    """``assert <call> == expected`` (kind ``eq``), ``assert <call>`` (``truthy``), ``assert not <call>``
    (``falsy``), or ``assert <literal>`` (``literal``: no call, `expected` is the literal)."""

    line: int
    kind: str
    args: tuple | None
    kwargs: dict | None
    expected: Any = None

    def holds(self, value: Any) -> bool:
        """Does the assert hold when the call returned `value` (a plain value)?"""
        if self.kind in ("eq", "literal"):
            return bool(value == self.expected) if self.kind == "eq" else bool(self.expected)
        return bool(value) if self.kind == "truthy" else not value


@functools.lru_cache(maxsize=1024)  # the same problem's test code comes back once per sampled response
def static_assertions(test_code: str, entry: str) -> tuple[Assertion, ...] | None:
    """The asserts of `test_code`, in the order they run, if the host can run them all itself; else None.

    >>> [(a.line, a.kind, a.args, a.expected) for a in static_assertions("assert f(2) == 4\\nassert not f(0)", "f")]
    [(1, 'eq', (2,), 4), (2, 'falsy', (0,), None)]
    >>> static_assertions("import math\\nassert f(2) == math.pi", "f") is None
    True
    """
    if entry == "check":  # the tester would call the test's own check(check): leave that oddity to it
        return None
    try:
        body = ast.parse(test_code).body
    except (SyntaxError, ValueError, RecursionError):
        return None
    top, check = [], None
    for node in body:
        if isinstance(node, ast.FunctionDef) and node.name == "check" and check is None:
            check = node
        elif not _harmless(node, entry):
            top.append(node)
    inner = _check_body(check) if check else ([], "")
    if inner is None:
        return None
    asserts = [_assertion(node, entry) for node in top] + [_assertion(node, inner[1]) for node in inner[0]]
    return None if None in asserts else tuple(asserts)


def _harmless(node: ast.stmt, entry: str) -> bool:
    """Statements that cannot change what the asserts see: docstrings, ``pass``, a literal assigned to a
    name that no assert uses (HumanEval's ``METADATA = {...}``)."""
    if isinstance(node, ast.Pass) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
        return True
    return (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id not in (entry, "check") and _is_literal(node.value))


def _check_body(check: ast.FunctionDef) -> tuple[list[ast.stmt], str] | None:
    """``def check(candidate): <asserts>`` -> (the statements, the parameter's name)."""
    args = check.args
    if check.decorator_list or len(args.args) != 1 or args.defaults or args.vararg or args.kwarg \
            or args.posonlyargs or args.kwonlyargs:
        return None
    return [n for n in check.body if not _harmless(n, args.args[0].arg)], args.args[0].arg


def _assertion(node: ast.stmt, callee: str) -> Assertion | None:
    if not isinstance(node, ast.Assert):
        return None
    test, line = node.test, node.lineno
    if _is_literal(test):
        return Assertion(line, "literal", None, None, ast.literal_eval(test))
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and _call(test.operand, callee):
        return Assertion(line, "falsy", *_call(test.operand, callee))
    if _call(test, callee):
        return Assertion(line, "truthy", *_call(test, callee))
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        call, literal = (left, right) if _call(left, callee) else (right, left)
        if _call(call, callee) and _is_literal(literal):
            return Assertion(line, "eq", *_call(call, callee), ast.literal_eval(literal))
    return None


def _call(node: ast.expr, callee: str) -> tuple[tuple, dict] | None:
    """(args, kwargs) of ``callee(<literals>)``, else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == callee):
        return None
    if not all(_is_literal(a) for a in node.args) or any(k.arg is None or not _is_literal(k.value)
                                                         for k in node.keywords):
        return None
    return (tuple(ast.literal_eval(a) for a in node.args),
            {k.arg: ast.literal_eval(k.value) for k in node.keywords})


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True

"""Reference solutions run against their own tests: the one check behind `srpo curate`'s ``reference_fails``
and the load check of a run's data (`srpo.data.usable.check_usable`).

A code problem's reference is ``metadata["solution"]`` (or ``metadata["reference_solution"]``). It goes to
the scorer as a response: as it is when it is already one (it holds a fenced code block and is not itself
valid Python, like the toy suites' ``<think>...</think><answer>```python ...```</answer>``), else put into
the template (``curate.reference_template``, by default a fenced python block). A reference fails when the
scorer does not call the response `correct`; the detail says why (the error, or the first failing test).
"""

from __future__ import annotations

import ast
import json
import time
from typing import Any, Callable, Sequence

from srpo.core.problem import Problem
from srpo.core.results import RewardResult, ScoreFn
from srpo.data.curate_config import REFERENCE_TEMPLATE
from srpo.rewards.extract import extract_code

DETAIL_CHARS = 200

# problems -> per problem None (passes, or nothing to run) or why its reference fails.
ReferenceCheck = Callable[[list[Problem]], list["str | None"]]


def reference_solution(problem: Problem) -> str | None:
    """The reference solution of a code problem, or None.

    >>> reference_solution(Problem.create("code", "f", metadata={"solution": "def f(): pass"}))
    'def f(): pass'
    """
    if problem.domain != "code":
        return None
    for key in ("solution", "reference_solution"):
        value = problem.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def reference_response(solution: str, template: str = REFERENCE_TEMPLATE) -> str:
    """`solution` as the scorer's response: itself when it is already a response, else in `template`.

    >>> reference_response("def f():\\n    return 1")
    '```python\\ndef f():\\n    return 1\\n```'
    >>> reference_response("<answer>```python\\nx = 1\\n```</answer>")
    '<answer>```python\\nx = 1\\n```</answer>'
    """
    if extract_code(solution) is not None and not _is_python(solution):
        return solution
    return template.replace("{solution}", solution)


def _is_python(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def reference_failures(problems: Sequence[Problem], score_fn: ScoreFn,
                       template: str = REFERENCE_TEMPLATE) -> list[str | None]:
    """Per problem: None when it has no reference or its reference passes its tests, else
    ``"reference solution fails its tests: <detail>"``. The references run as one batch of `score_fn`."""
    todo = [(i, p) for i, p in enumerate(problems) if reference_solution(p)]
    out: list[str | None] = [None] * len(problems)
    if not todo:
        return out
    responses = [reference_response(reference_solution(p) or "", template) for _, p in todo]
    results = score_fn(responses, [p for _, p in todo])
    for (i, _), result in zip(todo, results, strict=True):
        if not result.correct:
            out[i] = f"reference solution fails its tests: {failure_detail(result)}"
    return out


def failure_detail(result: RewardResult) -> str:
    """Why a reference failed: the code reward's error, else its first failing test (expected and got).

    >>> failure_detail(RewardResult(0.0, False, {"accuracy": {"verdict": "fail", "passed": 0, "total": 1,
    ...     "tests": [{"name": "case 0", "passed": False, "status": "fail", "expected": "3", "got": "4"}]}}))
    '0/1 tests pass; case 0: fail (expected 3, got 4)'
    """
    info: dict[str, Any] = result.info.get("accuracy", result.info)
    if info.get("error"):
        return _short(f"{info.get('verdict', 'error')}: {info['error']}")
    failed = [t for t in info.get("tests") or [] if isinstance(t, dict) and not t.get("passed")]
    if not failed:
        return _short(json.dumps(info, default=str, ensure_ascii=False))
    test = failed[0]
    text = f"{info.get('passed', 0)}/{info.get('total', '?')} tests pass; {test.get('name')}: {test.get('status')}"
    if "expected" in test:
        text += f" (expected {test['expected']}, got {test.get('got')})"
    elif test.get("detail"):
        text += f" ({test['detail']})"
    return _short(text)


def _short(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "..."


class ReferenceRunner:
    """A `ReferenceCheck` over a `RewardScorer` that starts on first use (no sandbox when nothing has a
    reference) and counts what it ran; `close()` ends the scorer."""

    def __init__(self, rewards_cfg: Any = None, sandbox_cfg: Any = None, template: str = REFERENCE_TEMPLATE):
        self.rewards_cfg, self.sandbox_cfg, self.template = rewards_cfg, sandbox_cfg, template
        self.scorer: Any = None
        self.checked = 0
        self.seconds = 0.0

    def __call__(self, problems: list[Problem]) -> list[str | None]:
        if not any(reference_solution(p) for p in problems):
            return [None] * len(problems)
        start = time.perf_counter()
        if self.scorer is None:
            from srpo.rewards import RewardScorer

            self.scorer = RewardScorer(self.rewards_cfg, self.sandbox_cfg)
        out = reference_failures(problems, self.scorer.score, self.template)
        self.checked += sum(1 for p in problems if reference_solution(p))
        self.seconds += time.perf_counter() - start
        return out

    def close(self) -> None:
        if self.scorer is not None:
            self.scorer.close()
            self.scorer = None

    def __enter__(self) -> "ReferenceRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

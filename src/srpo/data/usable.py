"""Can a problem be scored at all? A math problem needs a gold answer the math reward can compare against; a
code problem needs tests the code reward can run. A problem without either trains at reward 0 forever.

Reasons (stable codes, counted in the load table and in `srpo curate`'s report):

``malformed``         the row did not become a problem (bad JSON, no prompt, bad tests JSON, ...)
``no_answer``         math without a gold answer
``gold_unparseable``  the gold is not a plain number or words and math-verify finds no value in it
``no_tests``          code without tests, or with neither cases nor test code
``bad_tests``         tests the code reward rejects (unknown kind, no entry point, malformed cases, ...)
``reference_fails``   code whose own reference solution fails its tests (only when a reference check is
                      given: it runs the references in the sandbox, see `srpo.data.references`)
``duplicate``         same uid as a problem loaded before (kept once; not an error)
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from srpo.core.problem import Problem
from srpo.data.loaders import LoadIssue
from srpo.data.references import ReferenceCheck
from srpo.rewards.code_reward import build_job
from srpo.rewards.math_reward import to_latex

# Decided without math-verify by the math reward's exact path (numbers; words compared case-insensitively).
_PLAIN = re.compile(r"\$?\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*\$?|[A-Za-z]+(?: [A-Za-z]+)*")


@dataclass(frozen=True)
class Unusable:
    """A row that cannot be scored: where it was read, its source, a reason code and a detail for people."""

    where: str
    source: str
    reason: str
    detail: str
    problem: Problem | None = None


@dataclass
class Checked:
    kept: list[Problem] = field(default_factory=list)
    dropped: list[Unusable] = field(default_factory=list)


def unusable_reason(problem: Problem) -> tuple[str, str] | None:
    """``(reason, detail)`` when `problem` cannot be scored, else None."""
    if problem.domain == "math":
        return gold_reason(problem.answer)
    return code_reason(problem)


def check_usable(rows: Iterable[tuple[str, Problem | LoadIssue]], references: ReferenceCheck | None = None
                 ) -> Checked:
    """Split ``(where, Problem | LoadIssue)`` rows into scorable problems and `Unusable` rows, in row order.

    With `references`, a code problem that passes the other checks and carries a reference solution must
    also pass its own tests: those references run as one batch (in parallel, each under the sandbox's
    time limit) and a failure is ``reference_fails``.
    """
    rows = list(rows)
    verdicts = [_verdict(where, item) for where, item in rows]
    if references is not None:
        todo = [i for i, bad in enumerate(verdicts) if bad is None]
        for i, why in zip(todo, references([rows[i][1] for i in todo])):
            if why:
                item = rows[i][1]
                verdicts[i] = Unusable(rows[i][0], item.source, "reference_fails", why, problem=item)
    checked = Checked()
    for (_, item), bad in zip(rows, verdicts):
        if bad is None:
            checked.kept.append(item)
        else:
            checked.dropped.append(bad)
    return checked


def _verdict(where: str, item: Problem | LoadIssue) -> Unusable | None:
    if isinstance(item, LoadIssue):
        return Unusable(where, item.source, "malformed", item.message)
    why = unusable_reason(item)
    return Unusable(where, item.source, *why, problem=item) if why else None


def gold_reason(answer: str | None) -> tuple[str, str] | None:
    """None when the math reward can match `answer`: a plain number or words, or math-verify parses a value."""
    text = (answer or "").strip()
    if not text:
        return "no_answer", "math problem without a gold answer"
    if _PLAIN.fullmatch(text) or _verifier_parses(to_latex(text)):
        return None
    return "gold_unparseable", f"math-verify finds no value in gold answer {_short(text)!r}"


@lru_cache(maxsize=65536)
def _verifier_parses(latex: str) -> bool:
    """math-verify (configured as the math reward's workers are) yields a value, not only a string."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    # math-verify's timeout uses SIGALRM, which only works on the main thread.
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        parsed = parse(latex, extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
                       parsing_timeout=timeout)
    except Exception:  # math-verify raises on some inputs despite raise_on_error=False
        return False
    return any(not isinstance(x, str) for x in parsed)


def code_reason(problem: Problem) -> tuple[str, str] | None:
    """None when the code reward can run `problem.tests` (a known kind and at least one case or test code)."""
    tests = problem.tests
    if not tests:
        return "no_tests", "code problem without tests"
    if not isinstance(tests, dict):
        return "bad_tests", f"tests must be an object, got {type(tests).__name__}"
    try:
        build_job(problem, "")
    except ValueError as err:
        return "bad_tests", str(err).removeprefix(f"problem {problem.uid}: ")
    test_code = tests.get("test_code")
    if not tests.get("cases") and not (isinstance(test_code, str) and test_code.strip()):
        return "no_tests", "tests have no cases and no test_code"
    return None


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."

"""Math accuracy: extract the final answer and decide equivalence with the gold answer.

Plain numbers and identical strings are decided here, exactly and in microseconds (the common case in
training: ``<answer>57</answer>`` against gold ``57``). Everything else goes to math-verify (fractions,
decimals, radicals, expressions, intervals, sets, units stripped) through a `MathVerifier`, which enforces a
time limit off the caller's thread.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

from srpo.core.problem import Problem
from srpo.core.results import RewardResult
from srpo.rewards.extract import extract_answer
from srpo.rewards.math_verifier import MathVerifier, default_verifier
from srpo.rewards.registry import register_reward

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_INTEGER = re.compile(r"[+-]?\d+")
_WORDS = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")
_DELIMITED = ("$", "\\boxed", "\\(", "\\[")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm)\{([^{}]*)\}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?")


def _bare(text: str) -> str:
    r"""Strip whitespace, currency dollars, one pair of surrounding ``$``, a whole-answer ``\text{}``,
    and a final period."""
    text = text.replace("\\$", "").strip()
    if text.count("$") == 1:  # "$5": a currency sign, not a math delimiter
        text = text.replace("$", "").strip()
    if len(text) >= 2 and text[0] == "$" and text[-1] == "$" and "$" not in text[1:-1]:
        text = text[1:-1].strip()
    whole_text = _TEXT.fullmatch(text)
    if whole_text:
        text = whole_text.group(1).strip()
    return text[:-1].rstrip() if text.endswith(".") and not _NUMBER.fullmatch(text) else text


def to_latex(answer: str) -> str:
    r"""Prepare an answer (gold or extracted) for math-verify.

    math-verify reads bare LaTeX wrongly (``2\sqrt{2}`` parses as ``2``), so math-looking text is wrapped in
    ``$...$``. Prose (a run of three or more letters outside LaTeX commands) is left bare so that
    math-verify's own extraction finds the expression in it.

    >>> to_latex(r"2\sqrt{2}")
    '$2\\sqrt{2}$'
    >>> to_latex("$x=3$"), to_latex("3 meters")
    ('$x=3$', '3 meters')
    """
    text = answer.strip()
    if any(d in text for d in _DELIMITED):
        return text
    if _WORDS.fullmatch(text) and len(text) >= 3 and text.lower() not in ("inf", "infty", "infinity"):
        return f"$\\text{{{text}}}$"  # a word answer ("Monday"), not a product of variables
    if re.search(r"[A-Za-z]{3,}", _LATEX_COMMAND.sub(" ", text)):
        return text
    return f"${text}$"


def fast_equal(gold: str, answer: str) -> bool | None:
    """Decide the easy cases exactly; None means "ask math-verify".

    Equal strings (ignoring spaces) and numerically equal plain numbers are equal; two different integers
    are not; two different plain words are not (case-insensitive). Numbers are compared as `Decimal`:
    exact, and free of int()'s 4300-digit limit.

    >>> fast_equal("57", " 57 "), fast_equal("0.5", ".50"), fast_equal("56", "57"), fast_equal("1/2", "0.5")
    (True, True, False, None)
    >>> fast_equal("1" * 5000, "1" * 5000 + ".0"), fast_equal("1" * 5000, "2" * 5000)
    (True, False)
    """
    g, a = _bare(gold), _bare(answer)
    if g.replace(" ", "") == a.replace(" ", "") and g:
        return True
    if _NUMBER.fullmatch(g) and _NUMBER.fullmatch(a):
        if Decimal(g) == Decimal(a):
            return True
        if _INTEGER.fullmatch(g) and _INTEGER.fullmatch(a):
            return False
        return None  # decimals: math-verify's rounding rules decide
    if _WORDS.fullmatch(g) and _WORDS.fullmatch(a) and (len(g) > 1 or len(a) > 1):
        return g.lower() == a.lower()
    return None


@register_reward("math_accuracy", resources=("math_verifier",))
def math_accuracy(response: str, problem: Problem, *, math_verifier: MathVerifier | None = None,
                  answer_tag: str = "answer") -> RewardResult | None:
    """1.0 and correct when the response's final answer equals the gold answer, else 0.0.

    Extraction and comparison share one time limit, the verifier's ``timeout_s``: extraction is linear in
    the response's length, and math-verify gets what is left of the limit, enforced from this thread.
    Any answer (huge numbers, pathological LaTeX) gets a verdict; it is never an exception.

    >>> p = Problem.create("math", "(12+7)*3?", answer="57")
    >>> math_accuracy("<think>12+7=19, 19*3=57</think><answer>57</answer>", p).correct
    True
    >>> math_accuracy("<answer>56</answer>", p).score
    0.0
    """
    if problem.domain != "math" or problem.answer is None:
        return None
    start = time.monotonic()
    found = extract_answer(response, answer_tag)
    if found is None:
        return RewardResult(0.0, False, {"extracted": None, "reason": "no final answer found"})
    info = {"extracted": found.text, "source": found.source, "gold": problem.answer}
    decided = fast_equal(problem.answer, found.text)
    if decided is not None:
        return RewardResult(float(decided), decided, {**info, "method": "exact"})
    verifier = math_verifier or default_verifier()
    gold, answer = to_latex(_bare(problem.answer)), to_latex(_bare(found.text))
    ok, details = verifier.verify(gold, answer, time_left=verifier.timeout_s - (time.monotonic() - start))
    return RewardResult(float(ok), ok, {**info, "method": "math_verify", **details})

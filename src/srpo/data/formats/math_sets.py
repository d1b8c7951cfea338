"""Math data sets whose gold answer sits inside a worked solution: GSM8K (``#### 72``) and MATH (``\\boxed{}``).

The gold becomes the final answer only; the worked solution is kept in ``metadata["solution"]``.
"""

from __future__ import annotations

from typing import Any

from srpo.core.problem import Problem
from srpo.data.formats.base import Format, RowContext, final_answer, register_format, require_str, rest_of_row
from srpo.data.rows import DataError
from srpo.rewards.extract import last_boxed


def gsm8k_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    """GSM8K: ``question``, ``answer`` = worked solution ending in ``#### <final answer>``."""
    question = require_str(row, "question", where, "gsm8k")
    worked = require_str(row, "answer", where, "gsm8k")
    if "####" not in worked:
        raise DataError(f"{where}: answer has no '#### <final answer>' line (format 'gsm8k')")
    metadata = {**rest_of_row(row, {"question", "answer"}), "solution": worked}
    return Problem.create("math", question, final_answer(worked), source=ctx.source, metadata=metadata)


def math_problem(row: dict[str, Any], where: str, ctx: RowContext) -> Problem:
    r"""MATH (Hendrycks) and its kin (MATH-500, NuminaMath): ``problem``, ``solution`` with the final answer
    in its last ``\boxed{}``; an ``answer`` column, where there is one, is the gold instead."""
    problem = require_str(row, "problem", where, "math")
    worked = require_str(row, "solution", where, "math")
    answer = row.get("answer")
    if answer is None or answer == "":
        answer = last_boxed(worked)
        if answer is None:
            raise DataError(f"{where}: solution has no \\boxed{{}} final answer and there is no answer column "
                            f"(format 'math')")
    metadata = {**rest_of_row(row, {"problem", "solution", "answer", "level"}), "solution": worked}
    level = row.get("level")
    return Problem.create("math", problem, str(answer).strip(), source=ctx.source,
                          difficulty=level if isinstance(level, (str, int)) else None, metadata=metadata)


register_format(Format("gsm8k", "GSM8K: question, answer ending in '#### <final answer>'",
                       lambda row: 5 if {"question", "answer"} <= set(row) and "####" in str(row["answer"])
                       else None, gsm8k_problem))
register_format(Format("math", "MATH / MATH-500 / NuminaMath: problem, solution with \\boxed{} (or an answer "
                               "column)", lambda row: 5 if {"problem", "solution"} <= set(row) else None,
                       math_problem))

"""Data formats: which layout a file's rows are in, and how one row becomes a `Problem`.

`FORMATS` is a registry of `Format` entries, each a detector over a row's columns and a converter. The
loader detects the format from each file's first readable row (`detect_format`) and says which it assumed;
``data.format`` / ``--format`` (or ``format=`` here) forces one. Registered here:

=============== ================================================================================
srpo            srpo's own JSONL; any prompt/problem/question column with answer or tests
trl             TRL prompt sets: ``prompt`` (text or conversational), gold in ``answer`` or ``solution``
verl            verl RL parquet: chat prompt, ``reward_model.ground_truth`` (math answer or code tests)
gsm8k           GSM8K: ``question``, ``answer`` ending in ``#### <final answer>``
math            MATH / MATH-500 / NuminaMath: ``problem``, ``solution`` with ``\\boxed{}``
humaneval       HumanEval: ``task_id, prompt, canonical_solution, test, entry_point``
mbpp            MBPP: ``text``/``prompt``, ``code``, ``test_list``, ``test_setup_code``/``test_imports``
apps            APPS / TACO: ``question``, ``input_output`` (``fn_name`` for call-based), ``solutions``
livecodebench   LiveCodeBench: ``question_content``, ``public_test_cases``, ``private_test_cases``
codecontests    CodeContests: ``description``, ``public_tests``, ``private_tests``, ``solutions``
=============== ================================================================================

Another package adds a format with ``register_format(Format(name, summary, detect, convert))``.
"""

from __future__ import annotations

from typing import Any

from srpo.core.problem import Problem
from srpo.data.formats import code_sets, generic, math_sets  # noqa: F401  (registration)
from srpo.data.formats.base import AUTO, FORMATS, Format, RowContext, detect_format, register_format
from srpo.data.formats.code_sets import humaneval_problem, io_tests
from srpo.data.formats.generic import check_mapping
from srpo.data.rows import DataError


def row_to_problem(row: dict[str, Any], where: str, *, mapping: dict[str, str] | None = None,
                   domain: str | None = None, source: str = "", format: str = AUTO) -> Problem:
    """Build a Problem from one row (format detected from this row unless named); `DataError` names `where`."""
    mapping = dict(mapping or {})
    check_mapping(mapping)
    name = resolve_format(format, row, mapping, where)
    problem = FORMATS.get(name).convert(row, where, RowContext(mapping, domain, source))
    if domain is not None and problem.domain != domain:
        raise DataError(f"domain: format '{name}' gives {problem.domain} problems, not {domain}")
    return problem


def resolve_format(format: str, row: dict[str, Any], mapping: dict[str, str], where: str) -> str:
    """`format` itself, or the one detected from `row`; errors say what is known and how to choose."""
    if format != AUTO:
        if format not in FORMATS:
            raise DataError(f"format: unknown {format!r} (known: {AUTO}, {', '.join(FORMATS.names())})")
        if mapping and not FORMATS.get(format).mappable:
            mappable = ", ".join(n for n in FORMATS.names() if FORMATS.get(n).mappable)
            raise DataError(f"mapping: format '{format}' reads fixed columns; a column mapping applies to "
                            f"formats {mappable}")
        return format
    name = detect_format(row, mapping)
    if name is None:
        raise DataError(f"{where}: no known format matches the columns ({', '.join(sorted(row))}); name the "
                        f"prompt column with data.column_mapping.prompt=<column> (CLI: --map prompt=<column>) "
                        f"or set data.format (known: {', '.join(FORMATS.names())})")
    return name


__all__ = ["AUTO", "FORMATS", "Format", "RowContext", "detect_format", "humaneval_problem", "io_tests",
           "register_format", "resolve_format", "row_to_problem"]

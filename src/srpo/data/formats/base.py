"""What a data format is: a detector over a file's first row and a converter from one row to a `Problem`.

A detector returns a score (higher is more specific) or None when the row does not look like the format;
the loader takes the best score over the first readable row of each file and converts every row with that
format (`detect_format`). Scores in use: 10 for data sets with their own unmistakable columns (HumanEval,
MBPP, APPS, ...), 8/7 verl, 6/2 srpo's own layout (2: only a prompt-like column), 5 MATH and GSM8K, 4 TRL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from srpo.core.problem import Problem
from srpo.core.registry import Registry
from srpo.data.rows import DataError
from srpo.rewards.extract import last_boxed

AUTO = "auto"


@dataclass(frozen=True)
class RowContext:
    """What a converter gets besides the row: the column mapping, a forced domain, the default source."""

    mapping: dict[str, str] = field(default_factory=dict)
    domain: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Format:
    """A recognised row layout. `mappable` formats read their fields through ``data.column_mapping``."""

    name: str
    summary: str
    detect: Callable[[dict[str, Any]], int | None]
    convert: Callable[[dict[str, Any], str, RowContext], Problem]
    mappable: bool = False


FORMATS: Registry[Format] = Registry("data format")


def register_format(fmt: Format) -> Format:
    return FORMATS.add(fmt.name, fmt)


def detect_format(row: dict[str, Any], mapping: dict[str, str] | None = None) -> str | None:
    """The best-scoring format for `row` (a mapping restricts the choice to the mappable formats)."""
    view = {**row, **{name: True for name in mapping}} if mapping else row
    scored = []
    for name in FORMATS.names():
        fmt = FORMATS.get(name)
        score = fmt.detect(view) if fmt.mappable or not mapping else None
        if score is not None:
            scored.append((-score, name))
    return min(scored)[1] if scored else None


def require_str(row: dict[str, Any], key: str, where: str, fmt: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: format '{fmt}' needs a non-empty string in column {key!r}")
    return value


def json_value(value: Any, where: str, column: str) -> Any:
    """A column that holds JSON either decoded already (parquet structs, JSONL objects) or as a string."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: column {column!r} is not valid JSON ({err.msg})") from None


def final_answer(solution: str) -> str:
    r"""The final answer inside a worked solution: the last ``\boxed{}``, else the text after ``####``
    (GSM8K; thousands separators dropped), else the whole text.

    >>> final_answer(r"so $x = \boxed{\frac{1}{2}}$."), final_answer("48 + 24 = 72\n#### 1,072"), final_answer(" 7 ")
    ('\\frac{1}{2}', '1072', '7')
    """
    boxed = last_boxed(solution)
    if boxed is not None:
        return boxed.strip()
    if "####" in solution:
        tail = solution.rsplit("####", 1)[1].strip()
        return tail.replace(",", "") if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", tail) else tail
    return solution.strip()


def rest_of_row(row: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """The columns no field took (kept in ``metadata``: reward functions and reports may want them)."""
    return {k: v for k, v in row.items() if k not in used}

"""Loading problems from files, in-memory tables and built-in sources; exporting them.

`load_problems` is the one entry point: a path (``.jsonl``, ``.jsonl.gz``, ``.json``, ``.parquet``), a
built-in source string (``humaneval``, ``gym:<task>``, ``toy:<suite>``, see `srpo.data.sources`), a Hugging
Face ``datasets.Dataset`` or a list of dicts. It stops at the first malformed row with a `DataError` naming
the file and line/row; `iter_problems` instead yields a `LoadIssue` for each bad row so curation can count
and keep them (nothing is dropped silently).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from srpo.data.formats import row_to_problem
from srpo.core.problem import Problem
from srpo.data.rows import DataError, RawRow, iter_object_rows, iter_raw_rows
from srpo.data.sources import is_source, load_source


@dataclass(frozen=True)
class LoadIssue:
    """A row that could not become a Problem: where it is, why, and what it held."""

    where: str
    message: str
    row: dict[str, Any] | None = None
    raw: str | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "message": self.message, "row": self.row, "raw": self.raw,
                "source": self.source}


def iter_problems(data: Any, *, domain: str | None = None, mapping: dict[str, str] | None = None,
                  source: str | None = None, layout: str | None = None) -> Iterator[Problem | LoadIssue]:
    """Yield a Problem or a LoadIssue per row. Errors about the whole input (no such file) still raise.

    `source` overrides each problem's source; by default it is the row's source column, else the file's
    stem (``aime24.jsonl`` -> ``aime24``), else the built-in source spec.
    """
    if isinstance(data, (str, Path)) and not Path(data).exists() and is_source(str(data)):
        for problem in load_source(str(data)):
            yield _with_source(problem, source, domain)
        return
    if isinstance(data, (str, Path)):
        raws: Iterator[RawRow] = iter_raw_rows(data)
        default_source = Path(data).name.split(".")[0]
    else:
        raws = iter_object_rows(data, type(data).__name__)
        default_source = ""
    for raw in raws:
        if raw.row is None:
            yield LoadIssue(raw.where, raw.error or "unreadable", None, raw.raw, source or default_source)
            continue
        try:
            problem = row_to_problem(raw.row, raw.where, mapping=mapping, domain=domain,
                                     source=default_source, layout=layout)
        except (DataError, ValueError) as err:
            message = str(err)
            if message.startswith(("mapping:", "layout:", "domain:")):
                raise  # a wrong argument, not a bad row
            yield LoadIssue(raw.where, message.removeprefix(f"{raw.where}: "), _jsonable(raw.row), None,
                            source or default_source)
            continue
        yield _with_source(problem, source, None)


def load_problems(data: Any, *, domain: str | None = None, mapping: dict[str, str] | None = None,
                  source: str | None = None, layout: str | None = None) -> list[Problem]:
    """All problems of `data`; raises `DataError` ("<file>:line N: ...") at the first malformed row."""
    problems = []
    for item in iter_problems(data, domain=domain, mapping=mapping, source=source, layout=layout):
        if isinstance(item, LoadIssue):
            raise DataError(f"{item.where}: {item.message}")
        problems.append(item)
    return problems


def _with_source(problem: Problem, source: str | None, domain: str | None) -> Problem:
    if source is not None:
        problem.source = source
    if domain is not None and problem.domain != domain:
        raise DataError(f"{problem.source}: built-in source gives {problem.domain} problems, not {domain}")
    return problem


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(row, default=str))


# ---------------------------------------------------------------------------------------------- export


def export_jsonl(problems: list[Problem], path: str | Path) -> None:
    """srpo's own JSONL: one `Problem.to_dict()` per line (loads back unchanged)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for problem in problems:
            fh.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")


def verl_row(problem: Problem, index: int) -> dict[str, Any]:
    """One row in verl's RL layout.

    ``reward_model.ground_truth`` is the gold answer for math and the JSON-encoded tests dict for code;
    ``extra_info`` keeps the uid, the index and (as one JSON string, so parquet columns keep one type)
    srpo's difficulty and metadata, which `load_problems` restores.
    """
    messages = []
    if isinstance(problem.metadata.get("system_prompt"), str):
        messages.append({"role": "system", "content": problem.metadata["system_prompt"]})
    messages.append({"role": "user", "content": problem.prompt})
    truth = problem.answer if problem.domain == "math" else json.dumps(problem.tests, sort_keys=True)
    extra = {"index": index, "uid": problem.uid,
             "srpo": json.dumps({"difficulty": problem.difficulty, "metadata": problem.metadata},
                                ensure_ascii=False, default=str)}
    return {"data_source": problem.source, "prompt": messages, "ability": problem.domain,
            "reward_model": {"style": "rule", "ground_truth": truth or ""}, "extra_info": extra}


def export_verl(problems: list[Problem], path: str | Path) -> None:
    """Write verl's RL layout: parquet for ``.parquet``, else JSONL with the same columns."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [verl_row(p, i) for i, p in enumerate(problems)]
    if str(path).endswith((".parquet", ".pq")):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
        return
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")

"""Loading problems from files, in-memory tables and built-in sources; exporting them.

`read_source` is the one entry point: a path (``.jsonl``, ``.jsonl.gz``, ``.json``, ``.parquet``), a
built-in source string (``humaneval``, ``gym:<task>``, ``toy:<suite>``, see `srpo.data.sources`), a Hugging
Face ``datasets.Dataset`` or a list of dicts. A table's format is detected from its first readable row
(`srpo.data.formats`) unless one is named. Every row comes back with where it was read, as a `Problem` or
as a `LoadIssue` saying why it is not one, so callers count bad rows instead of losing them.
`load_problems` stops at the first bad row with a `DataError` naming the file and line/row;
`iter_problems` yields the `LoadIssue`s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from srpo.core.problem import Problem
from srpo.data.formats import AUTO, detect_format, resolve_format, row_to_problem
from srpo.data.formats.generic import check_mapping
from srpo.data.rows import DataError, RawRow, iter_object_rows, iter_raw_rows
from srpo.data.sources import is_source, load_source, split_spec

Note = Callable[[str], None]


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


@dataclass
class LoadedSource:
    """One input read: its rows as ``(where, Problem | LoadIssue)`` and the format they were read in.

    `format` is the format's name for tables, the source prefix (``humaneval``, ``gym``, ``toy``) for
    built-in sources (`builtin`), or None for a table without one readable row; `assumed` says it was
    detected. `detected` is the format its first readable row's columns point to (None: none matches),
    whether or not one was forced.
    """

    name: str
    format: str | None
    assumed: bool
    columns: tuple[str, ...]
    items: list[tuple[str, Problem | LoadIssue]]
    builtin: bool = False
    detected: str | None = None

    def note(self) -> str | None:
        """``file x.jsonl: assumed format 'apps' (columns: ...); override with ...`` for detected formats."""
        if not self.assumed:
            return None
        what = "file" if Path(self.name).suffix else "table"  # in-memory tables are named by their type
        return (f"{what} {self.name}: assumed format '{self.format}' (columns: {', '.join(self.columns)}); "
                f"override with data.format=NAME or --format NAME")


def read_source(data: Any, *, domain: str | None = None, mapping: dict[str, str] | None = None,
                source: str | None = None, format: str = AUTO) -> LoadedSource:
    """Every row of `data`. Errors about the whole input (no such file, a bad argument) still raise.

    `source` overrides each problem's source; by default it is the row's source column, else the file's
    stem (``aime24.jsonl`` -> ``aime24``), else the built-in source spec.
    """
    check_mapping(dict(mapping or {}))
    if isinstance(data, (str, Path)) and not Path(data).exists() and is_source(str(data)):
        problems = [_with_source(p, source, domain) for p in load_source(str(data))]
        items = [(f"{data}[{i}]", p) for i, p in enumerate(problems)]
        return LoadedSource(str(data), split_spec(str(data))[0], False, (), items, builtin=True)
    if isinstance(data, (str, Path)):
        raws: Iterator[RawRow] = iter_raw_rows(data)
        name, default_source = str(data), Path(data).name.split(".")[0]
    else:
        name, default_source = type(data).__name__, ""
        raws = iter_object_rows(data, name)
    loaded = LoadedSource(name, None, format == AUTO, (), [])
    for raw in raws:
        if raw.row is None:
            loaded.items.append((raw.where, LoadIssue(raw.where, raw.error or "unreadable", None, raw.raw,
                                                      source or default_source)))
            continue
        if loaded.format is None:
            loaded.format = resolve_format(format, raw.row, dict(mapping or {}), raw.where)
            loaded.columns = tuple(sorted(raw.row))
            loaded.detected = loaded.format if format == AUTO else detect_format(raw.row, mapping)
        loaded.items.append((raw.where, _convert(raw, loaded.format, domain, mapping, source, default_source)))
    loaded.assumed = loaded.assumed and loaded.format is not None
    return loaded


def _convert(raw: RawRow, format: str, domain: str | None, mapping: dict[str, str] | None, source: str | None,
             default_source: str) -> Problem | LoadIssue:
    try:
        problem = row_to_problem(raw.row, raw.where, mapping=mapping, domain=domain, source=default_source,
                                 format=format)
    except (DataError, ValueError) as err:
        message = str(err)
        if message.startswith(("mapping:", "format:", "domain:")):
            raise  # a wrong argument, not a bad row
        return LoadIssue(raw.where, message.removeprefix(f"{raw.where}: "), _jsonable(raw.row), None,
                         source or default_source)
    return _with_source(problem, source, None)


def iter_problems(data: Any, *, domain: str | None = None, mapping: dict[str, str] | None = None,
                  source: str | None = None, format: str = AUTO, note: Note | None = None
                  ) -> Iterator[Problem | LoadIssue]:
    """Yield a Problem or a LoadIssue per row; `note` receives the line saying which format was assumed."""
    loaded = read_source(data, domain=domain, mapping=mapping, source=source, format=format)
    if note and loaded.note():
        note(loaded.note())
    for _, item in loaded.items:
        yield item


def load_problems(data: Any, *, domain: str | None = None, mapping: dict[str, str] | None = None,
                  source: str | None = None, format: str = AUTO, note: Note | None = None) -> list[Problem]:
    """All problems of `data`; raises `DataError` ("<file>:line N: ...") at the first malformed row."""
    problems = []
    for item in iter_problems(data, domain=domain, mapping=mapping, source=source, format=format, note=note):
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

"""Reading raw rows from files: JSONL (optionally gzipped), JSON arrays and parquet.

Every row comes with a `where` string (``data/aime.jsonl:line 7``, ``train.parquet:row 3``) so that any
error about it names the file and the place. JSONL lines are counted from 1 like an editor does; parquet
rows from 0 like ``pandas.DataFrame.iloc``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from srpo.core.errors import UserError

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
JSON_SUFFIXES = (".json",)
PARQUET_SUFFIXES = (".parquet", ".pq")


class DataError(UserError, ValueError):
    """Input data is malformed. The message names the file and the line or row."""


@dataclass(frozen=True)
class RawRow:
    """One row as read, or the reason it could not be read (`row` is None then, `raw` holds the text)."""

    where: str
    row: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None


def file_kind(path: str | Path) -> str | None:
    """``"jsonl"``, ``"json"``, ``"parquet"`` or None from a file name."""
    name = str(path).lower()
    for kind, suffixes in (("jsonl", JSONL_SUFFIXES), ("json", JSON_SUFFIXES), ("parquet", PARQUET_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    return None


def iter_raw_rows(path: str | Path) -> Iterator[RawRow]:
    """Yield every row of a data file; unreadable rows come back with `error` set instead of raising."""
    kind = file_kind(path)
    if kind is None:
        raise DataError(f"{path}: unknown file type (expected one of "
                        f"{', '.join(JSONL_SUFFIXES + JSON_SUFFIXES + PARQUET_SUFFIXES)})")
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    if kind == "jsonl":
        yield from _jsonl_rows(Path(path))
    elif kind == "json":
        yield from _json_rows(Path(path))
    else:
        yield from _parquet_rows(Path(path))


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig") as fh:  # -sig: a leading BOM is not data
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:line {lineno}"
            line = line.rstrip("\r\n")
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                yield RawRow(where, None, f"invalid JSON ({err.msg} at column {err.colno})", line)
                continue
            yield _as_mapping(where, row, line)


def _json_rows(path: Path) -> Iterator[RawRow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:line {err.lineno}: invalid JSON ({err.msg})") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: a .json data file must hold a list of objects (use .jsonl for one per line)")
    for index, row in enumerate(data):
        yield _as_mapping(f"{path}:item {index}", row, None)


def _parquet_rows(path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for corrupt files
        raise DataError(f"{path}: cannot read parquet: {err}") from None
    for index, row in enumerate(table.to_pylist()):
        yield RawRow(f"{path}:row {index}", row)


def iter_object_rows(rows: Any, name: str) -> Iterator[RawRow]:
    """Rows of an in-memory table: a Hugging Face `datasets.Dataset` or any iterable of dicts."""
    # A dict of splits, or a datasets.DatasetDict (whose column_names is a dict per split).
    is_splits = isinstance(rows, dict) or isinstance(getattr(rows, "column_names", None), dict)
    if is_splits:
        raise DataError(f"{name}: got a mapping of splits ({', '.join(map(str, rows.keys()))}); pass one split")
    for index, row in enumerate(rows):
        yield _as_mapping(f"{name}:row {index}", row, None)


def _as_mapping(where: str, row: Any, raw: str | None) -> RawRow:
    if isinstance(row, dict):
        return RawRow(where, row)
    return RawRow(where, None, f"expected a JSON object, got {type(row).__name__}", raw)

"""Metric and sample logging for a run directory.

Metrics are flat ``domain/name`` keys. `Tracker.log` appends one JSON line per call to
``RUN_DIR/metrics.jsonl`` (with ``step``), and forwards the same dict to every extra backend.
`Tracker.log_samples` appends rollout rows to ``RUN_DIR/samples.jsonl``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Protocol


class Backend(Protocol):
    def log(self, metrics: dict[str, float], step: int) -> None: ...
    def close(self) -> None: ...


def _jsonable(value: Any) -> Any:
    """Floats that JSON cannot hold (nan, inf) become None so every line stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JsonlWriter:
    """Append-only JSON-lines file; each write is flushed so a crash loses at most the current line."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class Tracker:
    """Writes metrics.jsonl and samples.jsonl in `run_dir` and fans metrics out to `backends`."""

    def __init__(self, run_dir: str | Path, backends: list[Backend] | None = None):
        self.run_dir = Path(run_dir)
        self._metrics = JsonlWriter(self.run_dir / "metrics.jsonl")
        self._samples = JsonlWriter(self.run_dir / "samples.jsonl")
        self._backends = list(backends or [])

    def log(self, metrics: dict[str, float], step: int) -> None:
        self._metrics.write({"step": step, **metrics})
        for backend in self._backends:
            backend.log(metrics, step)

    def log_samples(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._samples.write(row)

    def close(self) -> None:
        self._metrics.close()
        self._samples.close()
        for backend in self._backends:
            backend.close()

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file; a malformed line raises an error naming the file and line number."""
    rows = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
    return rows

"""Load a run directory's metrics into per-key time series for plotting.

A run directory holds ``metrics.jsonl`` (one JSON object per line, an integer ``step`` plus flat metric
keys) and optionally ``config.yaml`` (its ``run.name`` labels the run). Lines that share a step are merged,
later values winning: a resumed run re-logs the steps after its checkpoint, and evaluation may arrive on a
line of its own. Values that are not finite numbers (``null`` for NaN, strings) are left out of a series,
so a key logged only on some steps (``eval/<domain>/pass@1``) yields just those points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from srpo.tracking import iter_jsonl

Series = tuple[np.ndarray, np.ndarray]  # (steps int64 [n], values float64 [n]), steps increasing


@dataclass
class Run:
    """One run's metrics: `series[key]` = (steps, values); `stage_starts` = [(step, stage)] at each change."""

    label: str
    path: Path
    series: dict[str, Series] = field(default_factory=dict)
    stage_starts: list[tuple[int, int]] = field(default_factory=list)

    def get(self, key: str) -> Series | None:
        return self.series.get(key)

    @property
    def last_step(self) -> int | None:
        ends = [int(s[-1]) for s, _ in self.series.values() if len(s)]
        return max(ends) if ends else None


def _label(run_dir: Path) -> str:
    cfg_path = run_dir / "config.yaml"
    if cfg_path.is_file():
        try:
            cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ValueError(f"{cfg_path}: not valid YAML: {err}") from None
        run = cfg.get("run") if isinstance(cfg, dict) else None
        if isinstance(run, dict) and run.get("name"):
            return str(run["name"])
    return run_dir.resolve().name


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_metrics(path: Path) -> dict[int, dict[str, Any]]:
    """step -> merged metrics of all lines with that step; errors name the file and line."""
    by_step: dict[int, dict[str, Any]] = {}
    for lineno, row in iter_jsonl(path):
        step = row.get("step")
        if not isinstance(step, int) or isinstance(step, bool):
            raise ValueError(f"{path}:{lineno}: needs an integer 'step', got {step!r}")
        by_step.setdefault(step, {}).update(row)
    return by_step


def _to_series(by_step: dict[int, dict[str, Any]]) -> dict[str, Series]:
    points: dict[str, tuple[list[int], list[float]]] = {}
    for step in sorted(by_step):
        for key, value in by_step[step].items():
            if key != "step" and _is_number(value):
                steps, values = points.setdefault(key, ([], []))
                steps.append(step)
                values.append(float(value))
    return {k: (np.asarray(s, dtype=np.int64), np.asarray(v, dtype=np.float64)) for k, (s, v) in points.items()}


def stage_starts(stage: Series | None) -> list[tuple[int, int]]:
    """Steps where the ``stage`` metric changes, with the new stage.

    >>> stage_starts((np.array([1, 2, 3, 4]), np.array([1.0, 1.0, 2.0, 2.0])))
    [(3, 2)]
    """
    if stage is None:
        return []
    steps, values = stage
    return [(int(steps[i]), int(values[i])) for i in range(1, len(values)) if values[i] != values[i - 1]]


def load_run(run_dir: str | Path) -> Run:
    """Read one run directory (see module docstring)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: not a directory")
    metrics_path = run_dir / "metrics.jsonl"
    if not metrics_path.is_file():
        raise FileNotFoundError(f"{run_dir}: no metrics.jsonl (is this a run directory?)")
    series = _to_series(read_metrics(metrics_path))
    return Run(_label(run_dir), run_dir, series, stage_starts(series.get("stage")))


def load_runs(run_dirs: list[Path]) -> list[Run]:
    """Load several runs; equal labels get their directory appended so the legend stays unambiguous."""
    runs = [load_run(d) for d in run_dirs]
    labels = [r.label for r in runs]
    for run in runs:
        if labels.count(run.label) > 1:
            run.label = f"{run.label} ({run.path})"
    return runs

"""Plots and the self-contained HTML report over one or more run directories (``srpo report``).

Everything here loads matplotlib, so it is imported on first use.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"build_report": "srpo.report.build", "Run": "srpo.report.runs", "load_run": "srpo.report.runs",
         "load_runs": "srpo.report.runs"}

__all__ = ["Run", "build_report", "load_run", "load_runs"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'srpo.report' has no attribute {name!r}")

"""Plots and the self-contained HTML report over one or more run directories (``srpo report``)."""

from srpo.report.build import add_cli, build_report
from srpo.report.runs import Run, load_run, load_runs

__all__ = ["Run", "add_cli", "build_report", "load_run", "load_runs"]

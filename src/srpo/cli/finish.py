"""The end of a training command (`srpo train`, `srpo demo`): the run's summary and its HTML report, made so
that nothing here can fail a run that finished."""

from __future__ import annotations

import sys
from pathlib import Path


def finish_run(run_dir: Path, checkpoint: Path | None, report: bool = True) -> None:
    """The end of `srpo train`: the run's summary (as `srpo demo` prints it), where its checkpoint and metrics
    are, and (`report`) its HTML report in RUN/report/. The run stands whatever happens here: a summary or
    report that cannot be made is a warning."""
    from srpo.report.headline import format_summary, summarize_run

    print()
    try:
        print(format_summary(summarize_run(run_dir)))
    except Exception as err:  # a metrics file srpo cannot summarise must not fail the run
        print(f"srpo: warning: no summary of {run_dir / 'metrics.jsonl'} ({type(err).__name__}: {err})",
              file=sys.stderr)
    print(f"checkpoint: {checkpoint if checkpoint and Path(checkpoint).is_dir() else 'none written'}")
    print(f"metrics: {run_dir / 'metrics.jsonl'}")
    if report:
        print(f"report: {write_report(run_dir)}")
    print(f"run directory: {run_dir}")


def write_report(run_dir: Path) -> str:
    """Build RUN/report/report.html (`srpo.report.build_report`); on failure warn and say how to retry."""
    try:
        from srpo.report import build_report

        return str(build_report([run_dir], run_dir / "report"))
    except Exception as err:  # the training result is on disk; the report can be made later
        print(f"srpo: warning: the report could not be written ({type(err).__name__}: {err}); the run is "
              f"complete, `srpo report {run_dir}` tries again", file=sys.stderr)
        return "not written (see the warning above)"

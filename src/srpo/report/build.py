"""`build_report`: run directories in, ``report.html`` plus one PNG per figure out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srpo.report.figures import figure_specs
from srpo.report.htmlpage import page, summary_table
from srpo.report.plots import figure_png, render_figure
from srpo.report.runs import load_runs
from srpo.report.summary import summarize, summary_domains


def build_report(run_dirs: list[Path], out_dir: Path) -> Path:
    """Plot the runs in `run_dirs` (overlaid) into `out_dir`; returns the path of ``report.html``.

    `out_dir` receives ``<figure>.png`` for every figure and ``report.html`` with the same PNGs embedded.
    Errors: a missing directory or metrics.jsonl, or a malformed metrics line, raise with the file
    (and line) named.
    """
    if not run_dirs:
        raise ValueError("build_report: no run directories given")
    runs = load_runs([Path(d) for d in run_dirs])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    for spec in figure_specs(runs):
        png = figure_png(render_figure(spec, runs))
        (out_dir / f"{spec.name}.png").write_bytes(png)
        sections.append((spec, png))
    reward_doms, eval_doms = summary_domains(runs)
    table = summary_table([summarize(r, reward_doms, eval_doms) for r in runs], reward_doms, eval_doms)
    out = out_dir / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page([r.label for r in runs], table, sections), encoding="utf-8")
    tmp.replace(out)  # a browser that has the old report open never sees half a file
    return out


def _cli(args: argparse.Namespace) -> int:
    out_dir = args.out if args.out is not None else Path(args.run_dirs[0]) / "report"
    try:
        path = build_report(args.run_dirs, out_dir)
    except (FileNotFoundError, ValueError) as err:
        print(f"srpo report: error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Add ``srpo report RUN_DIR [RUN_DIR ...] [--out DIR]``."""
    parser = subparsers.add_parser(
        "report",
        help="plot one or more runs into a self-contained HTML report",
        description="Plot the metrics of one or more run directories (overlaid, one colour per run) into "
        "report.html plus one PNG per figure, and print the HTML file's path.",
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="run directory holding metrics.jsonl (and config.yaml for the run's name)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output directory (default: the first RUN_DIR's report/)")
    parser.set_defaults(func=_cli)
    return parser

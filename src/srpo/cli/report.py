"""``srpo report RUN_DIR [RUN_DIR ...] [--out DIR]``. Importing this is cheap: matplotlib loads on use."""

from __future__ import annotations

import argparse
from pathlib import Path

from srpo.core.errors import UserError


def _cli(args: argparse.Namespace) -> int:
    from srpo.engines.checkpoint_layout import run_dir_of
    from srpo.report.build import build_report

    run_dirs = [run_dir_of(path) or path for path in args.run_dirs]  # a checkpoint of any engine: its run
    out_dir = args.out if args.out is not None else Path(run_dirs[0]) / "report"
    try:
        path = build_report(run_dirs, out_dir)
    except (FileNotFoundError, ValueError) as err:  # a run directory or metrics line that is not as expected
        raise UserError(str(err)) from err
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
                        help="run directory holding metrics.jsonl (and config.yaml for the run's name), of any "
                        "engine, or one of its checkpoints")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="output directory (default: the first RUN_DIR's report/)")
    parser.set_defaults(func=_cli)
    return parser

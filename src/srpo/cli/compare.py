"""``srpo compare SPEC [--out DIR] [--jobs N] [--threads T] [--report-only]``: variants x seeds, one report."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cli(args: argparse.Namespace) -> int:
    from srpo.config.compare import load_spec
    from srpo.cli.compare_runs import run_is_complete, plan, run_all
    from srpo.report.compare import build_compare_report

    spec = load_spec(args.spec)
    out = args.out if args.out is not None else Path("runs") / f"compare-{spec.name}"
    runs = plan(spec, out) if args.report_only else run_all(spec, out, jobs=args.jobs, threads=args.threads)
    groups: dict[str, list[Path]] = {}
    for run in runs:
        if run_is_complete(run) or (args.report_only and (run.run_dir / "metrics.jsonl").is_file()):
            groups.setdefault(run.variant, []).append(run.run_dir)
    missing = [r.name for r in runs if r.variant not in groups]
    if not groups:
        print(f"no run of {spec.name} has metrics yet under {out}")
        return 1
    target = (spec.target.domain, spec.target.pass_at_1) if spec.target else None
    notes = (f"{spec.description} Base config {spec.base}; {spec.budget} rollouts per run (dynamic sampling's "
             f"discarded groups count); seeds {spec.seeds}." + (f" Missing: {', '.join(missing)}." if missing else ""))
    page = build_compare_report(groups, out / "report", target=target, title=f"srpo compare: {spec.name}",
                                notes=notes)
    print((out / "report" / "table.md").read_text(encoding="utf-8"))
    print(f"report: {page}")
    return 0


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Add ``srpo compare``."""
    parser = subparsers.add_parser(
        "compare", help="train named variants of a config over several seeds at one rollout budget; one report",
        description="Run every variant x seed of a comparison spec (a YAML file, or a shipped one: premise, "
                    "regimes, samplers-tiny; see srpo/config/regimes/) at the spec's rollout budget, skipping "
                    "runs already complete, then write one report overlaying them (mean and spread over seeds) "
                    "with a table (docs/reproduction.md explains every column).")
    parser.add_argument("spec", help="spec file or shipped spec name")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default runs/compare-<name>)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at a time; >1 starts child processes, each pinned to its own cores")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing; report whatever runs have metrics (incomplete ones included)")
    parser.set_defaults(func=_cli)
    return parser

"""Command lines `srpo curate` and `srpo label-difficulty` (wired into `srpo.cli` by `add_cli`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from srpo.cli.options import (add_config_args, add_input_args, add_model_args, command_config, load_inputs,
                              parse_mapping)


def add_cli(subparsers: Any) -> None:
    """Add the ``curate`` and ``label-difficulty`` sub-commands."""
    cur = subparsers.add_parser("curate", help="filter problems; write kept.jsonl, dropped.jsonl, report.json")
    add_input_args(cur)
    add_config_args(cur, "curate.near_dup_threshold=0.9")
    cur.add_argument("--out", required=True, help="output directory")
    cur.set_defaults(func=run_curate)

    lab = subparsers.add_parser("label-difficulty", help="label problems easy/medium/hard from pass rates "
                                "over eval.samples responses")
    add_input_args(lab)
    add_config_args(lab, "difficulty.easy_min_pass_rate=0.8")
    add_model_args(lab, "output directory (labelled.jsonl, summary.json)")
    lab.set_defaults(func=run_label)


def run_curate(args: argparse.Namespace) -> int:
    from srpo.data.curate import curate, format_report, write_outputs
    from srpo.data.loaders import iter_problems

    cfg, _ = command_config(args)
    mapping = parse_mapping(args.map)
    items = [item for spec in args.inputs
             for item in iter_problems(spec, domain=args.domain, mapping=mapping, format=args.format, note=print)]
    needs_scorer = cfg.curate.reference_check and any(getattr(i, "domain", None) == "code" for i in items)
    if needs_scorer:
        from srpo.rewards import RewardScorer

        with RewardScorer(cfg.rewards, cfg.sandbox) as scorer:
            result = curate(items, cfg.curate, scorer.score)
    else:
        result = curate(items, cfg.curate)
    report = write_outputs(result, args.out)
    print(format_report(report))
    print(f"wrote {Path(args.out) / 'kept.jsonl'} ({report['kept']}), dropped.jsonl ({report['dropped']}), "
          f"report.json")
    return 0


def run_label(args: argparse.Namespace) -> int:
    from srpo.data.difficulty import label_difficulty, label_counts
    from srpo.engines.native.generation import make_generate_fn
    from srpo.rewards import RewardScorer

    cfg, _ = command_config(args)
    problems = load_inputs(args)
    generate = make_generate_fn(cfg)
    out = Path(args.out)
    with RewardScorer(cfg.rewards, cfg.sandbox) as scorer:
        result = label_difficulty(problems, generate, scorer.score, cfg.eval, cfg.difficulty,
                                  out / "labelled.jsonl", model=cfg.model.path, progress=not args.no_progress)
    counts = label_counts(result)
    (out / "summary.json").write_text(json.dumps(counts, indent=2) + "\n")
    for source, row in counts.items():
        print(f"{source or '(no source)'}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return 0

"""Command lines `srpo curate` and `srpo label-difficulty` (wired into `srpo.cli` by `add_cli`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from srpo.core.configlib import ConfigError, apply_overrides, build, load_yaml


def add_input_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("inputs", nargs="+" if required else "*", help="data files (.jsonl, .json, .parquet) or built-in sources "
                        "(humaneval, gym:<task>?size=N&seed=S, toy:<suite>)")
    parser.add_argument("--domain", choices=["math", "code"], help="force the domain of every row")
    parser.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                        help="column mapping, e.g. --map prompt=question --map answer=meta.final")
    parser.add_argument("--config", help="YAML file with the command's config")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="override a config field, e.g. --set near_dup_threshold=0.9")


def parse_mapping(items: list[str]) -> dict[str, str] | None:
    mapping = {}
    for item in items:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise ConfigError(f"--map {item!r}: expected FIELD=COLUMN")
        mapping[field.strip()] = column.strip()
    return mapping or None


def build_config(cls: type, args: argparse.Namespace) -> Any:
    data = load_yaml(args.config) if args.config else {}
    return build(cls, apply_overrides(data, args.overrides))


def add_cli(subparsers: Any) -> None:
    """Add the ``curate`` and ``label-difficulty`` sub-commands."""
    cur = subparsers.add_parser("curate", help="filter problems; write kept.jsonl, dropped.jsonl, report.json")
    add_input_args(cur)
    cur.add_argument("--out", required=True, help="output directory")
    cur.set_defaults(func=run_curate)

    lab = subparsers.add_parser("label-difficulty", help="label problems easy/medium/hard from pass rates")
    add_input_args(lab)
    add_model_args(lab, "output directory (labelled.jsonl, summary.json)")
    lab.set_defaults(func=run_label)


def add_model_args(parser: argparse.ArgumentParser, out_help: str) -> None:
    """Options of the commands that sample from a model: --model, --device, --out, --no-progress."""
    parser.add_argument("--model", default="toy", help="local Hugging Face model directory, or 'toy'")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--no-progress", action="store_true")


def run_curate(args: argparse.Namespace) -> int:
    from srpo.data.curate import CurateConfig, curate, format_report, write_outputs
    from srpo.data.loaders import iter_problems

    cfg = build_config(CurateConfig, args)
    mapping = parse_mapping(args.map)
    items = [item for spec in args.inputs for item in iter_problems(spec, domain=args.domain, mapping=mapping)]
    needs_scorer = cfg.reference_check and any(getattr(i, "domain", None) == "code" for i in items)
    if needs_scorer:
        from srpo.eval.scoring import reward_scorer

        with reward_scorer() as score_fn:
            result = curate(items, cfg, score_fn)
    else:
        result = curate(items, cfg)
    report = write_outputs(result, args.out)
    print(format_report(report))
    print(f"wrote {Path(args.out) / 'kept.jsonl'} ({report['kept']}), dropped.jsonl ({report['dropped']}), "
          f"report.json")
    return 0


def run_label(args: argparse.Namespace) -> int:
    from srpo.data.difficulty import LabelConfig, label_difficulty, summary
    from srpo.data.loaders import load_problems
    from srpo.engines.native.generation import make_generate_fn
    from srpo.eval.scoring import reward_scorer

    cfg = build_config(LabelConfig, args)
    mapping = parse_mapping(args.map)
    problems = [p for spec in args.inputs for p in load_problems(spec, domain=args.domain, mapping=mapping)]
    generate = make_generate_fn(args.model, cfg.sampling, device=args.device)
    out = Path(args.out)
    with reward_scorer() as score_fn:
        result = label_difficulty(problems, generate, score_fn, cfg, out / "labelled.jsonl", model=args.model,
                                  progress=not args.no_progress)
    counts = summary(result)
    (out / "summary.json").write_text(json.dumps(counts, indent=2) + "\n")
    for source, row in counts.items():
        print(f"{source or '(no source)'}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return 0

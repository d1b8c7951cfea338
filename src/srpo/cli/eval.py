"""Command line `srpo eval` (wired into `srpo.cli` by `add_cli`)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from srpo.cli.options import add_config_args, add_input_args, add_model_args, command_config, load_inputs
from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError


def add_cli(subparsers: Any) -> None:
    """Add the ``eval`` sub-command."""
    parser = subparsers.add_parser("eval", help="pass@k and avg@samples of a model on benchmark files "
                                   "(default: the config's data.heldout)",
                                   description="Sample eval.samples responses per problem, score them with the "
                                   "config's rewards and report pass@k per benchmark, per domain and overall in "
                                   "OUT/eval.json. Without inputs, evaluates the config's data.heldout.")
    add_input_args(parser, required=False)
    add_config_args(parser, "eval.samples=32")
    add_model_args(parser, "output directory (eval.json)")
    parser.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from srpo.engines.native.generation import make_generate_fn
    from srpo.engines.native.setup import load_pool
    from srpo.eval.evaluate import evaluate
    from srpo.rewards import RewardScorer

    cfg, source = command_config(args)
    data = cfg.data
    problems = load_inputs(args) if args.inputs else load_pool(data.heldout, data.column_mapping, format=data.format,
                                                               on_unusable=data.on_unusable)
    if not problems:
        raise ConfigError("data.heldout: give benchmark files on the command line or in data.heldout")
    generate = make_generate_fn(cfg)
    with RewardScorer(cfg.rewards, cfg.sandbox) as scorer:
        result = evaluate(problems, generate, scorer.score, cfg.eval.samples, cfg.eval.ks,
                          batch_size=cfg.eval.batch_size, progress=not args.no_progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"settings": eval_settings(cfg, source, args.overrides), **result.to_dict()}
    (out / "eval.json").write_text(json.dumps(record, indent=2) + "\n")
    print(result.table())
    print(f"wrote {out / 'eval.json'}")
    return 0


def eval_settings(cfg: TrainConfig, source: str, overrides: list[str]) -> dict[str, Any]:
    """What an evaluation ran with (model, prompt format, resolved sampling, config), so a result is traceable."""
    return {"model": cfg.model.path, "prompt_template": cfg.model.prompt_template,
            "system_prompt": cfg.model.system_prompt, **asdict(cfg.resolved_eval()),
            "config": source, "overrides": list(overrides)}

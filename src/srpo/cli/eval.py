"""Command line `srpo eval` (wired into `srpo.cli` by `add_cli`)."""

from __future__ import annotations

import argparse
import contextlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

from srpo.cli.options import add_config_args, add_input_args, add_model_args, command_config, load_inputs
from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError
from srpo.core.files import write_atomic
from srpo.eval.evaluate import RecordFn
from srpo.tracking import JsonlWriter

RESPONSES = "responses.jsonl"  # next to eval.json: every sampled response, its score, verdict and reward info


def add_cli(subparsers: Any) -> None:
    """Add the ``eval`` sub-command."""
    parser = subparsers.add_parser("eval", help="pass@k and avg@samples of a model on benchmark files "
                                   "(default: the config's data.heldout)",
                                   description="Sample eval.samples responses per problem, score them with the "
                                   "config's rewards and report pass@k per benchmark, per domain and overall in "
                                   "OUT/eval.json. Without inputs, evaluates the config's data.heldout.")
    add_input_args(parser, required=False)
    add_config_args(parser, "eval.samples=32")
    add_model_args(parser, "output directory (eval.json, responses.jsonl)")
    parser.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from srpo.engines.native.generation import make_generate_fn
    from srpo.data.pool import load_pool
    from srpo.eval.evaluate import evaluate
    from srpo.rewards import RewardScorer

    cfg, source = command_config(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # before hours of sampling: an unwritable --out fails now
    data = cfg.data
    problems = load_inputs(args) if args.inputs else load_pool(
        data.heldout, mapping=data.column_mapping or None, format=data.format, on_unusable=data.on_unusable,
        split="heldout", note=print)[0]
    if not problems:
        raise ConfigError("data.heldout: give benchmark files on the command line or in data.heldout")
    generate = make_generate_fn(cfg)
    with RewardScorer(cfg.rewards, cfg.sandbox) as scorer, response_log(out / RESPONSES) as record:
        result = evaluate(problems, generate, scorer.score, cfg.eval.samples, cfg.eval.ks,
                          batch_size=cfg.eval.batch_size, progress=not args.no_progress, record=record)
    record = {"settings": eval_settings(cfg, source, args.overrides), "responses": RESPONSES, **result.to_dict()}
    write_atomic(out / "eval.json", json.dumps(record, indent=2) + "\n", "the evaluation")
    print(result.table())
    print(f"wrote {out / 'eval.json'} and {RESPONSES} (every response with its verdict)")
    return 0


@contextlib.contextmanager
def response_log(path: Path) -> Iterator[RecordFn]:
    """A `record` for `evaluate` that writes every response with its verdict to `path` (replaced)."""
    from srpo.eval.evaluate import response_rows

    path.unlink(missing_ok=True)
    writer = JsonlWriter(path)

    def record(*scored) -> None:
        for row in response_rows(*scored):
            writer.write(row)

    with contextlib.closing(writer):
        yield record


def eval_settings(cfg: TrainConfig, source: str, overrides: list[str]) -> dict[str, Any]:
    """What an evaluation ran with (model, prompt format as used, resolved sampling, config), so a result is
    traceable."""
    from srpo.engines.hf_model import prompt_template_used

    return {"model": cfg.model.path, "prompt_template": prompt_template_used(cfg.model),
            "system_prompt": cfg.model.system_prompt, **asdict(cfg.resolved_eval()),
            "config": source, "overrides": list(overrides)}

"""Options shared by the data and eval commands: their inputs, one `TrainConfig` from ``--config``/``--set``
(the keys of ``srpo train``) and the model to sample from.

With ``--model`` naming a run directory of any engine (its latest checkpoint) or one of its checkpoints
(``RUN/checkpoints/step_N``, ``RUN/checkpoint-N``, a verl ``global_step_N``), the run's ``config.yaml`` is the
base config, so evaluation formats prompts,
samples and scores as the run did unless ``--set`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from srpo.config import TrainConfig, load_config
from srpo.core.configlib import ConfigError, expand_path
from srpo.core.problem import Problem


def add_input_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("inputs", nargs="+" if required else "*", help="data files (.jsonl, .json, .parquet) or "
                        "built-in sources (humaneval, gym:<task>?size=N&seed=S, toy:<suite>)")
    parser.add_argument("--domain", choices=["math", "code"], help="force the domain of every row")
    parser.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                        help="column mapping, e.g. --map prompt=question --map answer=meta.final")
    parser.add_argument("--format", default="auto", help="format of the data files (default: detected per file; "
                        "srpo, trl, verl, gsm8k, math, humaneval, mbpp, apps, livecodebench, codecontests)")


def add_config_args(parser: argparse.ArgumentParser, example: str) -> None:
    """``--config`` and ``--set``: the config tree of ``srpo train``, with its keys."""
    parser.add_argument("--config", help="preset name or YAML file (as `srpo train` takes); default: the run's "
                        "config.yaml when --model is a run or its checkpoint, else the defaults")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help=f"override a config key, e.g. --set {example}")


def add_model_args(parser: argparse.ArgumentParser, out_help: str) -> None:
    """Options of the commands that sample from a model: --model, --out, --no-progress."""
    parser.add_argument("--model", default=None, help="local Hugging Face model directory, 'toy', a run "
                        "directory (its latest checkpoint) or a run's checkpoint; default: model.path")
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--no-progress", action="store_true")


def parse_mapping(items: list[str]) -> dict[str, str] | None:
    mapping = {}
    for item in items:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise ConfigError(f"--map {item!r}: expected FIELD=COLUMN")
        mapping[field.strip()] = column.strip()
    return mapping or None


def load_inputs(args: argparse.Namespace) -> list[Problem]:
    """The problems of the command line's inputs, read with --domain, --map and --format."""
    from srpo.data.loaders import load_problems

    mapping = parse_mapping(args.map)
    return [p for spec in args.inputs
            for p in load_problems(spec, domain=args.domain, mapping=mapping, format=args.format, note=print)]


def command_config(args: argparse.Namespace) -> tuple[TrainConfig, str]:
    """The command's config and where its base came from; prints one line saying which was used."""
    model = getattr(args, "model", None)
    model, run_config = resolve_model(model) if model else (None, None)
    if run_config and args.config:
        raise ConfigError(f"--config: --model {args.model} is a run's, so its {run_config} is the base config; "
                          "change that with --set")
    base = run_config or args.config
    overrides = list(args.overrides)
    if model:  # after --set, so --model wins; JSON-quoted so that any path reads as one YAML string
        overrides.append(f"model.path={json.dumps(model)}")
    cfg = load_config(str(base) if base else None, overrides)
    source = str(base or "defaults")
    count = len(args.overrides)
    print(f"config: {source} (+{count} override{'' if count == 1 else 's'})")
    return cfg, source


def resolve_model(model: str) -> tuple[str, Path | None]:
    """(the model directory to load, its run's config.yaml or None) for a --model argument: a run directory of
    any engine, its checkpoints/ or checkpoints/latest (the latest checkpoint), or one of its checkpoints
    (`srpo.engines.checkpoint_layout`)."""
    from srpo.engines.checkpoint_layout import run_config
    from srpo.engines.hf_model import resolve_model_path

    if model == "toy":
        return model, None
    model_dir = resolve_model_path(expand_path(model))
    return str(model_dir), run_config(model_dir)

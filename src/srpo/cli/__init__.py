"""The ``srpo`` command: train, demo, and the data/eval/report tools.

    srpo train CONFIG [key=value ...]      train from a preset name or YAML file with overrides
    srpo demo [--seed S] [--out DIR]       SRPO on the embedded tiny model and built-in tasks (CPU)
    srpo presets                           list the shipped config presets
    srpo eval | curate | label-difficulty | report   (see ``srpo COMMAND --help``)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from srpo.core.configlib import ConfigError

# Modules that contribute sub-commands through an ``add_cli(subparsers)`` function.
_COMMAND_MODULES = ("srpo.cli.eval", "srpo.cli.data", "srpo.cli.report", "srpo.cli.sandbox", "srpo.cli.toy")


def _train(args: argparse.Namespace) -> int:
    from srpo.config import load_config
    from srpo.engines.native.trainer import Trainer

    cfg = load_config(args.config, args.overrides)
    Trainer(cfg).train()
    print(f"run directory: {cfg.run.output_dir}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from srpo.cli.demo import run_demo

    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"run.output_dir={args.out}")
    return run_demo(seed=args.seed, overrides=overrides)


def _presets(args: argparse.Namespace) -> int:
    from srpo.config import preset_names

    print("\n".join(preset_names()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srpo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a policy from a config")
    train.add_argument("config", help="preset name (see `srpo presets`) or YAML file")
    train.add_argument("overrides", nargs="*", help="key=value overrides, e.g. run.total_steps=50")
    train.set_defaults(func=_train)
    demo = sub.add_parser("demo", help="SRPO on the embedded tiny model, offline, on CPU")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default=None, help="run directory (default runs/demo-seed<S>)")
    demo.add_argument("overrides", nargs="*", help="key=value overrides of the demo config")
    demo.set_defaults(func=_demo)
    presets = sub.add_parser("presets", help="list config presets")
    presets.set_defaults(func=_presets)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as err:
        print(f"srpo: config error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

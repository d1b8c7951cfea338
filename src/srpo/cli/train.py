"""``srpo train``, ``srpo demo``, ``srpo presets`` and ``srpo config``: runs from the one config tree."""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_cli(subparsers: Any) -> None:
    """Add the commands that load a training config."""
    train = subparsers.add_parser("train", help="train a policy from a config")
    train.add_argument("config", help="preset name (see `srpo presets`) or YAML file")
    train.add_argument("overrides", nargs="*", help="key=value overrides, e.g. run.total_steps=50")
    train.set_defaults(func=run_train)
    demo = subparsers.add_parser("demo", help="SRPO on the embedded tiny model, offline, on CPU")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default=None, help="run directory (default runs/demo-seed<S>)")
    demo.add_argument("overrides", nargs="*", help="key=value overrides of the demo config")
    demo.set_defaults(func=run_demo)
    presets = subparsers.add_parser("presets", help="list config presets")
    presets.set_defaults(func=list_presets)
    show = subparsers.add_parser("config", help="print a resolved config with every field's doc",
                                 description="Print the config a preset or YAML file resolves to, after "
                                             "overrides, as YAML that `srpo train` reads back; each field "
                                             "carries its one-line doc as a comment.")
    show.add_argument("config", help="preset name (see `srpo presets`) or YAML file")
    show.add_argument("overrides", nargs="*", help="key=value overrides, e.g. rollout.group_size=16")
    show.add_argument("--diff", action="store_true", help="only the fields that differ from the defaults")
    show.set_defaults(func=show_config)


def run_train(args: argparse.Namespace) -> int:
    from srpo.config import load_config
    from srpo.engines.native.trainer import Trainer

    cfg = load_config(args.config, args.overrides)
    if cfg.engine == "verl":
        from srpo.core.configlib import ConfigError

        raise ConfigError("engine: verl runs under verl's own launcher; `srpo verl-recipe CONFIG ...` exports the "
                          "data and writes the command (docs/verl.md)")
    if cfg.engine == "trl":
        return run_trl(cfg)
    Trainer(cfg).train()
    print(f"run directory: {cfg.run.output_dir}")
    return 0


def run_trl(cfg) -> int:
    """``engine=trl``: the same config on TRL's GRPOTrainer; under torchrun every process runs this."""
    from srpo.core.configlib import ConfigError

    try:
        from srpo.engines.trl import trainer as trl_trainer
    except ImportError as err:
        raise ConfigError(f"engine: trl needs the optional extra (pip install 'srpo[trl]'): {err}") from None
    try:
        result = trl_trainer.train(cfg)
    finally:
        trl_trainer.shutdown()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"run directory: {cfg.run.output_dir} (trl engine, step {result['step']}, "
              f"state {result['state_hash']}, {result['state_checks']} cross-rank state checks)")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from srpo.cli.demo import run_demo as demo

    return demo(seed=args.seed, overrides=list(args.overrides), out=args.out)


def list_presets(args: argparse.Namespace) -> int:
    from srpo.config import preset_names

    print("\n".join(preset_names()))
    return 0


def show_config(args: argparse.Namespace) -> int:
    from srpo.config import TrainConfig, load_config
    from srpo.core.configlib import render

    cfg = load_config(args.config, args.overrides)
    print(render(cfg, TrainConfig() if args.diff else None), end="")
    return 0

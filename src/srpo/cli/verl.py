"""``srpo verl-recipe``: export a config's data to verl parquet and write verl's launch command."""

from __future__ import annotations

import argparse
from typing import Any


def add_cli(subparsers: Any) -> None:
    """Add the ``verl-recipe`` sub-command."""
    rec = subparsers.add_parser(
        "verl-recipe", help="export the data to verl parquet and write the `python -m verl.trainer.main_ppo` command",
        description="Check a srpo config against verl 0.9's PPO trainer, export its training and held-out data to "
                    "verl's parquet layout, freeze the config, and write the Hydra overrides and run.sh that start "
                    "verl with srpo's reward, prompt stream and trainer hook (docs/verl.md). engine=verl is implied.")
    rec.add_argument("config", help="preset name (see `srpo presets`) or YAML file")
    rec.add_argument("overrides", nargs="*", help="key=value overrides, e.g. verl.nnodes=8")
    rec.add_argument("--python", default="python3", help="the interpreter of the verl environment in run.sh")
    rec.set_defaults(func=run_recipe)


def run_recipe(args: argparse.Namespace) -> int:
    from srpo.config import load_config
    from srpo.engines.verl.recipe import write_recipe

    cfg = load_config(args.config, ["engine=verl", *args.overrides])
    recipe = write_recipe(cfg, python=args.python)
    print(f"wrote {recipe.folder}: train.parquet ({recipe.train_rows} rows), heldout.parquet "
          f"({recipe.heldout_rows} rows), srpo.yaml, overrides.txt, run.sh")
    for note in recipe.notes:
        print(f"  {note}")
    print("\nstart verl (on the Ray head node, in an environment with verl and srpo installed):\n")
    print(recipe.command)
    return 0

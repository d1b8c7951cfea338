"""The ``srpo`` command: train, demo, and the data/eval/report tools.

    srpo train CONFIG [key=value ...]      train from a preset name or YAML file with overrides
    srpo demo [--seed S] [--out DIR]       SRPO on the embedded tiny model and built-in tasks (CPU)
    srpo presets                           list the shipped config presets
    srpo config CONFIG [key=value ...] [--diff]   the resolved config, every field with its doc
    srpo verl-recipe CONFIG [key=value ...]   export data and write the verl launch command (docs/verl.md)
    srpo eval | curate | label-difficulty | report | sandbox-check | toy-build | toy-measure
                                           (see ``srpo COMMAND --help``)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from srpo.core.configlib import ConfigError

# Modules that contribute sub-commands through an ``add_cli(subparsers)`` function.
_COMMAND_MODULES = ("srpo.cli.train", "srpo.cli.eval", "srpo.cli.data", "srpo.cli.report", "srpo.cli.sandbox",
                    "srpo.cli.toy", "srpo.cli.verl")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srpo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
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

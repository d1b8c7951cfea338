"""The ``srpo`` command: train, demo, and the data/eval/report tools.

    srpo train CONFIG [key=value ...]      train from a preset name or YAML file with overrides
    srpo demo [--seed S] [--out DIR]       SRPO on the embedded tiny model and built-in tasks (CPU)
    srpo presets                           list the shipped config presets
    srpo config CONFIG [key=value ...] [--diff]   the resolved config, every field with its doc
    srpo verl-recipe CONFIG [key=value ...]   export data and write the verl launch command (docs/verl.md)
    srpo compare SPEC [--jobs N]           variants x seeds at one rollout budget, one report (docs/reproduction.md)
    srpo export CHECKPOINT --out DIR [--merge]   a checkpoint's model alone (--merge: LoRA folded in)
    srpo eval | curate | label-difficulty | report | sandbox-check | toy-build | toy-measure
                                           (see ``srpo COMMAND --help``)
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import signal
import sys

from srpo.core.errors import Interrupted, UserError
from srpo.sandbox import SandboxUnavailable

# Modules that contribute sub-commands through an ``add_cli(subparsers)`` function.
_COMMAND_MODULES = ("srpo.cli.train", "srpo.cli.eval", "srpo.cli.data", "srpo.cli.report", "srpo.cli.compare",
                    "srpo.cli.sandbox", "srpo.cli.toy", "srpo.cli.verl", "srpo.cli.export")
# Commands that continue where they stopped when run again with the same arguments.
_RESUMABLE = {"train", "demo", "label-difficulty", "compare"}
EXIT_USER_ERROR, EXIT_INTERRUPTED = 2, 130
# Failures reported as one line (OSError: a file or directory named on the command line or in the config).
_CLEAR_FAILURES = (UserError, OSError, SandboxUnavailable, KeyboardInterrupt)
DEBUG_HELP = "on an error, show the full traceback instead of one line"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srpo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).add_cli(sub)
    for command in sub.choices.values():  # also after the command; SUPPRESS keeps a --debug given before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _CLEAR_FAILURES as err:
        if args.debug:
            raise
        return _fail(err, args.command, argv)


def _fail(err: BaseException, command: str, argv: list[str]) -> int:
    """Print one line for a failure the user can act on; returns the exit status."""
    again = f"srpo {shlex.join(argv)}"
    if isinstance(err, KeyboardInterrupt):  # a further Ctrl-C while exiting ends the process at once
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if isinstance(err, Interrupted):
        saved = f"checkpoint {err.checkpoint}; " if err.checkpoint else ""
        line, status = f"interrupted at step {err.step}; {saved}resume with: {again}", EXIT_INTERRUPTED
    elif isinstance(err, KeyboardInterrupt):
        hint = f"; resume from the last checkpoint with: {again}" if command in _RESUMABLE else ""
        line, status = f"stopped by Ctrl-C{hint}", EXIT_INTERRUPTED
    elif isinstance(err, OSError) and err.filename:
        line, status = f"{err.filename}: {err.strerror or err}", EXIT_USER_ERROR
    elif isinstance(err, SandboxUnavailable):
        line, status = f"sandbox: {err}", EXIT_USER_ERROR
    else:
        line, status = str(err), EXIT_USER_ERROR
    print(f"srpo: {line}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())

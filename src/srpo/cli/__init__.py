"""The ``srpo`` command: train, demo, and the data/eval/report tools.

    srpo train CONFIG [key=value ...]      train from a preset name or YAML file with overrides
    srpo demo [--seed S] [--out DIR]       SRPO on the embedded tiny model and built-in tasks (CPU)
    srpo presets                           list the shipped config presets
    srpo config CONFIG [key=value ...] [--diff]   the resolved config, every field with its doc
    srpo verl-recipe CONFIG [key=value ...]   export data and write the verl launch command (docs/verl.md)
    srpo compare SPEC [--jobs N]           variants x seeds at one rollout budget, one report (docs/reproduction.md)
    srpo export CHECKPOINT --out DIR [--merge]   a checkpoint's model alone (--merge: LoRA folded in)
    srpo engines [--markdown]              what each engine honours, maps, refuses or ignores (docs/engines.md)
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

from srpo.core.errors import Interrupted, UserError, signal_name
from srpo.engines.stop import STOP_SIGNALS
from srpo.sandbox import SandboxUnavailable

# Modules that contribute sub-commands through an ``add_cli(subparsers)`` function.
_COMMAND_MODULES = ("srpo.cli.train", "srpo.cli.eval", "srpo.cli.data", "srpo.cli.report", "srpo.cli.compare",
                    "srpo.cli.sandbox", "srpo.cli.toy", "srpo.cli.verl", "srpo.cli.export", "srpo.cli.engines")
# Commands that continue where they stopped when run again with the same arguments.
_RESUMABLE = {"train", "demo", "label-difficulty", "compare"}
EXIT_USER_ERROR, EXIT_INTERRUPTED = 2, 128 + signal.SIGINT  # a signal N exits 128 + N
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
    """Print one line for a failure the user can act on; returns the exit status (128 + N for signal N)."""
    if isinstance(err, KeyboardInterrupt):
        return _stopped(err, command, argv)
    if isinstance(err, OSError) and err.filename:
        line, status = f"{err.filename}: {err.strerror or err}", EXIT_USER_ERROR
    elif isinstance(err, SandboxUnavailable):
        line, status = f"sandbox: {err}", EXIT_USER_ERROR
    else:
        line, status = str(err), EXIT_USER_ERROR
    print(f"srpo: {line}", file=sys.stderr)
    return status


def _stopped(err: KeyboardInterrupt, command: str, argv: list[str]) -> int:
    """The line for a stop on a signal (`Interrupted`: after a step, with a checkpoint; `Stopped` or a plain
    KeyboardInterrupt: at once) and its status, 128 + the signal's number. Under torchrun only rank 0 says it."""
    for s in STOP_SIGNALS:  # a further signal while exiting ends the process at once (not where ignored:
        if signal.getsignal(s) is not signal.SIG_IGN:  # a clean distributed stop's teardown, see run_trl)
            signal.signal(s, signal.SIG_DFL)
    signum = getattr(err, "signum", signal.SIGINT)
    again = f"srpo {shlex.join(argv)}"
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        again = f"the same launch command (srpo arguments: {shlex.join(argv)})"
    if isinstance(err, Interrupted):
        saved = f"checkpoint {err.checkpoint}; " if err.checkpoint else ""
        line = f"interrupted by {signal_name(signum)} at step {err.step}; {saved}resume with: {again}"
    else:
        hint = f"; resume from the last checkpoint with: {again}" if command in _RESUMABLE else ""
        line = f"stopped by {signal_name(signum)}{hint}"
    if os.environ.get("RANK", "0") == "0":
        print(f"srpo: {line}", file=sys.stderr)
    return 128 + int(signum)


if __name__ == "__main__":
    sys.exit(main())

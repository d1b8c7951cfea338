"""``srpo export``: a checkpoint as a model directory to ship (LoRA adapters merged with ``--merge``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_cli(subparsers: Any) -> None:
    """Add the ``export`` sub-command."""
    parser = subparsers.add_parser(
        "export", help="write a checkpoint's model and tokenizer without trainer state (--merge: LoRA merged)",
        description="Write the model of a checkpoint (RUN/checkpoints/step_N, RUN/checkpoint-N of the TRL engine, "
                    "a verl global_step_N saved with hf_model, or a run directory of any engine: its latest "
                    "checkpoint) to OUT with its tokenizer and without srpo's trainer state. A LoRA checkpoint is "
                    "written as its adapters (peft format, loaded on their base), or with --merge as a plain "
                    "Hugging Face model directory with the adapters folded into the weights.")
    parser.add_argument("model", help="a checkpoint, a run directory (its latest checkpoint) or a model directory")
    parser.add_argument("--out", required=True, help="output directory (replaced if it exists)")
    parser.add_argument("--merge", action="store_true",
                        help="fold LoRA adapters into their base: a plain model that transformers loads alone")
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from srpo.core.configlib import expand_path
    from srpo.engines.native.export import export_model

    out = export_model(expand_path(args.model), expand_path(args.out), merge=args.merge)
    print(f"wrote {out}")
    return 0

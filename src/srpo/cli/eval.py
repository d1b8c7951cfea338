"""Command line `srpo eval` (wired into `srpo.cli` by `add_cli`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srpo.core.configlib import ConfigError, option
from srpo.eval.config import GenerationConfig


@dataclass(frozen=True)
class EvalConfig:
    """Benchmark evaluation."""

    n: int = option(32, "responses sampled per problem; avg@n is pass@1 averaged over them (the paper uses 32).")
    ks: list[int] = option(factory=lambda: [1],
                           doc="pass@k values to report (each <= n).")
    sampling: GenerationConfig = option(factory=GenerationConfig,
                                        doc="temperature, top_p, max_new_tokens, batch_size, seed (see "
                                            "`GenerationConfig`).")
    benchmarks: list[str] = option(factory=list,
                                   doc="files or built-in sources to evaluate on (command-line inputs are added to "
                                       "these). Each file is one benchmark named by its stem; math rows need a gold "
                                       "answer (AIME style: problem + answer), code rows tests (HumanEval or srpo's "
                                       "tests dict).")

    def validate(self) -> None:
        if self.n < 1:
            raise ConfigError(f"n: must be >= 1, got {self.n}")
        bad = [k for k in self.ks if not 1 <= k <= self.n]
        if bad or not self.ks:
            raise ConfigError(f"ks: each k must be in [1, n={self.n}], got {self.ks}")


def add_cli(subparsers: Any) -> None:
    """Add the ``eval`` sub-command."""
    from srpo.cli.data import add_input_args, add_model_args

    parser = subparsers.add_parser("eval", help="pass@k and avg@n of a model on benchmark files")
    add_input_args(parser, required=False)
    add_model_args(parser, "output directory (eval.json)")
    parser.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from srpo.cli.data import build_config, parse_mapping
    from srpo.data.loaders import load_problems
    from srpo.eval.evaluate import evaluate
    from srpo.engines.native.generation import make_generate_fn
    from srpo.eval.scoring import reward_scorer

    cfg = build_config(EvalConfig, args)
    specs = list(cfg.benchmarks) + list(args.inputs)
    if not specs:
        raise ConfigError("benchmarks: give benchmark files on the command line or in the config")
    mapping = parse_mapping(args.map)
    problems = [p for spec in specs for p in load_problems(spec, domain=args.domain, mapping=mapping)]
    generate = make_generate_fn(args.model, cfg.sampling, device=args.device)
    with reward_scorer() as score_fn:
        result = evaluate(problems, generate, score_fn, cfg.n, cfg.ks, batch_size=cfg.sampling.batch_size,
                          progress=not args.no_progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(result.to_json() + "\n")
    print(result.table())
    print(f"wrote {out / 'eval.json'}")
    return 0

"""``srpo toy-build`` (rebuild the embedded warm-start model deterministically) and ``srpo toy-measure``
(pass@1/pass@k of a model per domain and level of the built-in suites: the table in docs/toy.md)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Sequence

from srpo.core.configlib import build
from srpo.core.problem import Problem
from srpo.toy.build import WarmStartConfig, train_warm_start
from srpo.toy.measure import (check_rates, cell_rates, format_checks, format_modes, format_table, heldout_suite,
                              mode_rates)


def add_cli(subparsers) -> None:
    """Adds ``srpo toy-build`` and ``srpo toy-measure``."""
    build = subparsers.add_parser("toy-build", help="rebuild the embedded toy model deterministically")
    _parser(build).set_defaults(func=run)
    measure = subparsers.add_parser("toy-measure", help="pass@1/pass@k of a model per toy domain and level")
    measure.add_argument("--model", default=None, help="model directory (default: the shipped toy model)")
    measure.add_argument("--n", type=int, default=200, help="held-out problems per domain and level")
    measure.add_argument("--k", type=int, default=8, help="samples per problem")
    measure.add_argument("--seed", type=int, default=0)
    measure.add_argument("--threads", type=int, default=1)
    measure.add_argument("--json", default=None, help="also write the rates as JSON here")
    measure.set_defaults(func=run_measure)


def _parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    d = WarmStartConfig()
    p.add_argument("--out", required=True, help="output directory (HF model + tokenizer)")
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimizer steps (default {d.steps})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed (default {d.seed})")
    p.add_argument("--threads", type=int, default=d.threads,
                   help="torch threads (default 1; other counts may give other bytes)")
    p.add_argument("--checked-fraction", type=float, default=d.checked_fraction,
                   help=f"share of math targets in the checked (draft, 'let me check', recomputation) form "
                        f"(default {d.checked_fraction}; the reflective variant of docs/toy.md uses 0.1)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def run(args: argparse.Namespace) -> int:
    """CLI body: build the warm-start model into ``args.out``."""
    cfg = WarmStartConfig(steps=args.steps, seed=args.seed, threads=args.threads,
                          checked_fraction=args.checked_fraction)
    cfg.validate()
    t0 = time.time()

    def log(step: int, loss: float, _model) -> None:
        if not args.quiet and (step % 50 == 0 or step == cfg.steps):
            print(f"step {step}/{cfg.steps} loss {loss:.4f} {time.time() - t0:.0f}s", flush=True)

    out = train_warm_start(cfg, args.out, on_step=log)
    if not args.quiet:
        print(f"wrote {out} in {time.time() - t0:.0f}s")
    return 0


def measure_pass_rates(model_dir: str | Path, problems: Sequence[Problem], k: int, seed: int = 0,
                       max_new_tokens: int = 96, modes: dict | None = None,
                       checks: dict | None = None) -> dict[str, dict[str, float]]:
    """Sample k responses per problem at temperature 1 and judge them with the real verifiers.

    If `modes` is a dict, it receives `srpo.toy.measure.mode_rates` (terse vs step-by-step accuracy); if
    `checks` is, `srpo.toy.measure.check_rates` (share of responses that check their work, accuracy with
    and without a check)."""
    from srpo.config import TrainConfig
    from srpo.engines.native.generation import make_generate_fn
    from srpo.rewards import RewardScorer

    cfg = build(TrainConfig, {"model": {"path": str(model_dir)}, "eval": {
        "temperature": 1.0, "top_p": 1.0, "max_new_tokens": max_new_tokens, "batch_size": 32, "seed": seed}})
    responses = make_generate_fn(cfg)(list(problems), k)
    flat_problems = [p for p in problems for _ in range(k)]
    with RewardScorer(cfg.rewards, cfg.sandbox) as scorer:
        results = scorer.score([r for group in responses for r in group], flat_problems)
    corrects = [[r.correct for r in results[i * k:(i + 1) * k]] for i in range(len(problems))]
    if modes is not None:
        modes.update(mode_rates(problems, responses, corrects))
    if checks is not None:
        checks.update(check_rates(problems, responses, corrects))
    return cell_rates(problems, corrects, k)


def run_measure(args: argparse.Namespace) -> int:
    """CLI body: print the pass@1/pass@k table of ``args.model`` on the held-out toy suites."""
    import torch

    from srpo.toy.weights import default_model_dir

    torch.set_num_threads(args.threads)
    t0 = time.time()
    modes: dict = {}
    checks: dict = {}
    rates = measure_pass_rates(args.model or default_model_dir(), heldout_suite(args.n, args.seed), args.k,
                               seed=args.seed, modes=modes, checks=checks)
    print(format_table(rates, args.k))
    print()
    print(format_modes(modes))
    if any(r["n_with"] for r in checks.values()):
        print()
        print(format_checks(checks))
    print(f"({time.time() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({**rates, "modes": modes, "checks": checks}, indent=2) + "\n")
    return 0

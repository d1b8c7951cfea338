"""pass@1 / pass@k of a model per (domain, level) of the built-in suites: the table in docs/toy.md.

Generation and scoring are srpo's own (`srpo.eval.generation`, `srpo.rewards.RewardScorer` with the
sandbox); per cell, pass@1 and pass@k are the unbiased estimators of `srpo.eval.metrics.pass_at_k`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

from srpo.data import Problem


def cell_rates(problems: Sequence[Problem], corrects: Sequence[Sequence[bool]], k: int) -> dict[str, dict]:
    """Per ``"<domain>/<difficulty>"`` cell and ``"all"``: ``{"n", "pass@1", f"pass@{k}"}``."""
    from srpo.eval.metrics import pass_at_k

    cells: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for problem, verdicts in zip(problems, corrects):
        n, c = len(verdicts), sum(map(bool, verdicts))
        row = (pass_at_k(n, c, 1), pass_at_k(n, c, k))
        cells[f"{problem.domain}/{problem.difficulty}"].append(row)
        cells["all"].append(row)
    return {name: {"n": len(rows), "pass@1": sum(r[0] for r in rows) / len(rows),
                   f"pass@{k}": sum(r[1] for r in rows) / len(rows)} for name, rows in sorted(cells.items())}


def measure_pass_rates(model_dir: str | Path, problems: Sequence[Problem], k: int, seed: int = 0,
                       max_new_tokens: int = 96) -> dict[str, dict[str, float]]:
    """Sample k responses per problem at temperature 1 and judge them with the real verifiers."""
    from srpo.eval.generation import GenerationConfig, make_generate_fn
    from srpo.rewards import RewardScorer, RewardsConfig
    from srpo.sandbox import SandboxConfig

    generate = make_generate_fn(str(model_dir), GenerationConfig(max_new_tokens=max_new_tokens, batch_size=32,
                                                                 seed=seed))
    responses = generate(list(problems), k)
    flat_problems = [p for p in problems for _ in range(k)]
    with RewardScorer(RewardsConfig(), SandboxConfig()) as scorer:
        results = scorer.score([r for group in responses for r in group], flat_problems)
    corrects = [[r.correct for r in results[i * k:(i + 1) * k]] for i in range(len(problems))]
    return cell_rates(problems, corrects, k)


def format_table(rates: dict[str, dict[str, float]], k: int) -> str:
    """A Markdown table of `measure_pass_rates` output."""
    lines = [f"| cell | n | pass@1 | pass@{k} |", "|---|---:|---:|---:|"]
    for name, r in rates.items():
        lines.append(f"| {name} | {r['n']} | {r['pass@1']:.3f} | {r[f'pass@{k}']:.3f} |")
    return "\n".join(lines)


def heldout_suite(n: int, seed: int = 0, math_levels=range(1, 6), code_levels=range(1, 5)) -> list[Problem]:
    """`n` held-out problems per (domain, level): the measurement set of docs/toy.md."""
    from srpo.toy import tasks

    out: list[Problem] = []
    for level in math_levels:
        out += tasks.heldout("math", n, level, seed)
    for level in code_levels:
        out += tasks.heldout("code", n, level, seed)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m srpo.toy.measure [--model DIR] [--n 200] [--k 8]``: print the pass@1/pass@k table."""
    import argparse
    import json
    import time

    import torch

    from srpo.toy import default_model_dir

    p = argparse.ArgumentParser(prog="python -m srpo.toy.measure", description=main.__doc__)
    p.add_argument("--model", default=None, help="model directory (default: the shipped toy model)")
    p.add_argument("--n", type=int, default=200, help="held-out problems per domain and level")
    p.add_argument("--k", type=int, default=8, help="samples per problem")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the rates as JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    rates = measure_pass_rates(args.model or default_model_dir(), heldout_suite(args.n, args.seed), args.k,
                               seed=args.seed)
    print(format_table(rates, args.k))
    print(f"({time.time() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rates, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""pass@1 / pass@k of a model per (domain, level) of the built-in suites: the table in docs/toy.md.

Generation and scoring are srpo's own (`srpo.engines.native.generation`, `srpo.rewards.RewardScorer` with the
sandbox); per cell, pass@1 and pass@k are the unbiased estimators of `srpo.eval.metrics.pass_at_k`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from srpo.core.problem import Problem


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

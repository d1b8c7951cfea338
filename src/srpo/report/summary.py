"""The summary table at the top of the report: one row per run, numbers a reader compares first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from srpo.report.figures import _order
from srpo.report.runs import Run

TAIL = 10  # "final" reward = mean of the last TAIL logged values, so one lucky batch does not decide it


@dataclass
class SummaryRow:
    """Per run: label, last step, logged steps, stage starts, final reward / last held-out pass@1 per
    domain (None when absent) and the mean zero-advantage fraction over the run."""

    label: str
    last_step: int | None
    n_steps: int
    stage_starts: list[tuple[int, int]]
    final_reward: dict[str, float | None]
    last_eval: dict[str, tuple[int, float] | None]
    zero_adv_mean: float | None


def summary_domains(runs: list[Run]) -> tuple[list[str], list[str]]:
    """(domains with a reward, groups with held-out pass@1: domains, ``all`` and benchmarks named without a
    slash), over all runs. A benchmark such as ``toy/math`` logs ``eval/toy/math/pass@1``: no column."""
    reward = {k.split("/")[0] for r in runs for k in r.series if k.endswith("/reward_mean") and k.count("/") == 1}
    evals = {k.split("/")[1] for r in runs for k in r.series
             if k.startswith("eval/") and k.endswith("/pass@1") and k.count("/") == 2}
    return _order(reward), _order(evals)


def summarize(run: Run, reward_domains: list[str], eval_domains: list[str]) -> SummaryRow:
    final = {}
    for d in reward_domains:
        s = run.get(f"{d}/reward_mean")
        final[d] = float(np.mean(s[1][-TAIL:])) if s is not None and len(s[1]) else None
    last_eval = {}
    for d in eval_domains:
        s = run.get(f"eval/{d}/pass@1")
        last_eval[d] = (int(s[0][-1]), float(s[1][-1])) if s is not None and len(s[1]) else None
    zero = run.get("groups/zero_adv_frac")
    steps = {int(x) for s, _ in run.series.values() for x in s}
    return SummaryRow(
        label=run.label,
        last_step=run.last_step,
        n_steps=len(steps),
        stage_starts=run.stage_starts,
        final_reward=final,
        last_eval=last_eval,
        zero_adv_mean=float(np.mean(zero[1])) if zero is not None and len(zero[1]) else None,
    )

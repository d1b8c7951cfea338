"""`evaluate`: sample n responses per problem, score them, report pass@k / avg@n per benchmark and domain.

A benchmark is a problem's `source` (a file's stem, ``humaneval``, ``gym:<task>``); a domain is math or
code; ``all`` pools every problem. Each problem counts once in each group it belongs to.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from srpo.core.problem import DOMAINS, Problem
from srpo.eval.metrics import mean_ci, pass_at_k
from srpo.core.generation import GenerateFn
from srpo.core.results import RewardResult, ScoreFn

# Sees each scored batch: (problems, responses[i][j] = sample j of problem i, flat results in that order).
RecordFn = Callable[[list[Problem], list[list[str]], list[RewardResult]], None]


@dataclass
class GroupResult:
    """Metrics of one group of problems: ``pass@k`` for each k and ``avg@n``, with 95% intervals."""

    num_problems: int
    num_samples: int
    metrics: dict[str, float]
    ci95: dict[str, tuple[float | None, float | None]]


@dataclass
class EvalResult:
    """Everything an evaluation measured; `per_problem` rows are ``{uid, source, domain, n, correct}``."""

    n: int
    ks: list[int]
    overall: GroupResult
    by_domain: dict[str, GroupResult]
    by_benchmark: dict[str, GroupResult]
    per_problem: list[dict[str, Any]] = field(default_factory=list)

    def flat_metrics(self, prefix: str = "eval") -> dict[str, float]:
        """``{prefix}/all|<domain>|<benchmark>/pass@k|avg@n`` -> value.

        A benchmark named like a domain or ``all`` gets the suffix ``_bench`` so no key is overwritten.
        """
        out: dict[str, float] = {}
        groups = {"all": self.overall, **self.by_domain}
        for name, res in self.by_benchmark.items():
            groups[f"{name}_bench" if name in groups or name in DOMAINS else name] = res
        for name, res in groups.items():
            for metric, value in res.metrics.items():
                out[f"{prefix}/{name}/{metric}"] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def table(self) -> str:
        """A plain-text table: one row per group, mean [95% interval] per metric."""
        metric_names = list(self.overall.metrics)
        header = ["group", "problems"] + metric_names
        rows = []
        for name, res in [("all", self.overall)] + [(f"domain:{d}", r) for d, r in self.by_domain.items()] \
                + [(b, r) for b, r in self.by_benchmark.items()]:
            rows.append([name, str(res.num_problems)] + [_cell(res, m) for m in metric_names])
        widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in [header] + rows]
        lines.insert(1, "-" * len(lines[0]))
        return "\n".join(lines)


def _cell(res: GroupResult, metric: str) -> str:
    value, (lo, hi) = res.metrics[metric], res.ci95[metric]
    return f"{value:.3f}" if lo is None else f"{value:.3f} [{lo:.3f},{hi:.3f}]"


def evaluate(problems: Sequence[Problem], generate_fn: GenerateFn, score_fn: ScoreFn, n: int,
             ks: Sequence[int] = (1,), batch_size: int | None = None, progress: bool = False,
             record: RecordFn | None = None) -> EvalResult:
    """Generate `n` responses per problem (`batch_size` problems per generate call), score, aggregate;
    `record` sees every scored batch (`response_rows` turns one into rows)."""
    ks = sorted(set(ks))
    if n < 1 or not ks or ks[0] < 1 or ks[-1] > n:
        raise ValueError(f"evaluate: need n >= 1 and 1 <= k <= n for every k, got n={n}, ks={ks}")
    problems = list(problems)
    counts = sample_and_count(problems, generate_fn, score_fn, n, batch_size, progress, record)
    per_problem = [{"uid": p.uid, "source": p.source, "domain": p.domain, "n": n, "correct": c}
                   for p, c in zip(problems, counts)]
    return aggregate(per_problem, n, ks)


def sample_and_count(problems: list[Problem], generate_fn: GenerateFn, score_fn: ScoreFn, n: int,
                     batch_size: int | None = None, progress: bool = False,
                     record: RecordFn | None = None) -> list[int]:
    """Number of correct responses out of `n` for each problem, generated in `domain_batches`."""
    counts = [0] * len(problems)
    bar = _bar(len(problems), progress)
    for rows in domain_batches(problems, batch_size):
        chunk = [problems[i] for i in rows]
        for i, c in zip(rows, count_correct(chunk, generate_fn(chunk, n), score_fn, n, record)):
            counts[i] = c
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    return counts


def domain_batches(problems: Sequence[Problem], size: int | None) -> list[list[int]]:
    """Indices of `problems` in batches of at most `size` (None: a domain's all), each batch of one domain.

    Domains come in order of first appearance, problems in input order. A generate_fn that samples each
    domain with its own seeded stream (the native engine's does) thus sees the same batches whether it
    gets all problems at once or batch by batch.

    >>> domains = ["math", "code", "math", "math", "code"]
    >>> domain_batches([Problem.create(d, f"question {i}") for i, d in enumerate(domains)], 2)
    [[0, 2], [3], [1, 4]]
    """
    by_domain: dict[str, list[int]] = {}
    for i, problem in enumerate(problems):
        by_domain.setdefault(problem.domain, []).append(i)
    batches: list[list[int]] = []
    for rows in by_domain.values():
        step = size or len(rows)
        batches += [rows[start:start + step] for start in range(0, len(rows), step)]
    return batches


def count_correct(problems: list[Problem], responses: list[list[str]], score_fn: ScoreFn, n: int,
                  record: RecordFn | None = None) -> list[int]:
    """Score ``responses[i][j]`` (sample j of problem i) in one scorer call; return correct counts."""
    if len(responses) != len(problems) or any(len(r) != n for r in responses):
        raise ValueError(f"generate_fn must return {n} responses for each of {len(problems)} problems")
    flat_responses = [r for rs in responses for r in rs]
    flat_problems = [p for p in problems for _ in range(n)]
    results = score_fn(flat_responses, flat_problems)
    if len(results) != len(flat_responses):
        raise ValueError(f"score_fn returned {len(results)} results for {len(flat_responses)} responses")
    if record is not None:
        record(problems, responses, results)
    return [sum(bool(results[i * n + j].correct) for j in range(n)) for i in range(len(problems))]


def response_rows(problems: list[Problem], responses: list[list[str]],
                  results: list[RewardResult]) -> list[dict[str, Any]]:
    """One row per response, ``{uid, source, domain, sample, response, score, correct, info}``; `results` is
    flat, sample j of problem i at ``i * n + j`` (what `count_correct` hands to `record`).

    >>> p = Problem.create("math", "1+1?", "2")
    >>> response_rows([p], [["2"]], [RewardResult(1.0, True, {"answer": "2"})])[0]["correct"]
    True
    """
    n = len(responses[0]) if responses else 0
    return [{"uid": p.uid, "source": p.source, "domain": p.domain, "sample": j, "response": text,
             "score": results[i * n + j].score, "correct": results[i * n + j].correct,
             "info": json.loads(json.dumps(results[i * n + j].info, default=str))}
            for i, (p, texts) in enumerate(zip(problems, responses)) for j, text in enumerate(texts)]


def aggregate(per_problem: list[dict[str, Any]], n: int, ks: Sequence[int]) -> EvalResult:
    """Group per-problem counts by domain and by benchmark (source)."""
    by_domain: dict[str, list[dict]] = {}
    by_bench: dict[str, list[dict]] = {}
    for row in per_problem:
        by_domain.setdefault(row["domain"], []).append(row)
        by_bench.setdefault(row["source"] or "unnamed", []).append(row)
    return EvalResult(n, list(ks), eval_group_metrics(per_problem, n, ks),
                      {d: eval_group_metrics(rows, n, ks) for d, rows in sorted(by_domain.items())},
                      {b: eval_group_metrics(rows, n, ks) for b, rows in sorted(by_bench.items())}, per_problem)


def eval_group_metrics(rows: list[dict[str, Any]], n: int, ks: Sequence[int]) -> GroupResult:
    metrics: dict[str, float] = {}
    ci: dict[str, tuple[float | None, float | None]] = {}
    per_metric = {f"pass@{k}": [pass_at_k(n, r["correct"], k) for r in rows] for k in ks}
    per_metric[f"avg@{n}"] = [r["correct"] / n for r in rows]
    for name, values in per_metric.items():
        mean, lo, hi = mean_ci(values)
        metrics[name], ci[name] = mean, (lo, hi)
    return GroupResult(len(rows), len(rows) * n, metrics, ci)


def _bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="eval", unit="problem")

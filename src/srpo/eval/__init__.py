"""Evaluation: unbiased pass@k and avg@n per benchmark and per domain, with 95% intervals."""

from srpo.eval.evaluate import EvalResult, GroupResult, aggregate, count_correct, evaluate
from srpo.eval.metrics import mean_ci, pass_at_k

__all__ = ["EvalResult", "GroupResult", "aggregate", "count_correct", "evaluate", "mean_ci", "pass_at_k"]

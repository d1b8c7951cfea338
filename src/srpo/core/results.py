"""What every verifier returns (`RewardResult`), and the signature of a function that judges responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from srpo.core.problem import Problem


@dataclass(frozen=True)
class RewardResult:
    """A verifier's judgement of one response.

    `score` is the (possibly shaped) reward that enters the advantage; `correct` is the binary verdict that
    filters (history resampling, dynamic sampling) and pass@k read, never the shaped score; `info` holds
    details (extracted answer, per-test results, error messages).
    """

    score: float
    correct: bool
    info: dict[str, Any] = field(default_factory=dict)


# What curation, labelling and evaluation take to judge responses: (responses, their problems) -> verdicts.
# The CLIs pass `RewardScorer.score`; tests pass fakes.
ScoreFn = Callable[[list[str], list[Problem]], list[RewardResult]]

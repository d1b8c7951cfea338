"""Building the real scorer for the CLIs: `srpo.rewards.RewardScorer` over the config's rewards and sandbox.

Library code (curation, labelling, evaluation) takes a ``score_fn(responses, problems) ->
list[RewardResult]`` instead, so tests inject fakes and the trainer passes its own scorer.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from srpo.core.problem import Problem
from srpo.core.results import RewardResult
from srpo.rewards import RewardScorer, RewardsConfig
from srpo.sandbox import SandboxConfig

ScoreFn = Callable[[list[str], list[Problem]], list[RewardResult]]


@contextmanager
def reward_scorer(rewards_cfg: RewardsConfig, sandbox_cfg: SandboxConfig) -> Iterator[ScoreFn]:
    """Yield ``RewardScorer(rewards_cfg, sandbox_cfg).score`` and close the scorer afterwards."""
    scorer = RewardScorer(rewards_cfg, sandbox_cfg)
    try:
        yield scorer.score
    finally:
        scorer.close()

"""Building the real scorer for the CLIs: `srpo.rewards.RewardScorer`, imported lazily.

Library code (curation, labelling, evaluation) takes a ``score_fn(responses, problems) ->
list[RewardResult]`` instead, so tests inject fakes and the trainer passes its own scorer.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from srpo.core.problem import Problem
from srpo.core.results import RewardResult

ScoreFn = Callable[[list[str], list[Problem]], list[RewardResult]]


@contextmanager
def reward_scorer(rewards_cfg: Any = None, sandbox_cfg: Any = None) -> Iterator[ScoreFn]:
    """Yield ``RewardScorer(rewards_cfg, sandbox_cfg).score`` and close the scorer afterwards.

    Missing configs default to ``srpo.rewards.RewardsConfig()`` and ``srpo.sandbox.SandboxConfig()``.
    """
    try:
        from srpo.rewards import RewardScorer  # type: ignore[attr-defined]
    except ImportError as err:
        raise RuntimeError(f"scoring needs srpo.rewards.RewardScorer, which is not available: {err}") from None
    scorer = RewardScorer(rewards_cfg if rewards_cfg is not None else _default("srpo.rewards", "RewardsConfig"),
                          sandbox_cfg if sandbox_cfg is not None else _default("srpo.sandbox", "SandboxConfig"))
    try:
        yield scorer.score
    finally:
        scorer.close()


def _default(module: str, name: str) -> Any:
    import importlib

    try:
        return getattr(importlib.import_module(module), name)()
    except (ImportError, AttributeError):
        return None

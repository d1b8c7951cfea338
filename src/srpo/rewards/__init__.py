"""Verifiable rewards: math answer equivalence, code tests in a sandbox, format and language."""

from srpo.rewards.base import RewardResult

__all__ = ["RewardResult"]

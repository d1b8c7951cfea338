"""Verifiable rewards: math answer equivalence, code tests in a sandbox, format and language.

Importing this package registers the built-in rewards: ``math_accuracy``, ``code_accuracy``, ``format``,
``language``. The trainer's entry point is `RewardScorer`.
"""

from srpo.core.results import RewardResult
from srpo.rewards.registry import REWARDS, register_reward
from srpo.rewards import code_reward, format_reward, language, math_reward  # noqa: F401  (registration)
from srpo.rewards.code_reward import code_accuracy
from srpo.rewards.config import RewardComponent, RewardsConfig
from srpo.rewards.extract import extract_answer, extract_code
from srpo.rewards.format_reward import format_reward as format_score
from srpo.rewards.language import language_penalty
from srpo.rewards.math_reward import math_accuracy
from srpo.rewards.math_verifier import MathVerifier
from srpo.rewards.scorer import RewardScorer, combine

__all__ = [
    "REWARDS", "MathVerifier", "RewardComponent", "RewardResult", "RewardScorer", "RewardsConfig",
    "code_accuracy", "combine", "extract_answer", "extract_code", "format_score", "language_penalty",
    "math_accuracy", "register_reward",
]

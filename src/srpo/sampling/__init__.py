"""Prompt samplers: uniform epochs, history resampling (SRPO), dynamic sampling (DAPO), difficulty pools
(prime-rl), domain mixtures.

Every sampler is deterministic from its seed and resumable through a JSON-serialisable `state_dict`.
The call order the trainer follows and the index layout are documented in `srpo.sampling.base`.
"""

from srpo.sampling.base import PromptSampler
from srpo.sampling.config import SamplingConfig
from srpo.sampling.difficulty_pool import DifficultyPoolSampler
from srpo.sampling.dynamic import DynamicRounds, SingleRound, batch_collection, collect_dynamic_batch, is_mixed
from srpo.sampling.history import HistoryResamplingSampler, select_drops
from srpo.sampling.mixture import DomainMixture, allocate
from srpo.sampling.registry import SAMPLERS
from srpo.sampling.uniform import DynamicSampler, UniformSampler

__all__ = [
    "SAMPLERS",
    "DifficultyPoolSampler",
    "DomainMixture",
    "DynamicRounds",
    "DynamicSampler",
    "HistoryResamplingSampler",
    "PromptSampler",
    "SamplingConfig",
    "SingleRound",
    "UniformSampler",
    "allocate",
    "batch_collection",
    "collect_dynamic_batch",
    "is_mixed",
    "select_drops",
]

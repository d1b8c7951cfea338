"""Samplers by config name."""

from __future__ import annotations

from collections.abc import Sequence

from srpo.core.problem import Problem
from srpo.sampling.base import PromptSampler
from srpo.sampling.config import SamplingConfig
from srpo.sampling.history import HistoryResamplingSampler
from srpo.sampling.uniform import UniformSampler

# dynamic_sampling draws prompts uniformly; its filtering lives in the trainer via collect_dynamic_batch.
SAMPLERS: dict[str, type[PromptSampler]] = {
    "uniform": UniformSampler,
    "history_resampling": HistoryResamplingSampler,
    "dynamic_sampling": UniformSampler,
}


def build_sampler(name: str, problems: Sequence[Problem], seed: int,
                  cfg: SamplingConfig | None = None) -> PromptSampler:
    """The sampler registered as `name` (a `SamplingConfig.name`), over `problems`."""
    if name not in SAMPLERS:
        raise ValueError(f"sampling.name: unknown sampler {name!r} (known: {', '.join(sorted(SAMPLERS))})")
    return SAMPLERS[name](problems, seed, cfg)

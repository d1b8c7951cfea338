"""Uniform sampling: plain shuffled epochs over all prompts (vanilla GRPO).

Every prompt is served exactly once per epoch, in a fresh permutation per epoch drawn from
``(seed, epoch)``; feedback is only tallied for the epoch statistics (pass rate, all-correct / all-wrong
fractions), never acted on.
"""

from __future__ import annotations

from srpo.sampling.epochs import EpochSampler
from srpo.sampling.registry import SAMPLERS


@SAMPLERS.register("uniform")
class UniformSampler(EpochSampler):
    """Shuffled epochs over the whole data set; see `srpo.sampling.base` for the stream layout."""

    kind = "uniform"


# DAPO's dynamic sampling draws prompts uniformly; its filtering is `srpo.sampling.dynamic.collect_dynamic_batch`,
# which the trainer runs when sampling.name is dynamic_sampling.
SAMPLERS.add("dynamic_sampling", UniformSampler)

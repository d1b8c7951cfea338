"""Uniform sampling: plain shuffled epochs over all prompts (vanilla GRPO).

Every prompt is served exactly once per epoch, in a fresh permutation per epoch drawn from
``(seed, epoch)``; feedback is only tallied for the epoch statistics (pass rate, all-correct / all-wrong
fractions), never acted on.
"""

from __future__ import annotations

from srpo.sampling.dynamic import DynamicRounds
from srpo.sampling.epochs import EpochSampler
from srpo.sampling.registry import SAMPLERS


@SAMPLERS.register("uniform")
class UniformSampler(EpochSampler):
    """Shuffled epochs over the whole data set; see `srpo.sampling.base` for the stream layout."""

    kind = "uniform"


@SAMPLERS.register("dynamic_sampling")
class DynamicSampler(UniformSampler):
    """DAPO's dynamic sampling: prompts drawn as `UniformSampler` draws them (the same stream and state), and
    each step's batch collected in rounds that keep only groups with mixed verdicts (`DynamicRounds`)."""

    collection = DynamicRounds

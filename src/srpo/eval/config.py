"""How responses are sampled for evaluation and difficulty labelling."""

from __future__ import annotations

from dataclasses import dataclass

from srpo.core.configlib import ConfigError
from srpo.core.generation import check_sampling


@dataclass(frozen=True)
class GenerationConfig:
    """How responses are sampled for labelling and evaluation.

    temperature: softmax temperature (> 0).
    top_p: nucleus mass in (0, 1].
    max_new_tokens: response length cap.
    batch_size: problems per generation call (each brings its n samples).
    seed: seed of the sampler, so a run can be repeated.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    batch_size: int = 8
    seed: int = 0

    def validate(self) -> None:
        check_sampling(self.temperature, self.top_p, self.max_new_tokens)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be >= 1, got {self.batch_size}")

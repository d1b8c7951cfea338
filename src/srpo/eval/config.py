"""How responses are sampled for evaluation and difficulty labelling."""

from __future__ import annotations

from dataclasses import dataclass

from srpo.core.configlib import ConfigError, option
from srpo.core.generation import check_sampling


@dataclass(frozen=True)
class GenerationConfig:
    """How responses are sampled for labelling and evaluation."""

    temperature: float = option(1.0, "softmax temperature (> 0).")
    top_p: float = option(1.0, "nucleus mass in (0, 1].")
    max_new_tokens: int = option(512, "response length cap.")
    batch_size: int = option(8, "problems per generation call (each brings its n samples).")
    seed: int = option(0, "seed of the sampler, so a run can be repeated.")

    def validate(self) -> None:
        check_sampling(self.temperature, self.top_p, self.max_new_tokens)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be >= 1, got {self.batch_size}")

"""`EvalConfig`: how a model is evaluated, the same keys for training's held-out evaluation, `srpo eval` and
`srpo label-difficulty` (section ``eval`` of the config tree)."""

from __future__ import annotations

from dataclasses import dataclass

from srpo.core.configlib import ConfigError, option
from srpo.core.generation import check_sampling


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation sampling and metrics; unset (None) sampling fields follow the run's rollout section."""

    samples: int = option(4, "responses per problem (srpo label-difficulty's k); pass@1 is averaged over them "
                             "(avg@samples). The paper uses 32.")
    ks: list[int] = option(factory=lambda: [1], doc="pass@k values to report, each in [1, samples].")
    temperature: float | None = option(None, "softmax temperature (> 0); None = rollout.temperature.")
    top_p: float | None = option(None, "nucleus mass in (0, 1]; None = rollout.top_p.")
    max_new_tokens: int | None = option(None, "response length cap; None = rollout.max_new_tokens.")
    batch_size: int = option(32, "problems per generation call, each with its `samples` responses. srpo "
                                 "label-difficulty also writes its results after each.")
    seed: int = option(0, "sampler seed of srpo eval and srpo label-difficulty. Training's held-out evaluation "
                          "derives its seed from run.seed and the step instead, so resume stays exact.")

    def validate(self) -> None:
        if self.samples < 1:
            raise ConfigError(f"samples: must be >= 1, got {self.samples}")
        if not self.ks or any(not 1 <= k <= self.samples for k in self.ks):
            raise ConfigError(f"ks: each k must be in [1, samples={self.samples}], got {self.ks}")
        check_sampling(self.temperature, self.top_p, self.max_new_tokens)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be >= 1, got {self.batch_size}")

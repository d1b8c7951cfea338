"""The sampling section of the config tree."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from srpo.core.configlib import ConfigError, option
from srpo.sampling.registry import SAMPLERS

EpochMode = Literal["active_pass", "fixed_size"]
RefillMode = Literal["fixed", "need"]
ExhaustedMode = Literal["floor", "readmit", "stop"]
EXHAUSTED_MODES = ("floor", "readmit", "stop")


@dataclass(frozen=True)
class SamplingConfig:
    """Which prompt sampler feeds the trainer, and its options."""

    name: str = option("uniform", "the prompt sampler, one of ``srpo.sampling.SAMPLERS``: ``uniform`` (shuffled "
                                  "epochs over all prompts: vanilla GRPO), ``history_resampling`` (SRPO's HR: "
                                  "prompts whose rollouts were all correct in an epoch leave the pool at the epoch "
                                  "boundary) or ``dynamic_sampling`` (DAPO baseline: a uniform prompt stream; the "
                                  "trainer oversamples and keeps only groups whose ``correct`` values are not all "
                                  "equal, see `srpo.sampling.dynamic`) or ``difficulty_pool`` (prime-rl's buffer: "
                                  "each batch mixes easy / normal / hard pools by fixed fractions, a prompt's "
                                  "pool following its latest group pass rate, see `srpo.sampling.pool`).")
    hr_drop_threshold: float = option(1.0, "HR's epoch pass rate at which a prompt leaves the pool: an active prompt "
                                           "is dropped at the epoch boundary when its pass rate in that epoch "
                                           "(correct rollouts / rollouts recorded for it) is >= this. 1.0 = only "
                                           "all-correct prompts; in (0, 1].")
    hr_readmit_prob: float = option(0.0, "HR's chance that a dropped prompt comes back at each epoch boundary "
                                         "(independent draws from the seeded RNG). 0.0 = removals are permanent.")
    hr_epoch_mode: EpochMode = option("active_pass", "what counts as an HR epoch. ``\"active_pass\"`` (default): one "
                                                     "pass over the current active set, so epochs get shorter as "
                                                     "prompts are dropped. ``\"fixed_size\"``: an epoch is always as "
                                                     "many prompts as the original data set; the active set is "
                                                     "cycled (reshuffled per cycle) to fill it, so a prompt can be "
                                                     "served several times in one epoch and boundaries come at a "
                                                     "steady step rate.")
    hr_min_active: int = option(0, "floor of the HR active set. The effective floor is ``max(1, hr_min_active, "
                                   "largest n ever passed to next_batch)``, so a batch never has to repeat a prompt "
                                   "because of drops. When the drops of a boundary would go below it, only the "
                                   "easiest candidates are dropped (highest pass rate first, seeded tie-break) and "
                                   "the rest stay; the boundary counts in ``floor_hits``.")
    hr_on_exhausted: ExhaustedMode = option(
        "readmit", "what HR does when its pool runs dry: the drops of an epoch boundary would leave fewer active "
                   "prompts than the floor (one batch, see ``hr_min_active``). ``readmit`` (default): nothing is "
                   "dropped and every dropped prompt comes back for a fresh pass (those still solved leave again at "
                   "the next boundary). ``floor``: only the easiest candidates leave and the active set stays at the "
                   "floor, so training repeats the same few prompts. ``stop``: like ``floor`` for the batch being "
                   "drawn, then training ends after the current step. Logged when it happens; counted in "
                   "``floor_hits``. Measured in docs/reproduction.md: ``floor`` lost held-out accuracy after the pool "
                   "ran dry, ``readmit`` kept it.")
    hr_wrong_patience: int = option(0, "HR with patience for the unsolvable: a prompt all wrong in this many "
                                       "consecutive epochs (epochs in which it was served and no rollout was "
                                       "correct) is set aside at the boundary, so HR's pool cannot fill with prompts "
                                       "it never solves. 0 (default) = SRPO as published: all-wrong prompts always "
                                       "stay. Set-aside prompts come back after ``hr_wrong_return`` epochs, or when "
                                       "the pool runs dry (whatever ``hr_on_exhausted`` says).")
    hr_wrong_return: int = option(0, "HR patience: epochs a set-aside prompt stays out before it comes back (its "
                                     "streak starts again from 0). 0 = only when the pool runs dry.")
    pool_easy_border: float = option(0.8, "difficulty_pool: a prompt whose latest group pass rate is > this moves to "
                                          "the easy pool (prime-rl's ``easy_border`` default).")
    pool_hard_border: float = option(0.2, "difficulty_pool: a prompt whose latest group pass rate is < this moves to "
                                          "the hard pool (prime-rl's ``hard_border`` default); in between: normal.")
    pool_easy_fraction: float = option(0.1, "difficulty_pool: share of each batch drawn from the easy pool (prime-rl "
                                            "default 0.1); a pool too small gives its share to the normal pool.")
    pool_hard_fraction: float = option(0.1, "difficulty_pool: share of each batch drawn from the hard pool (prime-rl "
                                            "default 0.1).")
    pool_start_from_labels: bool = option(False, "difficulty_pool: start each prompt in the pool of its data label "
                                                 "(``difficulty`` easy / medium / hard from `srpo curate`, medium = "
                                                 "normal; other labels start normal) instead of all in normal (the "
                                                 "prime-rl default without a difficulty field).")
    dynamic_max_rounds: int = option(10, "dynamic sampling: most generation rounds per training batch. When hit, the "
                                         "trainer trains on the groups that survived (possibly fewer, possibly none) "
                                         "and logs ``cap_hit``. DAPO's verl recipe scripts use 10 "
                                         "(``max_num_gen_batches``).")
    dynamic_oversample: float = option(3.0, "dynamic sampling: prompts generated per round, as a multiple of the "
                                            "batch size (``fixed`` refill) or of the groups still missing (``need`` "
                                            "refill). DAPO's scripts use 3.")
    dynamic_refill: RefillMode = option("fixed", "dynamic sampling: how each round's size is chosen. ``fixed`` (DAPO "
                                                 "as published: every round generates ceil(oversample * batch) "
                                                 "prompts) or ``need`` (round r generates ceil(oversample * missing) "
                                                 "prompts: fewer wasted rollouts).")

    def validate(self) -> None:
        SAMPLERS.check(self.name, "name")
        if not (0.0 < self.hr_drop_threshold <= 1.0):
            raise ConfigError(f"hr_drop_threshold: must be in (0, 1], got {self.hr_drop_threshold}")
        if not (0.0 <= self.hr_readmit_prob <= 1.0):
            raise ConfigError(f"hr_readmit_prob: must be in [0, 1], got {self.hr_readmit_prob}")
        if self.hr_min_active < 0:
            raise ConfigError(f"hr_min_active: must be >= 0, got {self.hr_min_active}")
        if self.hr_wrong_patience < 0 or self.hr_wrong_return < 0:
            raise ConfigError(f"hr_wrong_patience, hr_wrong_return: must be >= 0, got {self.hr_wrong_patience}, "
                              f"{self.hr_wrong_return}")
        self._validate_pool()
        if self.dynamic_max_rounds < 1:
            raise ConfigError(f"dynamic_max_rounds: must be >= 1, got {self.dynamic_max_rounds}")
        if not (math.isfinite(self.dynamic_oversample) and self.dynamic_oversample > 0):
            raise ConfigError(f"dynamic_oversample: must be a finite number > 0, got {self.dynamic_oversample}")
        if self.hr_epoch_mode not in ("active_pass", "fixed_size"):
            raise ConfigError(f"hr_epoch_mode: must be 'active_pass' or 'fixed_size', got {self.hr_epoch_mode!r}")
        if self.hr_on_exhausted not in EXHAUSTED_MODES:
            raise ConfigError(f"hr_on_exhausted: must be one of {', '.join(EXHAUSTED_MODES)}, "
                              f"got {self.hr_on_exhausted!r}")
        if self.dynamic_refill not in ("fixed", "need"):
            raise ConfigError(f"dynamic_refill: must be 'fixed' or 'need', got {self.dynamic_refill!r}")

    def _validate_pool(self) -> None:
        for name in ("pool_easy_border", "pool_hard_border", "pool_easy_fraction", "pool_hard_fraction"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ConfigError(f"{name}: must be in [0, 1], got {value!r}")
        if self.pool_hard_border > self.pool_easy_border:
            raise ConfigError(f"pool_hard_border: must be <= pool_easy_border ({self.pool_easy_border}), "
                              f"got {self.pool_hard_border}")
        if self.pool_easy_fraction + self.pool_hard_fraction > 1.0:
            raise ConfigError(f"pool_easy_fraction + pool_hard_fraction: must be <= 1, got "
                              f"{self.pool_easy_fraction} + {self.pool_hard_fraction}")

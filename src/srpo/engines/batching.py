"""How a training step's responses are cut into optimizer steps, ranks and micro-batches: the arithmetic
every distributed engine needs, refused with the dotted field when the numbers do not divide."""

from __future__ import annotations

import dataclasses

from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError


@dataclasses.dataclass(frozen=True)
class StepSplit:
    """Responses per step (`total`), per optimizer step (`mini`), per rank and optimizer step (`per_rank`),
    and per rank and forward/backward (`micro`)."""

    total: int
    mini: int
    per_rank: int
    micro: int


def split_step(cfg: TrainConfig, ranks: int, ranks_named: str) -> StepSplit:
    """P x G responses -> whole optimizer steps of ``algorithm.mini_batch_size`` over `ranks` ranks, each in
    micro-batches of at most ``algorithm.micro_batch_size``. `ranks_named` says what the ranks are."""
    if cfg.algorithm.micro_batch_tokens is not None:
        raise ConfigError("algorithm.micro_batch_tokens: only the native engine cuts micro-batches by tokens; "
                          "this engine takes algorithm.micro_batch_size rows (set micro_batch_tokens to null; "
                          "verl's token-budget batches are verl.max_tokens_per_gpu)")
    total = cfg.rollout.prompts_per_step * cfg.rollout.group_size
    mini = cfg.algorithm.mini_batch_size or total
    if total % mini:
        raise ConfigError(f"algorithm.mini_batch_size: {mini} must divide the step's {total} responses (a step "
                          "is cut into whole optimizer steps)")
    if mini % ranks:
        raise ConfigError(f"algorithm.mini_batch_size: the {mini} responses of an optimizer step must divide over "
                          f"{ranks} {ranks_named}")
    per_rank = mini // ranks
    micro = min(cfg.algorithm.micro_batch_size, per_rank)
    if per_rank % micro:
        raise ConfigError(f"algorithm.micro_batch_size: {micro} must divide the {per_rank} responses each of the "
                          f"{ranks} {ranks_named} gets per optimizer step")
    return StepSplit(total, mini, per_rank, micro)

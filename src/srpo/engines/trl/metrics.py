"""One srpo step's metrics from its gathered records, under the names every srpo engine logs: the shared
`srpo.engines.records.step_metrics` over TRL's layout (consecutive groups of G records, block order)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from srpo.config import TrainConfig
from srpo.engines.records import Record, sample_rows_of, stage_of
from srpo.engines.records import step_metrics as shared_step_metrics
from srpo.engines.trl.feedback import PromptStream


def groups_of(records: Sequence[Record], group_size: int) -> list[list[Record]]:
    """TRL's groups: consecutive runs of `group_size` records (each prompt's G responses in a row)."""
    return [list(records[i:i + group_size]) for i in range(0, len(records), group_size)]


def step_metrics(cfg: TrainConfig, entry: dict[str, Any], records: Sequence[Record],
                 stream: PromptStream) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(metrics, sample rows) of the step `entry` describes, right after its records were fed back."""
    step = entry["step"]
    stage = stage_of(stream.curriculum, step)
    metrics = shared_step_metrics(
        stage, records, groups_of(records, cfg.rollout.group_size), masks_truncated=cfg.algorithm.masks_truncated,
        analysis=cfg.analysis, sampler_stats=stream.mixture.stats(), curriculum=stream.curriculum,
        weights=entry["weights"], counters=stream.stats())
    return metrics, sample_rows_of(step, stage, records)

"""One srpo step's metrics from its gathered records, under the native engine's names (flat ``domain/name``):
per-domain reward, pass rate, length and truncation; the zero-advantage split; sampler (HR) and curriculum
state; reflection and code-in-math analysis; and the rows offered to samples.jsonl."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from srpo.analysis import rollout_metrics, sample_rows
from srpo.analysis.groups import zero_advantage_split
from srpo.config import TrainConfig
from srpo.engines.records import Record, domain_metrics, stage_of
from srpo.engines.trl.feedback import PromptStream


def group_metrics(records: Sequence[Record], group_size: int) -> dict[str, float]:
    """The zero-advantage split (`srpo.analysis.groups`) over consecutive groups of `group_size` records."""
    return zero_advantage_split([[(r.reward, r.correct) for r in records[i:i + group_size]]
                                 for i in range(0, len(records), group_size)])


def step_metrics(cfg: TrainConfig, entry: dict[str, Any], records: Sequence[Record],
                 stream: PromptStream) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(metrics, sample rows) of the step `entry` describes, right after its records were fed back."""
    step = entry["step"]
    stage = stage_of(stream.curriculum, step)
    texts, domains = [r.text for r in records], [r.domain for r in records]
    lengths = [r.length for r in records]
    metrics = {"stage": float(stage), **domain_metrics(records, cfg.algorithm.masks_truncated),
               **group_metrics(records, cfg.rollout.group_size),
               **{f"sampler/{k}": v for k, v in stream.mixture.stats().items()},
               **rollout_metrics(texts, domains, lengths, cfg.analysis),
               **stream.curriculum.stats(),
               **stream.curriculum.weight_metrics(entry["weights"]),
               "sampler/rollouts_total": float(stream.rollouts_total),
               "sampler/lookahead_max": float(stream.lookahead_seen)}
    rows = sample_rows(step, stage, [r.uid for r in records], domains, texts, [r.reward for r in records],
                       [r.correct for r in records], lengths)
    return metrics, rows

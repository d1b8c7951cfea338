"""One verl step's srpo metrics, under the names every srpo engine logs: the shared
`srpo.engines.records.step_metrics` (per-domain figures, zero-advantage split, sampler, curriculum, analysis) fed
with `Record`s of the step's verdicts, group after group, and the stream's counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from srpo.engines.records import Record, sample_rows_of, stage_of
from srpo.engines.records import step_metrics as shared_step_metrics
from srpo.engines.verl.stream import SrpoStream, Verdict


def records(stream: SrpoStream, groups: Sequence[Sequence[Verdict]]) -> list[list[Record]]:
    """The verdicts as shared `Record`s, one list per verl group (the layout the zero-advantage split reads)."""
    return [[Record(uid=v.uid, domain=stream.by_uid[v.uid].domain, correct=v.correct, reward=v.reward,
                    length=v.length, truncated=v.truncated, penalty=v.penalty, text=v.text) for v in rows]
            for rows in groups]


def step_metrics(cfg, stream: SrpoStream, step: int, groups: Sequence[Sequence[Verdict]]
                 ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(metrics, sample rows) of verl step `step`, right after its verdicts were fed to the stream. verl's PPO
    trainer has no truncation mask (`srpo.engines.verl.setup` refuses one), so nothing counts as masked."""
    grouped = records(stream, groups)
    flat = [r for g in grouped for r in g]
    stage = stage_of(stream.curriculum, step)
    metrics = shared_step_metrics(stage, flat, grouped, masks_truncated=False, analysis=cfg.analysis,
                                  sampler_stats=stream.mixture.stats(), curriculum=stream.curriculum,
                                  weights=stream.curriculum.weights(step), counters=stream.stats())
    return metrics, sample_rows_of(step, stage, flat)

"""One verl step's srpo metrics, under the names every srpo engine logs (flat ``domain/name``): per-domain
reward, pass rate, length and truncation; the zero-advantage split (all-correct / all-wrong groups); the
sampler's active set and epoch figures (HR); the curriculum's stage and weights; the reflection and
code-in-math analysis; and the rows offered to samples.jsonl. The per-domain figures are the shared
`srpo.engines.records` functions the TRL engine also uses, fed with the same `Record`s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from srpo.analysis import rollout_metrics, sample_rows
from srpo.analysis.groups import zero_advantage_split
from srpo.engines.records import Record, domain_metrics, stage_of
from srpo.engines.verl.stream import SrpoStream, Verdict


def records(stream: SrpoStream, groups: Sequence[Sequence[Verdict]]) -> list[Record]:
    """The verdicts as shared `Record`s, group after group (the layout `group_metrics` reads)."""
    return [Record(uid=v.uid, domain=stream.by_uid[v.uid].domain, correct=v.correct, reward=v.reward,
                   length=v.length, truncated=v.truncated, penalty=0.0, text=v.text)
            for rows in groups for v in rows]


def group_metrics(groups: Sequence[Sequence[Verdict]]) -> dict[str, float]:
    """The zero-advantage split (`srpo.analysis.groups`) over verl's groups (sizes may differ when a session
    failed)."""
    return zero_advantage_split([[(v.reward, v.correct) for v in g] for g in groups])


def step_metrics(cfg, stream: SrpoStream, step: int, groups: Sequence[Sequence[Verdict]]
                 ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(metrics, sample rows) of verl step `step`, right after its verdicts were fed to the stream."""
    recs = records(stream, groups)
    weights = stream.curriculum.weights(step)
    metrics = {"stage": float(stage_of(stream.curriculum, step)),
               **domain_metrics(recs, masks_truncated=False), **group_metrics(groups),
               **{f"sampler/{k}": v for k, v in stream.mixture.stats().items()},
               **rollout_metrics([r.text for r in recs], [r.domain for r in recs], [r.length for r in recs],
                                 cfg.analysis),
               **stream.curriculum.stats(), **{f"curriculum/weight_{d}": w for d, w in weights.items()},
               **stream.stats()}
    rows = sample_rows(step, int(metrics["stage"]), [r.uid for r in recs], [r.domain for r in recs],
                       [r.text for r in recs], [r.reward for r in recs], [r.correct for r in recs],
                       [r.length for r in recs])
    return metrics, rows

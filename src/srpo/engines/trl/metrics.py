"""One srpo step's metrics from its gathered records, under the native engine's names (flat ``domain/name``):
per-domain reward, pass rate, length and truncation; the zero-advantage split; sampler (HR) and curriculum
state; reflection and code-in-math analysis; and the rows offered to samples.jsonl."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from srpo.analysis import rollout_metrics, sample_rows
from srpo.analysis.groups import zero_advantage_split
from srpo.config import TrainConfig
from srpo.engines.trl.feedback import PromptStream, Record


def domain_metrics(records: Sequence[Record], masks_truncated: bool) -> dict[str, float]:
    """``<domain>/reward_mean, pass_rate, response_len_mean, truncated_frac, masked_responses, masked_tokens,
    length_penalty_mean, num_samples`` for each domain and ``all`` (as the native engine's step metrics)."""
    out: dict[str, float] = {}
    for domain in sorted({r.domain for r in records}) + ["all"]:
        rows = [r for r in records if domain in (r.domain, "all")]
        if not rows:
            continue
        n = len(rows)
        masked = [r for r in rows if masks_truncated and r.truncated]
        out[f"{domain}/reward_mean"] = sum(r.reward for r in rows) / n
        out[f"{domain}/pass_rate"] = sum(r.correct for r in rows) / n
        out[f"{domain}/response_len_mean"] = sum(r.length for r in rows) / n
        out[f"{domain}/truncated_frac"] = sum(r.truncated for r in rows) / n
        out[f"{domain}/masked_responses"] = float(len(masked))
        out[f"{domain}/masked_tokens"] = float(sum(r.length for r in masked))
        out[f"{domain}/length_penalty_mean"] = sum(r.penalty for r in rows) / n
        out[f"{domain}/num_samples"] = float(n)
    return out


def group_metrics(records: Sequence[Record], group_size: int) -> dict[str, float]:
    """The zero-advantage split (`srpo.analysis.groups`) over consecutive groups of `group_size` records."""
    return zero_advantage_split([[(r.reward, r.correct) for r in records[i:i + group_size]]
                                 for i in range(0, len(records), group_size)])


def stage_of(curriculum, step: int) -> int:
    """1-based stage the batch of `step` was drawn in (a switch at step s applies from s on)."""
    return 1 + sum(1 for sw in curriculum.switches if sw["step"] <= step)


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

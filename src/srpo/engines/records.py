"""One scored response as every engine's step metrics read it, and the per-domain figures computed from them.

Shared by the engines (the TRL engine builds `Record`s from its gathered reward calls, the verl engine from its
verdicts), so neither engine imports the other. Pure srpo: no torch, no engine runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Record:
    """One scored response, as every rank sees it after the gather."""

    uid: str
    domain: str
    correct: bool
    reward: float  # the shaped reward the engine's loss sees (components + overlong penalty)
    length: int  # response tokens, EOS included
    truncated: bool
    penalty: float
    text: str


def domain_metrics(records: Sequence[Record], masks_truncated: bool) -> dict[str, float]:
    """``<domain>/reward_mean, pass_rate, response_len_mean, truncated_frac, masked_responses, masked_tokens,
    length_penalty_mean, num_samples`` for each domain and ``all`` (as the native engine's step metrics).

    With n records of a domain: ``reward_mean = sum(reward) / n``, ``pass_rate = #correct / n``,
    ``truncated_frac = #truncated / n``; ``masked_*`` count the truncated records only when `masks_truncated`.
    """
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


def stage_of(curriculum, step: int) -> int:
    """1-based stage the batch of `step` was drawn in (a switch at step s applies from s on)."""
    return 1 + sum(1 for sw in curriculum.switches if sw["step"] <= step)

"""One scored response as every engine's step metrics read it, the one definition of a truncated response, and
the per-domain figures computed from them.

Shared by the engines (the native engine's rollouts, the TRL engine's gathered reward calls, the verl engine's
verdicts), so no engine imports another. Pure srpo: no torch at import, no engine runtime.

A response is *truncated* when it does not end with one of the model's EOS ids (`eos_id_set`: the tokenizer's
``eos_token_id`` together with the generation config's, each an int, a list or None): it ran out of its token
budget (``max_new_tokens``, or the context) before the model ended it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from srpo.analysis import rollout_metrics, sample_rows
from srpo.analysis.groups import zero_advantage_split


def eos_id_set(tokenizer: Any = None, generation_config: Any = None) -> list[int]:
    """The token ids that end a response, sorted: ``tokenizer.eos_token_id`` U ``generation_config.eos_token_id``.

    Either side may be missing or None, an int, or a list of ints (Llama 3 and Qwen chat models list several in
    their generation config). Example: tokenizer eos 2, generation config [2, 7] -> [2, 7].
    """
    ids: set[int] = set()
    for source in (tokenizer, generation_config):
        ids.update(_as_ids(getattr(source, "eos_token_id", None) if source is not None else None))
    return sorted(ids)


def _as_ids(value: int | Iterable[int] | None) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


def is_truncated(response_ids: Sequence[int], eos_ids: int | Iterable[int] | None) -> bool:
    """True when the response does not end with an EOS id: ``not ids or ids[-1] not in eos_ids``.

    `response_ids` are the response's own tokens (no padding), EOS included when generated; `eos_ids` one id or
    several (`eos_id_set`). An empty response is truncated (nothing ended it).
    """
    ends = set(_as_ids(eos_ids))
    return not response_ids or int(response_ids[-1]) not in ends


def overlong_penalties(lengths: Sequence[int], algorithm: Any, max_new_tokens: int) -> list[float]:
    """DAPO's soft overlong penalty of each response length when ``algorithm.truncation`` asks for it, else 0s.

    ``R_len(L) = -factor * clamp((L - (max_new_tokens - window)) / window, 0, 1)`` (`srpo.algo.soft_overlong_penalty`
    with ``window = algorithm.overlong_window``, ``factor = algorithm.overlong_penalty_factor``).
    """
    if not algorithm.penalizes_overlong or not lengths:
        return [0.0] * len(lengths)
    import torch

    from srpo.algo import soft_overlong_penalty

    pen = soft_overlong_penalty(torch.tensor(list(lengths)), max_len=max_new_tokens,
                                window=algorithm.overlong_window, factor=algorithm.overlong_penalty_factor)
    return [float(x) for x in pen]


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
    ``truncated_frac = #truncated / n`` (responses that ended without EOS); ``masked_responses`` /
    ``masked_tokens`` count the responses left out of the loss and their tokens: the truncated ones when
    `masks_truncated` (``algorithm.truncation`` has mask), else 0; ``length_penalty_mean = sum(penalty) / n``,
    the soft overlong penalty (0 unless ``algorithm.truncation`` has soft_penalty), already inside reward.
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


def group_metrics(groups: Sequence[Sequence[Record]]) -> dict[str, float]:
    """The zero-advantage split (`srpo.analysis.groups.zero_advantage_split`) of the step's GRPO groups, each the
    records of one served prompt (sizes may differ: verl may lose a session's response)."""
    return zero_advantage_split([[(r.reward, r.correct) for r in g] for g in groups])


def step_metrics(stage: int, records: Sequence[Record], groups: Sequence[Sequence[Record]], *,
                 masks_truncated: bool, analysis: Any, sampler_stats: Mapping[str, float], curriculum: Any,
                 weights: Mapping[str, float], counters: Mapping[str, float]) -> dict[str, float]:
    """One step's srpo metrics, the same names on every engine (flat ``domain/name`` keys), in this order:

    ``stage``; the per-domain figures (`domain_metrics`); ``groups/*``, the zero-advantage split of `groups`
    (`group_metrics`); ``sampler/<k>`` for the mixture's `sampler_stats`; the reflection and code-in-math
    analysis (`srpo.analysis.rollout_metrics` under `analysis`, an ``AnalysisConfig``); ``curriculum/*``
    (``curriculum.stats()`` and ``curriculum/weight_<d>`` for every domain it knows, 0 where `weights`, the
    weights the step was drawn with, leave it out); then `counters`, on every engine its prompt stream's
    (`srpo.sampling.stream.StepStream.stats`): ``sampler/rollouts_total`` (every response whose verdict reached
    the stream, the groups dynamic sampling discards included), ``sampler/lookahead_max`` and
    ``sampler/drawn_unrecorded_steps``. The engine adds what is its own (timing, update, dynamic sampling).
    """
    analysis_metrics = (rollout_metrics([r.text for r in records], [r.domain for r in records],
                                        [r.length for r in records], analysis) if records else {})
    return {"stage": float(stage), **domain_metrics(records, masks_truncated), **group_metrics(groups),
            **{f"sampler/{k}": v for k, v in sampler_stats.items()}, **analysis_metrics,
            **curriculum.stats(), **curriculum.weight_metrics(dict(weights)), **counters}


def sample_rows_of(step: int, stage: int, records: Sequence[Record]) -> list[dict[str, Any]]:
    """The rows offered to samples.jsonl for the step's records (`srpo.analysis.sample_rows`)."""
    return sample_rows(step, stage, [r.uid for r in records], [r.domain for r in records], [r.text for r in records],
                       [r.reward for r in records], [r.correct for r in records], [r.length for r in records])


def stage_of(curriculum, step: int) -> int:
    """1-based stage the batch of `step` was drawn in (a switch at step s applies from s on)."""
    return 1 + sum(1 for sw in curriculum.switches if sw["step"] <= step)

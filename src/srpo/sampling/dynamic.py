"""Dynamic sampling (the DAPO baseline): oversample, keep informative groups, refill up to a cap.

A group whose rollouts are all correct or all wrong has zero advantage under GRPO and gives no gradient.
DAPO generates extra prompts, drops such groups and generates again until the batch is full. Unlike the
verl recipe (which raises once ``num_gen_batches >= max_num_gen_batches``), hitting the cap here is normal:
the batch is whatever survived, possibly short or empty, and the stats say so.

How a step's batch is collected is a strategy of the sampler's registry entry (``cls.collection``, see
`batch_collection`): `SingleRound` for every sampler (one round of B prompts, every group kept) and
`DynamicRounds` for ``dynamic_sampling``. The loop calls it the same way whichever it is, each round's prompts
drawn into the step from srpo's prompt stream (`srpo.sampling.stream.StepStream`)::

    def rollout(prompts):                           # generate, score, record every group, kept or not
        batch = generate_and_score(prompts)
        for p, g in zip(prompts, split(batch)):
            stream.record(p.uid, g.corrects)        # history resampling; counts as rollouts
        return batch

    collection = batch_collection(cfg.sampling)    # SAMPLERS.get(cfg.sampling.name).collection(cfg.sampling)
    stream.begin_step()                            # the step's curriculum weights
    parts, stats = collection.collect(stream.draw_prompts, rollout, split, corrects, batch_groups=B)
    stream.observe(step, rewards of parts)         # the curriculum hears the groups trained on

`parts` are rollout batches (one for `SingleRound`) or groups (`DynamicRounds`), to be concatenated.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from srpo.core.problem import Problem
from srpo.sampling.config import SamplingConfig
from srpo.sampling.registry import SAMPLERS

G = TypeVar("G")
log = logging.getLogger("srpo.sampling")


def is_mixed(corrects: Sequence[bool]) -> bool:
    """True when a group's binary verdicts are not all equal (the group carries a learning signal).

    >>> is_mixed([True, False, True]), is_mixed([True, True]), is_mixed([])
    (True, False, False)
    """
    return len(set(map(bool, corrects))) > 1


def round_size(batch_groups: int, kept: int, oversample: float, refill: str) -> int:
    """Prompts to generate this round: ceil(oversample * B) ("fixed") or ceil(oversample * missing)."""
    base = batch_groups if refill == "fixed" else batch_groups - kept
    # round() first so 3 * 1.1 = 3.3000000000000003 does not become 4 through float noise
    return max(1, math.ceil(round(oversample * base, 9)))


def collect_dynamic_batch(
    next_prompts: Callable[[int], list[Problem]],
    rollout_groups: Callable[[list[Problem]], list[G]],
    is_informative: Callable[[G], bool],
    batch_groups: int,
    max_rounds: int,
    oversample: float,
    group_corrects: Callable[[G], Sequence[bool]] | None = None,
    refill: str = "fixed",
) -> tuple[list[G], dict[str, float]]:
    """Generate rounds of groups until `batch_groups` informative ones are kept or `max_rounds` are done.

    Returns at most `batch_groups` groups in generation order and float stats: ``rounds``,
    ``prompts_requested``, ``groups_generated``, ``groups_informative``, ``groups_kept``,
    ``groups_surplus`` (informative but beyond the batch), ``groups_filtered``, ``shortfall``
    (batch_groups - kept), ``cap_hit`` (1 when the rounds ran out short), ``exhausted`` (1 when
    `next_prompts` returned nothing), ``keep_rate`` (informative / generated), and with `group_corrects`
    also ``filtered_all_correct`` / ``filtered_all_wrong``. Never raises because few groups survive.
    """
    if batch_groups < 0 or max_rounds < 1 or not (oversample > 0) or refill not in ("fixed", "need"):
        raise ValueError(f"collect_dynamic_batch: need batch_groups >= 0, max_rounds >= 1, oversample > 0, "
                         f"refill in (fixed, need); got {batch_groups}, {max_rounds}, {oversample}, {refill!r}")
    kept: list[G] = []
    st = dict.fromkeys(("rounds", "prompts_requested", "groups_generated", "groups_informative",
                        "groups_filtered", "exhausted"), 0)
    if group_corrects is not None:
        st.update(filtered_all_correct=0, filtered_all_wrong=0)
    while len(kept) < batch_groups and st["rounds"] < max_rounds:
        k = round_size(batch_groups, len(kept), oversample, refill)
        prompts = next_prompts(k)
        st["rounds"] += 1
        st["prompts_requested"] += k
        if not prompts:
            st["exhausted"] = 1
            break
        for g in rollout_groups(prompts):
            st["groups_generated"] += 1
            if is_informative(g):
                st["groups_informative"] += 1
                kept.append(g)
                continue
            st["groups_filtered"] += 1
            if group_corrects is not None:
                _count_uniform(st, group_corrects(g))
    return _finish(kept, batch_groups, st)


def _count_uniform(st: dict[str, Any], corrects: Sequence[bool]) -> None:
    flags = [bool(c) for c in corrects]
    if flags and all(flags):
        st["filtered_all_correct"] += 1
    elif not any(flags):
        st["filtered_all_wrong"] += 1


def _finish(kept: list[G], batch_groups: int, st: dict[str, Any]) -> tuple[list[G], dict[str, float]]:
    surplus = max(0, len(kept) - batch_groups)
    kept = kept[:batch_groups]
    short = batch_groups - len(kept)
    out = {k: float(v) for k, v in st.items()}
    out.update(groups_kept=float(len(kept)), groups_surplus=float(surplus), shortfall=float(short),
               cap_hit=float(short > 0 and not st["exhausted"]),
               keep_rate=st["groups_informative"] / st["groups_generated"] if st["groups_generated"] else 0.0)
    if short > 0:
        log.warning("dynamic sampling: %d of %d groups after %d rounds (%d generated); training on what survived",
                    len(kept), batch_groups, st["rounds"], st["groups_generated"])
    return kept, out


class SingleRound:
    """Every sampler's batch but dynamic sampling's: draw B prompts once, keep every group; no stats."""

    def __init__(self, cfg: SamplingConfig):
        self.cfg = cfg

    def collect(self, next_prompts: Callable[[int], list[Problem]], rollout: Callable[[list[Problem]], Any],
                split: Callable[[Any], list[G]], group_corrects: Callable[[G], Sequence[bool]],
                batch_groups: int) -> tuple[list[Any], dict[str, float]]:
        """``[rollout(next_prompts(B))]`` and no stats (`split` and `group_corrects` are not needed)."""
        return [rollout(next_prompts(batch_groups))], {}


class DynamicRounds(SingleRound):
    """DAPO's dynamic sampling (`collect_dynamic_batch`) with the ``sampling.dynamic_*`` options: rounds of
    prompts until B groups with mixed verdicts (`is_mixed`) are kept; stats as ``dynamic/<name>``."""

    def collect(self, next_prompts, rollout, split, group_corrects, batch_groups):
        """The kept groups (each one of ``split(rollout(prompts))``) and ``dynamic/*`` stats."""
        cfg = self.cfg
        groups, stats = collect_dynamic_batch(
            next_prompts, lambda prompts: split(rollout(prompts)),
            is_informative=lambda g: is_mixed(group_corrects(g)), batch_groups=batch_groups,
            max_rounds=cfg.dynamic_max_rounds, oversample=cfg.dynamic_oversample,
            group_corrects=group_corrects, refill=cfg.dynamic_refill)
        return groups, {f"dynamic/{k}": float(v) for k, v in stats.items()}


def batch_collection(cfg: SamplingConfig) -> SingleRound:
    """The collection strategy of the sampler ``cfg.name`` names: ``SAMPLERS.get(cfg.name).collection(cfg)``
    (`SingleRound` unless the sampler class sets another)."""
    return getattr(SAMPLERS.get(cfg.name), "collection", SingleRound)(cfg)

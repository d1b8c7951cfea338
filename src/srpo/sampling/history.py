"""History resampling (SRPO): prompts whose rollouts were (nearly) all correct leave the pool.

During an epoch every rollout's correctness is tallied per prompt uid. At the epoch boundary (decided
lazily, see `srpo.sampling.base`):

1. re-admission: each prompt dropped at an *earlier* boundary returns with probability
   ``hr_readmit_prob`` (one uniform draw per dropped prompt, oldest drop first, RNG seeded by
   ``(seed, epoch)``);
2. drops: an active prompt with epoch pass rate ``n_correct / n_rollouts >= hr_drop_threshold`` leaves.
   Mixed and all-wrong prompts stay, and so do prompts with no rollouts recorded in the epoch;
3. pool dry: the active set may not shrink below the floor ``F = max(1, hr_min_active, largest batch
   requested)``. When the drops would take it below F (``A - C < F`` for A active prompts and C
   candidates), ``floor_hits`` counts the boundary, a warning is logged (once per run of consecutive dry
   boundaries) and ``hr_on_exhausted`` decides:

   - ``floor``: only the ``A - F`` easiest candidates leave (highest pass rate first, ties broken by the
     seeded RNG); the others stay, so the active set sits at F and training repeats those prompts;
   - ``readmit``: nothing is dropped and every dropped prompt comes back (counted in
     ``readmitted_total``): the next epoch is a fresh pass over the whole pool, and prompts still solved
     leave again at its end;
   - ``stop``: as ``floor`` for the batch being drawn, then `exhausted` is True and the engine ends
     training after the current step.

Removals accumulate across epochs. Epoch length follows ``hr_epoch_mode`` (see `SamplingConfig`).
"""

from __future__ import annotations

import logging

import numpy as np

from srpo.sampling.base import STREAM_FLOOR, STREAM_READMIT, seeded_rng
from srpo.sampling.epochs import EpochSampler
from srpo.sampling.registry import SAMPLERS

log = logging.getLogger("srpo.sampling")


def drop_candidates(active: list[str], tallies: dict[str, list[int]], threshold: float) -> list[str]:
    """Active uids with ``t > 0`` rollouts and pass rate ``c / t >= threshold`` for their tally ``[c, t]``."""
    return [u for u in active if u in tallies and tallies[u][1] > 0 and tallies[u][0] / tallies[u][1] >= threshold]


def select_drops(active: list[str], tallies: dict[str, list[int]], threshold: float, floor: int,
                 rng: np.random.Generator) -> tuple[list[str], bool]:
    """Active uids to drop, and whether the floor held some back.

    A candidate has ``t > 0`` rollouts and ``c / t >= threshold`` for its tally ``[c, t]``. At most
    ``len(active) - floor`` candidates are dropped; when that binds, the ones with the highest pass rate go
    first (ties in a random order from `rng`). The result keeps the order of `active`.

    >>> select_drops(["a", "b", "c"], {"a": [4, 4], "b": [1, 4], "c": [0, 4]}, 1.0, 1, np.random.default_rng(0))
    (['a'], False)
    """
    cands = drop_candidates(active, tallies, threshold)
    room = max(0, len(active) - floor)
    if len(cands) <= room:
        return cands, False
    keys = rng.random(len(cands))
    rate = [tallies[u][0] / tallies[u][1] for u in cands]
    ranked = sorted(range(len(cands)), key=lambda i: (-rate[i], keys[i]))
    chosen = {cands[i] for i in ranked[:room]}
    return [u for u in cands if u in chosen], True


@SAMPLERS.register("history_resampling")
class HistoryResamplingSampler(EpochSampler):
    """SRPO's history resampling over shuffled epochs; see the module docstring for the boundary rule."""

    kind = "history_resampling"

    def _fills_fixed_size(self) -> bool:
        return self.cfg.hr_epoch_mode == "fixed_size"

    def _select_drops(self, tallies: dict[str, list[int]], epoch: int) -> tuple[list[str], bool]:
        rng = seeded_rng(self._seed, STREAM_FLOOR, epoch)
        return select_drops(self._active, tallies, self.cfg.hr_drop_threshold, self._floor(), rng)

    def _select_readmits(self, epoch: int) -> list[str]:
        p = self.cfg.hr_readmit_prob
        if p <= 0.0 or not self._dropped:
            return []
        draws = seeded_rng(self._seed, STREAM_READMIT, epoch).random(len(self._dropped))
        return [uid for (uid, _), x in zip(self._dropped, draws) if x < p]

    def _on_pool_dry(self, tallies: dict[str, list[int]], epoch: int,
                     drops: list[str]) -> tuple[list[str], list[str]]:
        mode = self.cfg.hr_on_exhausted
        wanted = len(drop_candidates(self._active, tallies, self.cfg.hr_drop_threshold))
        if mode == "readmit":
            refill, drops = [d[0] for d in self._dropped], []
            action = f"readmitting all {len(refill)} dropped prompts for a fresh pass over the pool"
        elif mode == "stop":
            self._exhausted = True
            refill, action = [], "training ends after this step"
        else:
            refill, action = [], f"only the {len(drops)} easiest leave; the active set stays at the floor"
        if refill or mode == "stop" or not self._last.get("epoch_floor_hit"):  # else once per run of dry epochs
            log.warning("history resampling: pool dry at the end of epoch %d: %d of %d active prompts reached "
                        "pass rate >= %g, dropping them would leave %d < floor %d; sampling.hr_on_exhausted=%s: "
                        "%s", epoch, wanted, len(self._active), self.cfg.hr_drop_threshold,
                        len(self._active) - wanted, self._floor(), mode, action)
        return drops, refill

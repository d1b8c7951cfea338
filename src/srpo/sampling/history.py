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

Patience for the unsolvable (``hr_wrong_patience = p > 0``; off by default, SRPO keeps all-wrong prompts):
each prompt carries a streak, the number of consecutive decided epochs in which it was served and every
rollout was wrong (an epoch with a correct rollout resets it, an epoch it was not served in leaves it). At a
boundary, after the drops above, active prompts with streak >= p are *set aside*, as many as the floor
leaves room for (longest streak first, then uid). A set-aside prompt comes back after ``hr_wrong_return = q``
epochs (q > 0) with its streak reset, or when the pool runs dry: with ``hr_on_exhausted=readmit`` as every
dropped prompt does; with ``floor`` / ``stop`` all set-aside prompts come back at the dry boundary, before
the pool shrinks to the floor. Set-aside prompts are not re-admitted by ``hr_readmit_prob`` (that is for
solved prompts).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from srpo.sampling.base import STREAM_FLOOR, STREAM_READMIT, seeded_rng
from srpo.core.problem import Problem
from srpo.sampling.config import SamplingConfig
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


def update_streaks(streaks: dict[str, int], tallies: dict[str, list[int]]) -> dict[str, int]:
    """All-wrong streaks after one epoch: +1 for a served prompt with no correct rollout, reset to 0 for a
    served prompt with one, unchanged for a prompt not served. Zero streaks are left out.

    >>> update_streaks({"a": 2, "b": 1}, {"a": [0, 4], "b": [1, 4], "c": [0, 4]})
    {'a': 3, 'c': 1}
    """
    out = dict(streaks)
    for uid, (correct, total) in tallies.items():
        if total > 0:
            out[uid] = out.get(uid, 0) + 1 if correct == 0 else 0
    return {u: n for u, n in out.items() if n > 0}


@SAMPLERS.register("history_resampling")
class HistoryResamplingSampler(EpochSampler):
    """SRPO's history resampling over shuffled epochs; see the module docstring for the boundary rule."""

    kind = "history_resampling"

    def __init__(self, problems: Sequence[Problem], seed: int, cfg: SamplingConfig | None = None) -> None:
        super().__init__(problems, seed, cfg)
        self._streaks: dict[str, int] = {}  # uid -> consecutive all-wrong epochs (patience)
        self._aside: dict[str, int] = {}  # set-aside uid -> the epoch it was set aside at
        self._aside_now: list[str] = []  # set aside by the boundary being decided
        self._aside_totals = {"set_aside_total": 0, "returned_total": 0}

    def _fills_fixed_size(self) -> bool:
        return self.cfg.hr_epoch_mode == "fixed_size"

    def _select_drops(self, tallies: dict[str, list[int]], epoch: int) -> tuple[list[str], bool]:
        rng = seeded_rng(self._seed, STREAM_FLOOR, epoch)
        drops, floor_hit = select_drops(self._active, tallies, self.cfg.hr_drop_threshold, self._floor(), rng)
        self._aside_now = self._select_aside(tallies, drops) if self.cfg.hr_wrong_patience > 0 else []
        return drops + self._aside_now, floor_hit

    def _select_aside(self, tallies: dict[str, list[int]], drops: list[str]) -> list[str]:
        """Active prompts whose all-wrong streak reached the patience, as many as the floor leaves room for."""
        self._streaks = update_streaks(self._streaks, tallies)
        leaving = set(drops)
        cands = [u for u in self._active if u not in leaving and self._streaks.get(u, 0) >= self.cfg.hr_wrong_patience]
        room = max(0, len(self._active) - len(drops) - self._floor())
        cands.sort(key=lambda u: (-self._streaks[u], u))
        chosen = set(cands[:room])
        return [u for u in self._active if u in chosen]

    def _select_readmits(self, epoch: int) -> list[str]:
        back = self._returning(epoch)
        for uid in back:  # a returning prompt starts a fresh streak, so this boundary cannot set it aside again
            self._streaks.pop(uid, None)
        p = self.cfg.hr_readmit_prob
        if p <= 0.0 or not self._dropped:
            return back
        draws = seeded_rng(self._seed, STREAM_READMIT, epoch).random(len(self._dropped))
        return back + [uid for (uid, _), x in zip(self._dropped, draws) if x < p and uid not in self._aside]

    def _returning(self, epoch: int) -> list[str]:
        """Set-aside prompts whose ``hr_wrong_return`` epochs are over at the end of `epoch`."""
        q = self.cfg.hr_wrong_return
        return [u for u, at in self._aside.items() if q > 0 and epoch - at >= q]

    def _on_pool_dry(self, tallies: dict[str, list[int]], epoch: int,
                     drops: list[str]) -> tuple[list[str], list[str]]:
        mode = self.cfg.hr_on_exhausted
        wanted = len(drop_candidates(self._active, tallies, self.cfg.hr_drop_threshold))
        aside = list(self._aside)
        if mode == "readmit":
            refill, drops = [d[0] for d in self._dropped], []
            action = f"readmitting all {len(refill)} dropped prompts for a fresh pass over the pool"
        elif mode == "stop":
            self._exhausted = True
            refill, action = aside, "training ends after this step"
        else:
            refill, action = aside, f"only the {len(drops)} easiest leave; the active set stays at the floor"
        if refill or mode == "stop" or not self._last.get("epoch_floor_hit"):  # else once per run of dry epochs
            log.warning("history resampling: pool dry at the end of epoch %d: %d of %d active prompts reached "
                        "pass rate >= %g, dropping them would leave %d < floor %d; sampling.hr_on_exhausted=%s: "
                        "%s", epoch, wanted, len(self._active), self.cfg.hr_drop_threshold,
                        len(self._active) - wanted, self._floor(), mode, action)
        return drops, refill

    def _decide(self, epoch: int) -> bool:
        """EpochSampler's boundary, then the set-aside bookkeeping: which prompts are out for patience."""
        changed = super()._decide(epoch)
        out = {d[0] for d in self._dropped}
        returned = [u for u in self._aside if u not in out]
        for uid in returned:
            del self._aside[uid]
            self._streaks.pop(uid, None)
        new = [u for u in self._aside_now if u in out and u not in self._aside]
        self._aside.update(dict.fromkeys(new, epoch))
        self._aside_now = []
        self._aside_totals["set_aside_total"] += len(new)
        self._aside_totals["returned_total"] += len(returned)
        return changed

    @property
    def set_aside_uids(self) -> list[str]:
        """Uids set aside for patience (all wrong for ``hr_wrong_patience`` epochs), in canonical order."""
        return sorted(self._aside)

    def stats(self) -> dict[str, float]:
        """EpochSampler's stats plus ``set_aside`` (prompts out for patience now; they also count in the
        dropped totals) and the cumulative ``set_aside_total, returned_total``."""
        out = super().stats()
        out["set_aside"] = float(len(self._aside))
        out.update({k: float(v) for k, v in self._aside_totals.items()})
        return out

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["patience"] = {"streaks": dict(self._streaks), "aside": dict(self._aside),
                             "totals": dict(self._aside_totals)}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        patience = state.get("patience", {"streaks": {}, "aside": {}, "totals": {}})
        self._streaks = {str(u): int(n) for u, n in patience["streaks"].items()}
        self._aside = {str(u): int(e) for u, e in patience["aside"].items()}
        self._aside_totals = {k: int(patience["totals"].get(k, 0)) for k in self._aside_totals}

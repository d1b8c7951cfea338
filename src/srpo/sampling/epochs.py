"""Epoch machinery shared by the uniform and history-resampling samplers.

The stream, the lazy boundary decision and the attribution of feedback to epochs are described (with a
worked example) in `srpo.sampling.base`. Subclasses only say which prompts leave (`_select_drops`) and
which come back (`_select_readmits`) at a boundary, and how long an epoch is (`_fills_fixed_size`).

Feedback attribution: every served prompt leaves a pending "serve" tagged with its epoch; `record(uid, .)`
consumes the oldest pending serve of that uid, so feedback for the tail of epoch k that arrives after epoch
k+1 has begun still counts for epoch k. A record with no pending serve (e.g. recorded twice) counts for the
current epoch and in ``unmatched_records``.

When an epoch closes (lookahead): a fully served epoch is decided at the start of the first `next_batch`
call at which none of its serves is pending. Engines that draw ahead (TRL/accelerate, verl's async modes
draw batch k+1, k+2 before batch k is scored) declare it with `set_lookahead(L)`: "records of the batch
drawn by call c arrive before call c + 1 + L". At that deadline an epoch is decided even with serves still
pending, which are then forgotten (``forgotten_serves``; such a prompt counts as unseen in that epoch, and
unseen prompts stay); with the contract kept this never happens. L = 0 (the default) is the synchronous
loop: decide at the next call. Until an epoch is decided, the next epoch's draws are provisional (from the
active set as it was); the decision redraws the unserved rest of the current epoch.

Worked example: six prompts, batches of 4, an engine that records batch k only after drawing batch k+1
(lookahead 1); ``a`` is always solved, the others half:

>>> from srpo.core.problem import Problem
>>> from srpo.sampling import HistoryResamplingSampler
>>> h = HistoryResamplingSampler([Problem(uid=u, domain="math", prompt=u) for u in "fedcba"], seed=0)
>>> h.set_lookahead(1)
>>> unrecorded = []
>>> for k in range(4):
...     batch = [p.uid for p in h.next_batch(4)]
...     print(k, batch, h.epoch, "".join(h.active_uids), int(h.stats()["undecided_epochs"]))
...     unrecorded.append(batch)
...     if len(unrecorded) > 1:  # batch k-1 is scored now, after batch k was drawn
...         for uid in unrecorded.pop(0):
...             h.record(uid, [True, True] if uid == "a" else [True, False])
0 ['b', 'e', 'd', 'a'] 0 abcdef 0
1 ['c', 'f', 'a', 'f'] 1 abcdef 1
2 ['e', 'b', 'd', 'c'] 1 abcdef 1
3 ['b', 'c', 'e', 'f'] 2 bcdef 1
>>> h.stats()["forgotten_serves"], h.stats()["unmatched_records"]
(0.0, 0.0)

Epoch 0 (``b e d a c f``) ends inside batch 1. At batch 2 the records of ``c`` and ``f`` (batch 1) are not
in, so epoch 0 stays open and epoch 1 (``a f e b d c``) is served provisionally. At batch 3 they are in:
epoch 0 closes with all six records and drops ``a``; epoch 2 is drawn without it. ``a`` was served once
after its epoch, in the batch that crossed the boundary. Without ``set_lookahead(1)`` the same engine
would close epoch 0 at batch 2 with two records missing (counted in ``forgotten_serves``) and attribute
them to the wrong epoch later (``unmatched_records``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from srpo.core.problem import Problem
from srpo.sampling.base import (
    STREAM_ORDER,
    STREAM_REFILL,
    STREAM_RETIRE,
    PromptSampler,
    as_bools,
    check_n,
    check_state,
    fingerprint,
    seeded_rng,
)
from srpo.sampling.config import SamplingConfig

STATE_VERSION = 2
_TOTALS = ("dropped_total", "readmitted_total", "floor_hits", "unmatched_records", "served_total",
           "epochs_completed", "forgotten_serves", "retired_total")


def epoch_summary(tallies: dict[str, list[int]]) -> dict[str, float]:
    """Outcome mix of one epoch from per-uid ``[n_correct, n_rollouts]`` tallies (prompts with rollouts)."""
    seen = [(c, t) for c, t in tallies.values() if t > 0]
    n = len(seen)
    rollouts = sum(t for _, t in seen)
    return {
        "epoch_prompts_seen": float(n),
        "epoch_pass_rate": sum(c for c, _ in seen) / rollouts if rollouts else 0.0,
        "epoch_frac_all_correct": sum(c == t for c, t in seen) / n if n else 0.0,
        "epoch_frac_all_wrong": sum(c == 0 for c, _ in seen) / n if n else 0.0,
        "epoch_frac_mixed": sum(0 < c < t for c, t in seen) / n if n else 0.0,
    }


class EpochSampler(PromptSampler):
    """Shuffled epochs over an active set that subclasses may shrink and grow at epoch boundaries."""

    kind = "epoch"

    def __init__(self, problems: Sequence[Problem], seed: int, cfg: SamplingConfig | None = None) -> None:
        super().__init__(problems, seed, cfg)
        self._dropped: list[list[Any]] = []  # [uid, epoch it was dropped at], oldest first
        self._retired: list[str] = []  # out for good (stage-start filtering), in the order retired
        self._active: list[str] = list(self._uids)  # canonical order
        self._epoch = 0
        self._pos = 0
        # [epoch, call of its last serve] for epochs fully served whose boundary decision is still due
        self._undecided: list[list[int]] = []
        self._provisional = False  # current order was drawn before the previous boundary was decided
        self._calls = 0  # non-empty next_batch calls so far (the deadlines count in these)
        self._last_call = -1  # the call that made the current epoch's latest serve
        self._lookahead = 0  # batches the engine draws beyond the last one whose records are in
        self._serves: dict[str, list[int]] = {}  # uid -> epochs of its pending (unrecorded) serves
        self._tallies: dict[int, dict[str, list[int]]] = {}  # epoch -> uid -> [n_correct, n_rollouts]
        self._max_batch = 0
        self._totals = dict.fromkeys(_TOTALS, 0)
        self._last: dict[str, float] = {}
        self._exhausted = False  # set by a subclass that wants training to end (see `exhausted`)
        self._order = self._draw_order(STREAM_ORDER, [])

    # ---- hooks -------------------------------------------------------------------------------------
    def _fills_fixed_size(self) -> bool:
        """True: an epoch is `dataset_size` prompts (cycling the active set); False: one active pass."""
        return False

    def _select_drops(self, tallies: dict[str, list[int]], epoch: int) -> tuple[list[str], bool]:
        """Active uids leaving at the end of `epoch`, and whether the floor held some back."""
        return [], False

    def _select_readmits(self, epoch: int) -> list[str]:
        """Dropped uids coming back at the end of `epoch`."""
        return []

    def _on_pool_dry(self, tallies: dict[str, list[int]], epoch: int,
                     drops: list[str]) -> tuple[list[str], list[str]]:
        """The floor held back drops at the end of `epoch`: returns (drops to apply, dropped uids to bring back)."""
        return drops, []

    # ---- the stream --------------------------------------------------------------------------------
    def set_lookahead(self, batches: int) -> None:
        """Declare that records of call c's batch arrive before call c + 1 + `batches` (0: synchronous)."""
        if isinstance(batches, bool) or not isinstance(batches, int) or batches < 0:
            raise ValueError(f"set_lookahead: must be a non-negative int, got {batches!r}")
        self._lookahead = batches

    def next_batch(self, n: int) -> list[Problem]:
        n = check_n(n)
        if n == 0:
            return []
        self._max_batch = max(self._max_batch, n)
        call = self._calls
        self._calls += 1
        self._settle(call)
        out: list[Problem] = []
        while len(out) < n:
            if self._pos >= len(self._order):
                self._advance_epoch(call)
            take = min(n - len(out), len(self._order) - self._pos)
            for uid in self._order[self._pos:self._pos + take]:
                self._serves.setdefault(uid, []).append(self._epoch)
                out.append(self._by_uid[uid])
            self._pos += take
            self._last_call = call
        self._totals["served_total"] += n
        return out

    def _advance_epoch(self, call: int) -> None:
        """The current epoch is fully served: queue its decision, take what is ready, start the next epoch."""
        self._undecided.append([self._epoch, self._last_call])
        self._decide_ready(call)
        self._epoch += 1
        self._pos = 0
        self._order = self._draw_order(STREAM_ORDER, [])
        self._provisional = bool(self._undecided)

    def _decide_ready(self, call: int) -> bool:
        """Decide, oldest first, the queued epochs whose records are all in (or whose deadline has come)."""
        changed = False
        while self._undecided:
            epoch, last_call = self._undecided[0]
            if self._pending(epoch) and call < last_call + 1 + self._lookahead:
                break
            changed |= self._decide(epoch)
            self._undecided.pop(0)
        return changed

    def _pending(self, epoch: int) -> int:
        return sum(es.count(epoch) for es in self._serves.values())

    def _settle(self, call: int) -> None:
        """Apply the boundary decisions now ready; redraw the unserved rest of a provisional epoch."""
        if not self._undecided:
            return
        if self._decide_ready(call) and self._provisional:
            self._order = self._draw_order(STREAM_REFILL, self._order[:self._pos])
        self._provisional = bool(self._undecided)

    def _draw_order(self, stream: int, prefix: list[str]) -> list[str]:
        """`prefix` (already served this epoch) + a fresh shuffle of the rest of the epoch."""
        rng = seeded_rng(self._seed, stream, self._epoch)
        if self._fills_fixed_size():
            rest: list[str] = []
            while len(prefix) + len(rest) < self.dataset_size:
                rest.extend(self._active[i] for i in rng.permutation(len(self._active)))
            return prefix + rest[:self.dataset_size - len(prefix)]
        served = set(prefix)
        pool = [u for u in self._active if u not in served]
        return prefix + [pool[i] for i in rng.permutation(len(pool))]

    # ---- boundary decision -------------------------------------------------------------------------
    def _decide(self, epoch: int) -> bool:
        """Close `epoch`: readmit, then drop; returns whether the active set changed."""
        tallies = self._tallies.pop(epoch, {})
        self._totals["forgotten_serves"] += self._pending(epoch)
        self._forget_serves(epoch)
        readmitted = self._select_readmits(epoch)
        if readmitted:
            back = set(readmitted)
            self._dropped = [d for d in self._dropped if d[0] not in back]
            self._set_active()
        drops, floor_hit = self._select_drops(tallies, epoch)
        if floor_hit:
            drops, refill = self._on_pool_dry(tallies, epoch, drops)
            if refill:
                back = set(refill)
                self._dropped = [d for d in self._dropped if d[0] not in back]
                self._set_active()
                readmitted = readmitted + refill
        self._dropped.extend([uid, epoch] for uid in drops)
        if drops:
            self._set_active()
        self._totals["dropped_total"] += len(drops)
        self._totals["readmitted_total"] += len(readmitted)
        self._totals["floor_hits"] += int(floor_hit)
        self._totals["epochs_completed"] += 1
        self._last = {**epoch_summary(tallies), "epoch_dropped": float(len(drops)),
                      "epoch_readmitted": float(len(readmitted)), "epoch_floor_hit": float(floor_hit)}
        return bool(drops or readmitted)

    def _set_active(self) -> None:
        gone = {d[0] for d in self._dropped} | set(self._retired)
        self._active = [u for u in self._uids if u not in gone]

    def retire(self, uids: Sequence[str]) -> int:
        """Take active `uids` out for good (at most down to the floor, in canonical order) and redraw the
        unserved rest of the current epoch from what is left (RNG ``(seed, STREAM_RETIRE, epoch)``)."""
        wanted = set(uids)
        cands = [u for u in self._active if u in wanted]
        chosen = cands[:max(0, len(self._active) - self._floor())]
        if not chosen:
            return 0
        self._retired.extend(chosen)
        self._set_active()
        self._order = self._draw_order(STREAM_RETIRE, self._order[:self._pos])
        self._totals["retired_total"] += len(chosen)
        return len(chosen)

    def _forget_serves(self, epoch: int) -> None:
        for uid in list(self._serves):
            left = [e for e in self._serves[uid] if e != epoch]
            if left:
                self._serves[uid] = left
            else:
                del self._serves[uid]

    def _floor(self) -> int:
        return max(1, self.cfg.hr_min_active, self._max_batch)

    # ---- feedback ----------------------------------------------------------------------------------
    def record(self, uid: str, corrects: Sequence[bool]) -> None:
        if uid not in self._by_uid:
            raise KeyError(f"record: unknown uid {uid!r} (not among this sampler's {self.dataset_size} problems)")
        flags = as_bools(uid, corrects)
        pending = self._serves.get(uid)
        if pending:
            epoch = pending.pop(0)
            if not pending:
                del self._serves[uid]
        else:
            epoch = self._epoch
            self._totals["unmatched_records"] += 1
        tally = self._tallies.setdefault(epoch, {}).setdefault(uid, [0, 0])
        tally[0] += sum(flags)
        tally[1] += len(flags)

    # ---- introspection -----------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def active_size(self) -> int:
        return len(self._active)

    @property
    def active_uids(self) -> list[str]:
        """Uids currently drawn from, in canonical (sorted) order."""
        return list(self._active)

    @property
    def retired_uids(self) -> list[str]:
        """Uids retired for good (stage-start filtering), in the order retired."""
        return list(self._retired)

    @property
    def dropped_uids(self) -> list[str]:
        """Uids currently dropped, oldest drop first."""
        return [d[0] for d in self._dropped]

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def stats(self) -> dict[str, float]:
        """``dataset_size, active_size, epoch, epoch_progress`` (fraction of the current epoch served),
        the cumulative ``dropped_total, readmitted_total`` (so dropped now = their difference),
        ``floor_hits, unmatched_records, served_total, epochs_completed, forgotten_serves`` (serves still
        unrecorded when their epoch's deadline came: 0 when the engine keeps its lookahead contract), the
        current ``pending_serves`` (served, not yet recorded) and ``undecided_epochs``, and, once an epoch has been
        decided, that epoch's ``epoch_pass_rate, epoch_frac_all_correct, epoch_frac_all_wrong,
        epoch_frac_mixed, epoch_prompts_seen, epoch_dropped, epoch_readmitted, epoch_floor_hit``."""
        out = {"dataset_size": float(self.dataset_size), "active_size": float(self.active_size),
               "epoch": float(self._epoch), "epoch_progress": self._pos / max(1, len(self._order)),
               "pending_serves": float(sum(len(es) for es in self._serves.values())),
               "undecided_epochs": float(len(self._undecided)), "exhausted": float(self._exhausted)}
        out.update({k: float(v) for k, v in self._totals.items()})
        out.update(self._last)
        return out

    # ---- checkpointing -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "version": STATE_VERSION, "seed": self._seed,
            "fingerprint": fingerprint(self._uids), "dataset_size": self.dataset_size,
            "epoch": self._epoch, "pos": self._pos, "order": list(self._order),
            "dropped": [list(d) for d in self._dropped], "retired": list(self._retired),
            "undecided": [list(u) for u in self._undecided],
            "provisional": self._provisional, "calls": self._calls, "last_call": self._last_call,
            "serves": {u: list(es) for u, es in self._serves.items()},
            "tallies": [[e, {u: list(t) for u, t in tal.items()}] for e, tal in sorted(self._tallies.items())],
            "max_batch": self._max_batch, "totals": dict(self._totals), "last": dict(self._last),
            "exhausted": self._exhausted,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(state, self.kind, STATE_VERSION, self._uids)
        unknown = [u for u in state["order"] if u not in self._by_uid]
        if unknown:
            raise ValueError(f"sampler state: order names unknown uid {unknown[0]!r}")
        self._seed = int(state["seed"])
        self._epoch, self._pos = int(state["epoch"]), int(state["pos"])
        self._order = list(state["order"])
        self._dropped = [[str(u), int(e)] for u, e in state["dropped"]]
        self._retired = [str(u) for u in state.get("retired", [])]
        self._set_active()
        self._undecided = [[int(e), int(c)] for e, c in state["undecided"]]
        self._calls, self._last_call = int(state.get("calls", 0)), int(state.get("last_call", -1))
        self._provisional = bool(state["provisional"])
        self._serves = {u: [int(e) for e in es] for u, es in state["serves"].items()}
        self._tallies = {int(e): {u: [int(c), int(t)] for u, (c, t) in tal.items()} for e, tal in state["tallies"]}
        self._max_batch = int(state["max_batch"])
        self._totals = {k: int(state["totals"].get(k, 0)) for k in _TOTALS}
        self._last = {k: float(v) for k, v in state["last"].items()}
        self._exhausted = bool(state.get("exhausted", False))

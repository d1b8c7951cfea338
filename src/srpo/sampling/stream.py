"""srpo's prompt stream, for any engine that draws a step's prompts before the previous steps are scored.

Step s (counted from 1) is P = ``prompts_per_step`` prompts drawn from the `DomainMixture` with the
curriculum's weights of step s: ``mixture.next_batch(P, curriculum.weights(s))`` (`draw_step`). An engine whose
step takes prompts in several rounds (dynamic sampling, `srpo.sampling.dynamic`) opens the step (`begin_step`:
its weights, no prompts yet) and draws each round's n prompts into it (`draw_prompts(n)`: ``next_batch(n, the
step's weights)``); `draw_step` is ``begin_step`` then ``draw_prompts(P)``. The stream keeps every drawn step as
*pending* (``{"step", "uids", "weights"}``, uids in draw order over all rounds) until the engine has fed its
verdicts back:

* ``record(uid, corrects)`` once per served prompt, kept or discarded: ``mixture.record`` (history
  resampling's history); its responses count as rollouts (``rollouts_total``, the ``sampler/rollouts_total``
  metric and what ``run.max_rollouts`` reads: every generated and scored response, also those of groups that
  dynamic sampling discards);
* ``observe(step, rewards)`` once per step, with the shaped rewards of the responses the engine trains on:
  ``curriculum.observe(step, sum(rewards) / len(rewards), drawn_through=D)`` (a Python float mean, the same
  as the step's ``all/reward_mean``), where D is the last step drawn, so a plateau switch takes effect at the
  first step not yet drawn.

Lookahead L: an engine may draw L steps beyond the last one it has scored (accelerate: 1, verl async: its
staleness). The mixture is told L (``set_lookahead``), so history resampling closes an epoch only once every
prompt served in it is recorded. Before drawing step s the stream calls ``_make_room(s)``: by default more
than L pending steps is an error; an engine whose lost groups never come back overrides it (verl expires
them). ``lookahead_seen`` is the most pending steps at any draw (the ``sampler/lookahead_max`` metric).

Worked example, P = 2, L = 1 (a TRL-like engine scores step s after drawing s + 1)::

    draw()      -> step 1 {uids [a, b]}   pending {1}      lookahead_seen 0
    draw()      -> step 2 {uids [c, a]}   pending {1, 2}   lookahead_seen 1
    record a, b; observe(1, ...); pop 1   pending {2}
    draw()      -> step 3                 pending {2, 3}   (a third pending step would be an error)

`state_dict` is plain JSON (mixture, curriculum, pending steps, counters, the engine adapter's own fields);
``state_hash`` digests it, for the cross-rank equality check. Engine adapters subclass `StepStream`:
``srpo.engines.native.trainer.NativeStream`` (lookahead 0), ``srpo.engines.trl.feedback.PromptStream`` and
``srpo.engines.verl.stream.SrpoStream``. Nothing here imports an engine or the curriculum module (same layer):
the curriculum is any object with `CurriculumLike`'s methods.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from typing import Any, Protocol

from srpo.core.problem import Problem
from srpo.sampling.mixture import DomainMixture

STATE_VERSION = 2  # 1 was the TRL and verl engines' own streams before this one, never in a release


class CurriculumLike(Protocol):
    """What the stream needs of `srpo.curriculum.Curriculum`."""

    def weights(self, step: int) -> dict[str, float]: ...

    def stage_at(self, step: int) -> int: ...

    @property
    def filters_solved_at_stage_start(self) -> bool: ...

    def observe(self, step: int, reward_mean: float, drawn_through: int | None = None) -> bool: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class StepStream:
    """Draws srpo steps and takes their verdicts back, engine-agnostic (see the module docstring)."""

    engine = "srpo stream"  # names the engine in errors and in the state
    lookahead_field = "lookahead"  # the config field that sets the bound, for the error past it
    lookahead_hint = "raise the bound"

    def __init__(self, mixture: DomainMixture, curriculum: CurriculumLike, problems: Sequence[Problem],
                 prompts_per_step: int, total_steps: int, lookahead: int):
        """`problems` (the training set) index the uids `record` and the adapters look up (``by_uid``)."""
        if prompts_per_step < 1:
            raise ValueError(f"{self.engine}: prompts_per_step must be >= 1, got {prompts_per_step}")
        if lookahead < 0:
            raise ValueError(f"{self.engine}: {self.lookahead_field} must be >= 0, got {lookahead}")
        self.mixture, self.curriculum = mixture, curriculum
        self.by_uid = {p.uid: p for p in problems}
        self.prompts_per_step, self.total_steps, self.lookahead = prompts_per_step, total_steps, lookahead
        mixture.set_lookahead(lookahead)
        self.pending: dict[int, dict[str, Any]] = {}  # step -> entry: drawn, verdicts not all in; step order
        self.drawn_through = 0  # last step drawn
        self.rollouts_total = 0  # responses whose verdicts came back through `record`
        self.lookahead_seen = 0  # most pending steps at any draw
        self.stage_tally: dict[str, list[int]] = {}  # uid -> [correct, rollouts] recorded in the current stage
        self.stage_drawn = 0  # stage of the last step drawn
        self.stage_retired_total = 0  # prompts retired by stage-start filtering

    # ---- drawing -----------------------------------------------------------------------------------
    def draw_step(self) -> dict[str, Any]:
        """Draw step ``drawn_through + 1``, P prompts; returns its pending entry ``{"step", "uids", "weights"}``."""
        entry = self.begin_step()
        self.draw_prompts(self.prompts_per_step)
        return entry

    def begin_step(self) -> dict[str, Any]:
        """Open step ``drawn_through + 1`` with the curriculum's weights of that step and no prompts yet
        (`draw_prompts` fills it); returns its pending entry. Refused past the lookahead (`_make_room`)."""
        step = self.drawn_through + 1
        self._make_room(step)
        self.lookahead_seen = max(self.lookahead_seen, len(self.pending))
        self._enter_stage(self.curriculum.stage_at(step))
        entry = {"step": step, "uids": [], "weights": self.curriculum.weights(step)}
        self.pending[step] = entry
        self.drawn_through = step
        return entry

    def draw_prompts(self, n: int) -> list[Problem]:
        """n more prompts for the step opened last, ``mixture.next_batch(n, its weights)``; their uids are appended
        to its entry. Any n >= 1, as many times as the engine's rounds need (dynamic sampling)."""
        entry = self.pending.get(self.drawn_through)
        if entry is None:
            raise RuntimeError(f"{self.engine}: prompts drawn for step {self.drawn_through}, which is not open "
                               "(begin_step first; its verdicts may be in already)")
        batch = self.mixture.next_batch(n, entry["weights"])
        entry["uids"] += [p.uid for p in batch]
        return batch

    def _enter_stage(self, stage: int) -> None:
        """At the first draw of a new stage: with stage-start filtering (Skywork-OR1), retire the prompts whose
        every rollout recorded in the stage before was correct; the tally starts again either way. With a
        lookahead, verdicts of old-stage steps that arrive after the switch count for the new stage."""
        if stage == self.stage_drawn:
            return
        if self.curriculum.filters_solved_at_stage_start:
            solved = sorted(u for u, (c, t) in self.stage_tally.items() if t > 0 and c == t)
            self.stage_retired_total += self.mixture.retire([self.by_uid[u] for u in solved])
        self.stage_tally = {}
        self.stage_drawn = stage

    def _make_room(self, step: int) -> None:
        """Before drawing `step`: more than `lookahead` pending steps means HR would close epochs blind."""
        if len(self.pending) > self.lookahead:
            raise RuntimeError(f"{self.engine}: {len(self.pending)} drawn steps are still unscored, more than "
                               f"{self.lookahead_field}={self.lookahead}; history resampling would decide epochs "
                               f"without their records ({self.lookahead_hint})")

    def pop_oldest(self) -> dict[str, Any]:
        """Remove and return the oldest pending step (FIFO engines score steps in draw order)."""
        if not self.pending:
            raise RuntimeError(f"{self.engine}: a batch was scored that srpo's sampler never drew")
        return self.pending.pop(min(self.pending))

    # ---- feedback ----------------------------------------------------------------------------------
    def record(self, uid: str, corrects: Sequence[bool]) -> None:
        """The binary verdicts of one served prompt's responses, to history resampling; they count as
        ``len(corrects)`` rollouts, whether the engine trains on the group or discards it."""
        corrects = list(corrects)
        self.mixture.record(self.by_uid[uid], corrects)
        self.rollouts_total += len(corrects)
        tally = self.stage_tally.setdefault(uid, [0, 0])
        tally[0] += sum(bool(c) for c in corrects)
        tally[1] += len(corrects)

    def observe(self, step: int, rewards: Sequence[float]) -> bool:
        """Tell the curriculum the mean ``sum(rewards) / len(rewards)`` of the rewards the engine trains on at
        `step` (not when there are none: a step whose groups were all lost tells it nothing); returns whether
        the curriculum decided a stage switch."""
        if not rewards:
            return False
        return self.curriculum.observe(step, sum(rewards) / len(rewards), drawn_through=self.drawn_through)

    # ---- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "engine": self.engine, "mixture": self.mixture.state_dict(),
                "curriculum": self.curriculum.state_dict(),
                "pending": [copy.deepcopy(e) for _, e in sorted(self.pending.items())],
                "drawn_through": self.drawn_through, "rollouts_total": self.rollouts_total,
                "lookahead_seen": self.lookahead_seen,
                "stage": {"drawn": self.stage_drawn, "tally": {u: list(t) for u, t in self.stage_tally.items()},
                          "retired_total": self.stage_retired_total},
                **self._extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"{self.engine} state: version {state.get('version')!r} is not {STATE_VERSION}")
        if state.get("engine") != self.engine:
            raise ValueError(f"{self.engine} state: written by {state.get('engine')!r}, whose stream keeps "
                             "other fields; resume with the engine that wrote it")
        self.mixture.load_state_dict(state["mixture"])
        self.curriculum.load_state_dict(state["curriculum"])
        entries = sorted((copy.deepcopy(e) for e in state["pending"]), key=lambda e: int(e["step"]))
        self.pending = {int(e["step"]): e for e in entries}
        self.drawn_through = int(state["drawn_through"])
        self.rollouts_total = int(state["rollouts_total"])
        self.lookahead_seen = int(state["lookahead_seen"])
        stage = state.get("stage", {"drawn": 0, "tally": {}, "retired_total": 0})
        self.stage_drawn, self.stage_retired_total = int(stage["drawn"]), int(stage["retired_total"])
        self.stage_tally = {str(u): [int(c), int(t)] for u, (c, t) in stage["tally"].items()}
        self._load_extra(state)

    def _extra_state(self) -> dict[str, Any]:
        """The adapter's own JSON fields of the state."""
        return {}

    def _load_extra(self, state: dict[str, Any]) -> None:
        """Restore what `_extra_state` wrote."""

    def state_hash(self) -> str:
        """A digest of everything that must be equal on every rank (the first 16 hex digits of a SHA-256)."""
        blob = json.dumps(self.state_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def stats(self) -> dict[str, float]:
        """The stream's own counters (the mixture's and curriculum's come from their `stats`)."""
        return {"sampler/rollouts_total": float(self.rollouts_total),
                "sampler/lookahead_max": float(self.lookahead_seen),
                "sampler/drawn_unrecorded_steps": float(len(self.pending)),
                "sampler/stage_retired_total": float(self.stage_retired_total)}

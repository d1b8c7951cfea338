"""srpo's prompt stream as verl's dataloader reads it, and the verdicts that come back to it.

verl's dataloader reads a map-style dataset in order (``data.shuffle=false``, ``dataloader_num_workers=0``):
index i of the dataset is prompt ``i mod P`` of srpo step ``i // P + 1`` (P = ``rollout.prompts_per_step``).
`SrpoStream.prompt(i)` draws a step from the `DomainMixture` with the `Curriculum`'s weights of that step the
first time one of its indices is read, and remembers it until its verdicts are in, so the same index always
gives the same prompt (a re-read, a gen_batch_size of 1, an async refill). The dataset's virtual length is
``(total_steps + lookahead + 1) x P``: one pass, never an epoch boundary of verl's loader (where its resume
has had bugs), even when the async trainer reads ahead at the end.

Verdicts come back through `SrpoStream.record_step`, called by the trainer hook with one `Verdict` per scored
response of the step it trained; groups are keyed by verl's per-fetch uid, so a group is the G responses of
one served prompt. verl may draw ahead of what it has trained (``colocate_async``): the mixture is told the
bound (`set_lookahead`), an epoch closes only once its verdicts are in, and a plateau switch of the
curriculum takes effect at the first step not yet drawn.

`state_dict` is plain JSON-able data (mixture, curriculum, drawn-but-unrecorded steps, counters); verl's
checkpoint stores it inside the dataloader's ``data.pt``. Nothing here imports verl.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from srpo.core.problem import Problem
from srpo.sampling.stream import StepStream


@dataclass
class Verdict:
    """One scored response of a trained step, as the trainer hook reads it from verl's batch."""

    group: str  # verl's uid of the prompt fetch: the G responses of one served prompt share it
    uid: str  # srpo's problem uid (extra_info.uid)
    correct: bool  # the reward function's ``acc``: the verifier's binary verdict, never the shaped score
    reward: float  # the score verl trains on (srpo's reward plus verl-side shaping such as the overlong penalty)
    length: int  # response tokens
    truncated: bool  # does not end with an EOS id (`srpo.engines.records.is_truncated`)
    text: str = ""
    penalty: float = 0.0  # DAPO's soft overlong penalty verl added to `reward` (0 when not configured)


class SrpoStream(StepStream):
    """Draws srpo steps for verl's dataloader and takes their verdicts back (see the module docstring); the shared
    drawing, feedback and state are `srpo.sampling.stream.StepStream`'s."""

    engine = "srpo stream"

    def __init__(self, mixture, curriculum, problems: Sequence[Problem], prompts_per_step: int, total_steps: int,
                 lookahead: int):
        super().__init__(mixture, curriculum, problems, prompts_per_step, total_steps, lookahead)
        self.recorded_steps = 0  # trainer steps fed back
        self.served: dict[str, int] = {}  # srpo uid -> serves drawn and not yet recorded
        self.unknown_groups = 0  # verdict groups whose prompt this stream never served

    @property
    def drawn(self) -> dict[int, dict[str, Any]]:
        """step -> {step, uids, weights, open[, waiting]}: drawn, not fully recorded."""
        return self.pending

    def __len__(self) -> int:
        return (self.total_steps + self.lookahead + 1) * self.prompts_per_step

    # ---- drawing (verl's dataloader) ---------------------------------------------------------------
    def prompt(self, index: int) -> Problem:
        """The problem at dataset index `index` (drawing its step, and any before it, on first read)."""
        if not 0 <= index < len(self):
            raise IndexError(f"srpo stream: index {index} outside the run's {len(self)} prompts")
        step, pos = divmod(index, self.prompts_per_step)
        step += 1
        while self.drawn_through < step:
            self._draw()
        entry = self.pending.get(step)
        if entry is None:
            raise RuntimeError(f"srpo stream: step {step} was drawn and fully recorded already; verl's loader read "
                               f"index {index} again (is data.shuffle off and the loader in one pass?)")
        return self.by_uid[entry["uids"][pos]]

    def _draw(self) -> None:
        entry = self.draw_step()
        entry["open"] = len(entry["uids"])
        for uid in entry["uids"]:
            self.served[uid] = self.served.get(uid, 0) + 1

    def _make_room(self, step: int) -> None:
        """Forget serves past the lookahead deadline (a group verl dropped or never finished): the mixture
        forgets them at the same deadline (``forgotten_serves``), so a late verdict counts as unknown."""
        for old in [s for s in self.pending if s < step - self.lookahead - 1]:
            entry = self.pending.pop(old)
            for uid in entry.get("waiting", entry["uids"]):
                self._unserve(uid)

    # ---- feedback (the trainer hook) ---------------------------------------------------------------
    def record_step(self, step: int, verdicts: Sequence[Verdict]) -> dict[str, Any]:
        """Feed the verdicts of the batch verl trained at `step` to HR and the curriculum; returns a summary."""
        groups: dict[str, list[Verdict]] = {}
        for v in verdicts:
            groups.setdefault(v.group, []).append(v)
        recorded = []
        for key, rows in groups.items():
            uids = {r.uid for r in rows}
            if len(uids) != 1:
                raise RuntimeError(f"srpo stream: verl group {key} holds responses to several problems {sorted(uids)}")
            uid = rows[0].uid
            if self.served.get(uid, 0) <= 0:
                self.unknown_groups += 1  # e.g. a prompt served before a restart from an older checkpoint
                continue
            self._unserve(uid)
            self.record(uid, [r.correct for r in rows])
            self._close(uid)
            recorded.append(rows)
        flat = [r for rows in recorded for r in rows]
        self.observe(step, [r.reward for r in flat])
        self.recorded_steps += 1
        return {"groups": recorded, "verdicts": flat}

    def _unserve(self, uid: str) -> None:
        if self.served.get(uid, 0) > 0:
            self.served[uid] -= 1
            if not self.served[uid]:
                del self.served[uid]

    def _close(self, uid: str) -> None:
        """Count one serve of `uid` as recorded in the oldest drawn step still waiting for it."""
        for step in sorted(self.pending):
            entry = self.pending[step]
            waiting = entry.setdefault("waiting", list(entry["uids"]))
            if uid in waiting:
                waiting.remove(uid)
                entry["open"] -= 1
                if entry["open"] <= 0:
                    del self.pending[step]
                return

    # ---- state -------------------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        return {"recorded_steps": self.recorded_steps, "served": dict(self.served),
                "unknown_groups": self.unknown_groups}

    def _load_extra(self, state: dict[str, Any]) -> None:
        self.recorded_steps = int(state["recorded_steps"])
        self.served = {str(u): int(n) for u, n in state["served"].items()}
        self.unknown_groups = int(state["unknown_groups"])

    def stats(self) -> dict[str, float]:
        """The stream's own counters (the mixture's and curriculum's come from their `stats`)."""
        return {**super().stats(), "sampler/unknown_groups": float(self.unknown_groups)}

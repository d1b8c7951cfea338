"""srpo's prompt stream inside TRL, and the way every rollout's verdict gets back to it on every rank.

`PromptStream` owns the `DomainMixture` (uniform or history resampling per domain) and the `Curriculum`. Its
`PromptSampler` is what `GRPOTrainer._get_train_sampler` returns: each srpo step draws P prompts with the
curriculum's weights of that step and yields them in TRL's `RepeatSampler` layout (each prompt G times in a
row, the block repeated ``num_iterations x steps_per_generation`` times), so TRL's dataloader, its sharding
across processes (`BatchSamplerShard`: process r gets the r-th slice of every block) and its group
advantages see exactly what they would with TRL's own sampler.

Every process iterates its own copy of the sampler, so every process must hold the same state. Records
come back through `PromptStream.on_scored`, called on every rank with the *gathered* records of the
whole step (`gather` below, in rank order = block order), at the same point of the loop: the sampler
state therefore evolves identically everywhere; `state_hash` is compared across ranks now and then.

accelerate reads ahead: the block of step s+1 is drawn before step s is scored. The stream keeps a queue
of drawn, unscored steps: scoring pops the oldest and checks the gathered uids against it; a checkpoint
stores the queue and a resumed run replays it before drawing anew, so resume never skips or repeats a
prompt. The mixture is told the bound (``trl.max_lookahead``), and drawing beyond it is an error.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from srpo.core.problem import Problem

STATE_VERSION = 1


@dataclass
class Record:
    """One scored response, as every rank sees it after the gather."""

    uid: str
    domain: str
    correct: bool
    reward: float  # the shaped reward GRPOTrainer sums (components + overlong penalty)
    length: int  # response tokens, EOS included
    truncated: bool
    penalty: float
    text: str


def gather(local: list[Any]) -> list[Any]:
    """Every process's list concatenated in rank order (identity on one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(local)
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, local)
    return [x for part in parts for x in part]


class PromptStream:
    """Draws srpo steps for TRL's dataloader and takes their verdicts back (see the module docstring)."""

    def __init__(self, mixture, curriculum, problems: Sequence[Problem], prompts_per_step: int, group_size: int,
                 max_lookahead: int, total_steps: int):
        self.mixture, self.curriculum = mixture, curriculum
        self.by_uid = {p.uid: p for p in problems}
        self.prompts_per_step, self.group_size = prompts_per_step, group_size
        self.max_lookahead, self.total_steps = max_lookahead, total_steps
        mixture.set_lookahead(max_lookahead)
        self.queue: deque[dict[str, Any]] = deque()  # drawn, not yet scored: {step, uids, weights}
        self.replay: list[dict[str, Any]] = []  # after a resume: the queue, served again before new draws
        self.drawn_through = 0  # last srpo step drawn (steps count from 1)
        self.scored_through = 0
        self.rollouts_total = 0
        self.lookahead_seen = 0  # most drawn-but-unscored steps at any draw (accelerate: 1)

    # ---- drawing (TRL's dataloader) ----------------------------------------------------------------
    def draw(self) -> dict[str, Any] | None:
        """The next step's prompts: a replayed one after a resume, else a fresh draw; None after the run."""
        if self.replay:
            return self.replay.pop(0)
        if self.drawn_through >= self.total_steps:
            return None
        if len(self.queue) > self.max_lookahead:
            raise RuntimeError(f"trl engine: {len(self.queue)} drawn steps are still unscored, more than "
                               f"trl.max_lookahead={self.max_lookahead}; history resampling would decide epochs "
                               "without their records (raise the bound, or keep dataloader workers at 0)")
        self.lookahead_seen = max(self.lookahead_seen, len(self.queue))
        step = self.drawn_through + 1
        weights = self.curriculum.weights(step)
        batch = self.mixture.next_batch(self.prompts_per_step, weights)
        entry = {"step": step, "uids": [p.uid for p in batch], "weights": weights}
        self.queue.append(entry)
        self.drawn_through = step
        return entry

    # ---- feedback (the reward functions, on every rank) --------------------------------------------
    def on_scored(self, records: Sequence[Record]) -> dict[str, Any]:
        """Feed one step's gathered records (block order) to HR and the curriculum; returns the step entry."""
        if not self.queue:
            raise RuntimeError("trl engine: a batch was scored that srpo's sampler never drew")
        entry = self.queue.popleft()
        g = self.group_size
        expected = [u for u in entry["uids"] for _ in range(g)]
        got = [r.uid for r in records]
        if got != expected:
            raise RuntimeError(f"trl engine: step {entry['step']} scored uids {got[:4]}... but srpo drew "
                               f"{expected[:4]}...; the dataloader layout is not the one the sampler yields")
        for i, uid in enumerate(entry["uids"]):
            self.mixture.record(self.by_uid[uid], [r.correct for r in records[i * g:(i + 1) * g]])
        rewards = [r.reward for r in records]
        self.curriculum.observe(entry["step"], sum(rewards) / len(rewards), drawn_through=self.drawn_through)
        self.scored_through = entry["step"]
        self.rollouts_total += len(records)
        return entry

    # ---- state -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "mixture": self.mixture.state_dict(),
                "curriculum": self.curriculum.state_dict(), "queue": [dict(e) for e in self.queue],
                "drawn_through": self.drawn_through, "scored_through": self.scored_through,
                "rollouts_total": self.rollouts_total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"srpo trl state: version {state.get('version')!r} is not {STATE_VERSION}")
        self.mixture.load_state_dict(state["mixture"])
        self.curriculum.load_state_dict(state["curriculum"])
        self.queue = deque(dict(e) for e in state["queue"])
        self.replay = [dict(e) for e in state["queue"]]
        self.drawn_through, self.scored_through = int(state["drawn_through"]), int(state["scored_through"])
        self.rollouts_total = int(state["rollouts_total"])

    def state_hash(self) -> str:
        """A digest of everything that must be equal on every rank."""
        blob = json.dumps(self.state_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class PromptSampler:
    """A torch `Sampler` over the training dataset's row indices in TRL's RepeatSampler layout."""

    def __init__(self, stream: PromptStream, row_of_uid: dict[str, int], repeat_count: int):
        self.stream, self.row_of_uid, self.repeat_count = stream, row_of_uid, repeat_count

    def __len__(self) -> int:
        s = self.stream
        return s.total_steps * s.prompts_per_step * s.group_size * self.repeat_count

    def __iter__(self) -> Iterator[int]:
        while (entry := self.stream.draw()) is not None:
            rows = [self.row_of_uid[u] for u in entry["uids"]]
            for _ in range(self.repeat_count):
                for row in rows:
                    for _ in range(self.stream.group_size):
                        yield row

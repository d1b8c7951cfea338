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

accelerate reads ahead: the block of step s+1 is drawn before step s is scored. The stream (the shared
`srpo.sampling.stream.StepStream`) keeps the drawn, unscored steps pending: scoring pops the oldest (strict
FIFO) and checks the gathered uids against it; a checkpoint stores the pending steps and a resumed run replays
them before drawing anew, so resume never skips or repeats a prompt. The mixture is told the bound
(``trl.max_lookahead``), and drawing beyond it is an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from srpo.core.problem import Problem
from srpo.engines.records import Record
from srpo.sampling.stream import StepStream


def gather(local: list[Any]) -> list[Any]:
    """Every process's list concatenated in rank order (identity on one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(local)
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, local)
    return [x for part in parts for x in part]


class PromptStream(StepStream):
    """Draws srpo steps for TRL's dataloader and takes their verdicts back (see the module docstring); the shared
    drawing, feedback and state are `srpo.sampling.stream.StepStream`'s."""

    engine = "trl engine"
    lookahead_field = "trl.max_lookahead"
    lookahead_hint = "raise the bound, or keep dataloader workers at 0"

    def __init__(self, mixture, curriculum, problems: Sequence[Problem], prompts_per_step: int, group_size: int,
                 max_lookahead: int, total_steps: int):
        super().__init__(mixture, curriculum, problems, prompts_per_step, total_steps, max_lookahead)
        self.group_size = group_size
        self.replay: list[dict[str, Any]] = []  # after a resume: the pending steps, served again before new draws
        self.scored_through = 0  # last step scored

    @property
    def max_lookahead(self) -> int:
        return self.lookahead

    # ---- drawing (TRL's dataloader) ----------------------------------------------------------------
    def draw(self) -> dict[str, Any] | None:
        """The next step's prompts: a replayed one after a resume, else a fresh draw; None after the run."""
        if self.replay:
            return self.replay.pop(0)
        if self.drawn_through >= self.total_steps:
            return None
        return self.draw_step()

    # ---- feedback (the reward functions, on every rank) --------------------------------------------
    def on_scored(self, records: Sequence[Record]) -> dict[str, Any]:
        """Feed one step's gathered records (block order) to HR and the curriculum; returns the step entry."""
        entry = self.pop_oldest()
        g = self.group_size
        expected = [u for u in entry["uids"] for _ in range(g)]
        got = [r.uid for r in records]
        if got != expected:
            raise RuntimeError(f"trl engine: step {entry['step']} scored uids {got[:4]}... but srpo drew "
                               f"{expected[:4]}...; the dataloader layout is not the one the sampler yields")
        for i, uid in enumerate(entry["uids"]):
            self.record(uid, [r.correct for r in records[i * g:(i + 1) * g]])
        self.observe(entry["step"], [r.reward for r in records])
        self.scored_through = entry["step"]
        return entry

    # ---- state -------------------------------------------------------------------------------------
    def _extra_state(self) -> dict[str, Any]:
        return {"scored_through": self.scored_through}

    def _load_extra(self, state: dict[str, Any]) -> None:
        self.scored_through = int(state["scored_through"])
        self.replay = [dict(e) for _, e in sorted(self.pending.items())]


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

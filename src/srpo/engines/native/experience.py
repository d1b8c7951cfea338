"""One training step's experience: rollouts with their rewards, verdicts and advantages, as tensors.

Rows follow the rollout layout (`srpo.engines.native.rollout.base`): a GRPO group is the set of rows sharing a
`group_ids_b` value. Dynamic sampling may concatenate groups from several generation rounds; `concat`
re-pads them (prompts on the left, responses on the right) so the layout stays uniform.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from srpo.core.problem import Problem
from srpo.rewards import RewardResult
from srpo.engines.native.rollout import RolloutBatch
from srpo.engines.records import Record


# [B, T] float fields padded with 0 on the right, trimmed with the responses
_LOGPROB_FIELDS = ("old_logprobs_bt", "ref_logprobs_bt", "behaviour_logprobs_bt", "correction_weights_bt")


@dataclass
class Experience:
    """Tensors are indexed by row (b), prompt position (p) or response position (t).

    rewards_b is the reward that enters the advantage: the verifier's shaped score plus length_penalty_b
    (0 unless ``algorithm.truncation`` has soft_penalty). corrects_b is the verifier's binary verdict and
    is never shaped. in_loss_b is False for rows left out of the loss (truncated responses under
    truncation=mask); they still count in their group's advantage statistics.

    behaviour_logprobs_bt are the rollout engine's log-probs (mu, after temperature, before top-p) and stay
    as recorded; old_logprobs_bt (pi_old) starts as the same tensor and is replaced when the actor recomputes
    it. correction_weights_bt (None: no correction) multiply the per-token policy loss and correction_keep_b
    (None: all kept) drops rejected rows from the loss and its totals, both set by the actor once per step
    (`srpo.algo.importance_weights`, `srpo.algo.rejection_keep`).

    policy_version_b (None: the synchronous loop, every row sampled by the weights being updated) is the number of
    updates behind the weights each row was sampled with (`rollout.max_staleness`, docs/async.md); the step's
    staleness is ``updates done - policy_version_b``.
    """

    prompt_ids_bp: torch.Tensor
    prompt_mask_bp: torch.Tensor
    response_ids_bt: torch.Tensor
    response_mask_bt: torch.Tensor
    old_logprobs_bt: torch.Tensor
    rewards_b: torch.Tensor
    corrects_b: torch.Tensor
    group_ids_b: torch.Tensor
    truncated_b: torch.Tensor
    length_penalty_b: torch.Tensor
    in_loss_b: torch.Tensor
    problems: list[Problem]
    texts: list[str]
    advantages_b: torch.Tensor | None = None
    ref_logprobs_bt: torch.Tensor | None = None
    behaviour_logprobs_bt: torch.Tensor | None = None
    correction_weights_bt: torch.Tensor | None = None
    correction_keep_b: torch.Tensor | None = None
    policy_version_b: torch.Tensor | None = None

    @classmethod
    def from_rollout(cls, batch: RolloutBatch, problems: list[Problem], results: list[RewardResult],
                     group_offset: int = 0, *, length_penalty_b: torch.Tensor | None = None,
                     mask_truncated: bool = False) -> "Experience":
        """`problems` are the prompts of the rollout; row b answers ``problems[batch.prompt_index_b[b]]``.

        rewards_b = score + length_penalty_b (default 0); with `mask_truncated`, truncated rows leave the loss.
        """
        index = batch.prompt_index_b.tolist()
        scores_b = torch.tensor([r.score for r in results], dtype=torch.float32)
        penalty_b = torch.zeros_like(scores_b) if length_penalty_b is None else length_penalty_b.to(torch.float32)
        truncated_b = batch.truncated_b.bool()
        return cls(
            batch.prompt_ids_bp, batch.prompt_mask_bp, batch.response_ids_bt, batch.response_mask_bt,
            batch.logprobs_bt,
            rewards_b=scores_b + penalty_b,
            corrects_b=torch.tensor([bool(r.correct) for r in results]),
            group_ids_b=batch.prompt_index_b + group_offset,
            truncated_b=truncated_b, length_penalty_b=penalty_b,
            in_loss_b=~truncated_b if mask_truncated else torch.ones_like(truncated_b),
            problems=[problems[i] for i in index], texts=list(batch.texts),
            behaviour_logprobs_bt=batch.logprobs_bt,
        )

    @classmethod
    def empty(cls) -> "Experience":
        """No rows (dynamic sampling that kept no group): the update and metrics skip it."""
        ids = torch.zeros((0, 1), dtype=torch.long)
        flags = torch.zeros(0, dtype=torch.bool)
        return cls(ids, ids, ids, ids, ids.float(), torch.zeros(0), flags, torch.zeros(0, dtype=torch.long),
                   flags, torch.zeros(0), flags, [], [])

    def __len__(self) -> int:
        return self.response_ids_bt.shape[0]

    @property
    def domains(self) -> list[str]:
        return [p.domain for p in self.problems]

    @property
    def response_lengths_b(self) -> torch.Tensor:
        return self.response_mask_bt.sum(-1)

    @property
    def prompt_lengths_b(self) -> torch.Tensor:
        return self.prompt_mask_bp.sum(-1)

    @property
    def loss_mask_bt(self) -> torch.Tensor:
        """[B, T] bool: the response tokens (EOS included) of the rows that enter the loss (in_loss_b and, when
        the rollout correction rejects rows, correction_keep_b)."""
        rows = self.in_loss_b if self.correction_keep_b is None else self.in_loss_b & self.correction_keep_b
        return self.response_mask_bt.bool() & rows[:, None]

    def select(self, rows: list[int] | torch.Tensor) -> "Experience":
        """The experience restricted to `rows` (tensors indexed, lists picked)."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        picked = rows.tolist()
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                values[f.name] = value[rows]
            elif isinstance(value, list):
                values[f.name] = [value[i] for i in picked]
            else:
                values[f.name] = value
        return Experience(**values)

    def group_rows(self) -> list[list[int]]:
        """Row indices of each group, in order of first appearance."""
        groups: dict[int, list[int]] = {}
        for row, gid in enumerate(self.group_ids_b.tolist()):
            groups.setdefault(gid, []).append(row)
        return list(groups.values())

    def records(self) -> list[Record]:
        """One shared `Record` per row, as every engine's step metrics read them (`srpo.engines.records`):
        reward = rewards_b (shaped score + penalty), length = response tokens (EOS included)."""
        rewards, corrects = self.rewards_b.tolist(), self.corrects_b.tolist()
        lengths, truncated = self.response_lengths_b.tolist(), self.truncated_b.tolist()
        penalties = self.length_penalty_b.tolist()
        return [Record(uid=p.uid, domain=p.domain, correct=bool(corrects[i]), reward=rewards[i], length=int(lengths[i]),
                       truncated=bool(truncated[i]), penalty=penalties[i], text=self.texts[i])
                for i, p in enumerate(self.problems)]

    def to_state(self) -> dict:
        """Plain tensors, lists and the problems' uids, for a checkpoint (`from_state` restores it)."""
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["problems"] = [p.uid for p in self.problems]
        return state

    @classmethod
    def from_state(cls, state: dict, by_uid: dict[str, Problem]) -> "Experience":
        """The experience `to_state` wrote, its problems looked up by uid in the training set `by_uid`."""
        return cls(**{**state, "problems": [by_uid[uid] for uid in state["problems"]]})

    def trimmed(self) -> "Experience":
        """Drop prompt columns that are padding in every row and response columns past the longest response."""
        keep_p = self.prompt_mask_bp.any(0).nonzero()
        start = int(keep_p[0]) if len(keep_p) else self.prompt_mask_bp.shape[1]
        end = max(int(self.response_lengths_b.max()), 1) if len(self) else 1
        out = self.select(torch.arange(len(self)))
        out.prompt_ids_bp, out.prompt_mask_bp = self.prompt_ids_bp[:, start:], self.prompt_mask_bp[:, start:]
        for name in ("response_ids_bt", "response_mask_bt", *_LOGPROB_FIELDS):
            value = getattr(self, name)
            if value is not None:
                setattr(out, name, value[:, :end])
        return out


def micro_batches(exp: Experience, max_rows: int, max_tokens: int | None = None) -> list[list[int]]:
    """Rows of `exp` cut into micro-batches of similar length, so trimming each one drops most padding.

    Rows are sorted by total length (prompt + response tokens), longest first; ties keep a group's rows
    (identical prompts) together. Consecutive rows then fill a micro-batch while it holds at most
    `max_rows` rows and, when `max_tokens` is set, at most `max_tokens` padded tokens, counted as a
    trimmed micro-batch's forward sees them: rows x (longest prompt + longest response). A single row longer
    than `max_tokens` forms a micro-batch of its own. Every row appears in exactly one micro-batch.

    Example: prompt lengths [3, 3, 5, 5], response lengths [2, 9, 1, 4] -> totals [5, 12, 6, 9] -> order
    [1, 3, 2, 0]; max_rows 2 -> [[1, 3], [2, 0]]; max_rows 4, max_tokens 20 -> [[1], [3, 2], [0]] ([1, 3]
    would cost 2 x (5 + 9) = 28 padded tokens, [3, 2, 0] 3 x (5 + 4) = 27).
    """
    prompt = exp.prompt_lengths_b.tolist()
    response = exp.response_lengths_b.clamp(min=1).tolist()
    groups = exp.group_ids_b.tolist()
    order = sorted(range(len(exp)), key=lambda i: (-(prompt[i] + response[i]), groups[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    width_p = width_t = 0
    for i in order:
        new_p, new_t = max(width_p, prompt[i]), max(width_t, response[i])
        over_budget = max_tokens is not None and (len(current) + 1) * (new_p + new_t) > max_tokens
        full = len(current) == max_rows or over_budget
        if current and full:
            batches.append(current)
            current, new_p, new_t = [], prompt[i], response[i]
        current.append(i)
        width_p, width_t = new_p, new_t
    if current:
        batches.append(current)
    return batches


def _pad_to(x: torch.Tensor, width: int, value: float, left: bool) -> torch.Tensor:
    missing = width - x.shape[1]
    if missing == 0:
        return x
    pad = torch.full((x.shape[0], missing), value, dtype=x.dtype)
    return torch.cat([pad, x] if left else [x, pad], dim=1)


def concat(parts: list[Experience], pad_id: int) -> Experience:
    """Stack experiences (e.g. dynamic-sampling rounds), re-padding prompts left and responses right.

    Group ids must already be distinct across parts (use `group_offset` in `from_rollout`).
    """
    if len(parts) == 1:
        return parts[0]
    p_width = max(e.prompt_ids_bp.shape[1] for e in parts)
    t_width = max(e.response_ids_bt.shape[1] for e in parts)
    pad_values = {"prompt_ids_bp": (pad_id, True), "prompt_mask_bp": (0, True),
                  "response_ids_bt": (pad_id, False), "response_mask_bt": (0, False),
                  **{name: (0.0, False) for name in _LOGPROB_FIELDS}}
    values = {}
    for f in fields(Experience):
        items = [getattr(e, f.name) for e in parts]
        if f.name in pad_values and items[0] is not None:
            value, left = pad_values[f.name]
            width = p_width if left else t_width
            values[f.name] = torch.cat([_pad_to(x, width, value, left) for x in items])
        elif isinstance(items[0], torch.Tensor):
            values[f.name] = torch.cat(items)
        elif isinstance(items[0], list):
            values[f.name] = [x for item in items for x in item]
        else:
            values[f.name] = items[0]
    return Experience(**values)

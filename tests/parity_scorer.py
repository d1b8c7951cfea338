"""A fixed verdict table as srpo's scorer, for the engine parity test (tests/test_engine_parity.py).

The model is what makes verdicts differ between engines, so every engine gets the same verdicts instead: the
verdict of a response depends only on its problem's uid and its index j in the group (the j-th response
of a served prompt), never on its text. `TableScorer` counts the responses it has scored per uid, so
j = count mod G: every engine scores a group's G responses in a row (native: one block per prompt; TRL: each
rank scores whole groups, P x G / world rows; the verl stand-in calls the reward function in group order).

Each call's uids and verdicts are kept (`calls`) and, when ``SRPO_PARITY_LOG`` names a folder, appended to
``<folder>/rank<RANK>.jsonl``: that is the prompt stream as the engine scored it.

Run as a script (what torchrun starts in each process for the TRL engine) it puts `TableScorer` in place of
`srpo.rewards.RewardScorer` and runs ``srpo`` with its arguments.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

from srpo.core.results import RewardResult

LOG_ENV = "SRPO_PARITY_LOG"
GROUP_ENV = "SRPO_PARITY_G"


def verdict(uid: str, j: int) -> bool:
    """The table: a third of the problems always solved (history resampling drops them), a third never, the
    rest only by the first response of each group (mixed groups)."""
    kind = zlib.crc32(uid.encode()) % 3
    return kind == 0 or (kind == 2 and j == 0)


class TableScorer:
    """`RewardScorer`'s interface (``score(responses, problems)``, ``close()``) over the fixed table: the deciding
    component of the problem's domain scores 1.0 / 0.0 with the verdict, every other component 0.0, so the
    shaped reward is the deciding component's weight times the verdict (`srpo.rewards.scorer.combine`)."""

    def __init__(self, rewards_cfg=None, sandbox_cfg=None, *, group_size: int | None = None, **_):
        from srpo.rewards.config import RewardsConfig

        self.cfg = rewards_cfg or RewardsConfig()
        self.group_size = group_size or int(os.environ[GROUP_ENV])
        self.seen: dict[str, int] = {}
        self.calls: list[dict] = []
        folder = os.environ.get(LOG_ENV)
        self.log = Path(folder) / f"rank{os.environ.get('RANK', '0')}.jsonl" if folder else None

    def score(self, responses: Sequence[str], problems: Sequence) -> list[RewardResult]:
        from srpo.rewards.scorer import combine

        out, verdicts = [], []
        for p in problems:
            k = self.seen.get(p.uid, 0)
            self.seen[p.uid] = k + 1
            ok = verdict(p.uid, k % self.group_size)
            deciding = self.cfg.deciding(p.domain)
            results = {c.name: RewardResult(float(ok) if c.name == deciding else 0.0,
                                            ok if c.name == deciding else False)
                       for c in self.cfg.components(p.domain)}
            out.append(combine(results, self.cfg.components(p.domain), deciding))
            verdicts.append(ok)
        call = {"uids": [p.uid for p in problems], "correct": verdicts}
        self.calls.append(call)
        if self.log is not None:
            with self.log.open("a") as f:
                f.write(json.dumps(call) + "\n")
        return out

    def close(self) -> None:
        pass


def main(argv: list[str]) -> int:
    import srpo.rewards
    from srpo.cli import main as srpo_main

    srpo.rewards.RewardScorer = TableScorer  # the TRL engine builds its scorer from srpo.rewards at train()
    return srpo_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

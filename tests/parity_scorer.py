"""A fixed verdict table as srpo's scorer, for the engine parity test (tests/test_engine_parity.py).

The model is what makes verdicts differ between engines, so every engine gets the same verdicts instead: the
verdict of a response depends only on its problem's uid and its index j in the group (the j-th response
of a served prompt), never on its text. `TableScorer` counts the responses it has scored per uid, so
j = count mod G: every engine scores a group's G responses in a row (native: one block per prompt; TRL: each
rank scores whole groups, P x G / world rows; the verl stand-in calls the reward function in group order).

Each call's uids and verdicts are kept (`calls`) and, when ``SRPO_PARITY_LOG`` names a folder, appended to
``<folder>/rank<RANK>.jsonl``: that is the prompt stream as the engine scored it.

`StreamSpy` logs the calls every engine makes to srpo's one prompt stream (`srpo.sampling.stream.StepStream`:
``begin_step``, ``draw_prompts``, ``record``, ``observe``) and every call that changes the mixture's or the
curriculum's state from outside them (a draw or feedback path of an engine's own); with ``SRPO_PARITY_LOG`` the
calls go to ``<folder>/rank<RANK>.stream.jsonl`` too.

Run as a script (what torchrun starts in each process for the TRL engine) it puts `TableScorer` in place of
`srpo.rewards.RewardScorer`, installs a `StreamSpy` and runs ``srpo`` with its arguments.
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


class StreamSpy:
    """Wraps `StepStream`'s draw and feedback methods (on the class, so every engine's subclass) and the state-changing
    methods of `DomainMixture` and `Curriculum`. ``calls``: one JSON-able row per stream call, in call order:
    ``["begin_step", step]``, ``["draw_prompts", n, uids]``, ``["record", uid, corrects]``, ``["observe", step,
    rewards, switched]``. ``bypass``: the mixture or curriculum calls made outside a stream method (in the log as
    ``["bypass", "Class.method"]``)."""

    STREAM = ("begin_step", "draw_prompts", "record", "observe")

    def __init__(self, log: Path | None = None):
        self.calls: list[list] = []
        self.bypass: list[str] = []
        self.log, self._depth, self._undo = log, 0, []

    def install(self) -> "StreamSpy":
        from srpo.curriculum import Curriculum
        from srpo.sampling.mixture import DomainMixture
        from srpo.sampling.stream import StepStream

        for name in self.STREAM:
            self._patch(StepStream, name, self._logged)
        for cls, name in ((DomainMixture, "next_batch"), (DomainMixture, "record"), (Curriculum, "observe")):
            self._patch(cls, name, self._guarded)
        return self

    def uninstall(self) -> None:
        while self._undo:
            cls, name, original = self._undo.pop()
            setattr(cls, name, original)

    def _patch(self, cls, name: str, wrapper) -> None:
        original = cls.__dict__[name]
        self._undo.append((cls, name, original))
        setattr(cls, name, wrapper(name, original))

    def _logged(self, name: str, original):
        def call(stream, *args, **kwargs):
            self._depth += 1
            try:
                out = original(stream, *args, **kwargs)
            finally:
                self._depth -= 1
            self._add([name, *self._row(name, args, out)])
            return out
        return call

    def _guarded(self, name: str, original):
        def call(obj, *args, **kwargs):
            if not self._depth:
                self.bypass.append(f"{type(obj).__name__}.{name}")
                self._write(["bypass", self.bypass[-1]])
            return original(obj, *args, **kwargs)
        return call

    @staticmethod
    def _row(name: str, args: tuple, out) -> list:
        if name == "begin_step":
            return [out["step"]]
        if name == "draw_prompts":
            return [args[0], [p.uid for p in out]]
        if name == "record":
            return [args[0], [bool(c) for c in args[1]]]
        return [args[0], [float(r) for r in args[1]], bool(out)]

    def _add(self, row: list) -> None:
        self.calls.append(row)
        self._write(row)

    def _write(self, row: list) -> None:
        if self.log is not None:
            with self.log.open("a") as f:
                f.write(json.dumps(row) + "\n")


def main(argv: list[str]) -> int:
    import srpo.rewards
    from srpo.cli import main as srpo_main

    srpo.rewards.RewardScorer = TableScorer  # the TRL engine builds its scorer from srpo.rewards at train()
    folder = os.environ.get(LOG_ENV)
    StreamSpy(Path(folder) / f"rank{os.environ.get('RANK', '0')}.stream.jsonl" if folder else None).install()
    return srpo_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

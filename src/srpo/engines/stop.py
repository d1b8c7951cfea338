"""Stopping a training run on a signal, the same for every engine that saves checkpoints.

SIGINT (Ctrl-C), SIGTERM (how SLURM, Kubernetes and most schedulers preempt) and SIGUSR1 (what SLURM's
``--signal`` sends before the time limit) all ask the same thing: finish the current step, save a
checkpoint, stop. `StopRequest` turns the first such signal into a request that the loop reads at the step
boundary; a later one (`REPEAT_AFTER_S` or more after the first) raises `Stopped` at once. A repeat that
comes sooner is the same request delivered twice: under SLURM a torchrun worker gets the job's signal
directly and again relayed by torchrun, within milliseconds.

Under several processes every rank must stop after the same step, however many ranks the signal reached:
`StopRequest.agree` takes the largest signal number over the ranks at each step boundary (one all-gather of
one int), so a signal to one rank stops them all.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from srpo.core.errors import Interrupted, Stopped, signal_name

STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGUSR1", None)) if s is not None)
REPEAT_AFTER_S = 1.0  # a repeat sooner than this after the first signal is the same request, not a second one


class StopRequest:
    """Within its block, the first of `STOP_SIGNALS` only asks the loop to stop after the current step
    (`requested`, `signum`); a repeat `REPEAT_AFTER_S` or more later raises `Stopped` at once. The handlers
    are installed whatever the process inherited (a background job inherits SIGINT ignored; a scheduler's
    stop must still checkpoint) and the previous ones are restored on exit. Outside the main thread, where
    signal handlers cannot be set, it does nothing."""

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS):
        self.signals = signals
        self.signum = 0
        self._first_at = 0.0
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum != 0

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._on_signal) for s in self.signals}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def _on_signal(self, signum: int, frame: object) -> None:
        if not self.requested:
            self.signum, self._first_at = signum, time.monotonic()
            os.write(2, _announce(signum).encode())
        elif time.monotonic() - self._first_at >= REPEAT_AFTER_S:
            raise Stopped(signum)

    def agree(self, gather: Callable[[list[int]], list[int]]) -> int:
        """Adopt the largest signal number any rank holds (`gather`: every rank's list, concatenated; call it
        on every rank at the same point); returns it (0: no rank was asked to stop)."""
        agreed = max(gather([self.signum]))
        if agreed and not self.requested:
            self.signum, self._first_at = agreed, time.monotonic()
        return self.signum

    def raise_if_requested(self, step: int, checkpoint: Path | None) -> None:
        if self.requested:
            raise Interrupted(step, checkpoint, self.signum)


def _announce(signum: int) -> str:
    """What the first signal prints: what happens now and what a second signal would do."""
    again = "Ctrl-C again" if signum == signal.SIGINT else f"another {signal_name(signum)}"
    rank = os.environ.get("RANK") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None
    where = f" (rank {rank})" if rank is not None else ""
    return (f"\nsrpo{where}: {signal_name(signum)}: stopping after this step and saving a checkpoint ({again} "
            f"stops at once, losing the steps since the last checkpoint)\n")

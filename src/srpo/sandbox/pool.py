"""A pool of worker threads, each keeping one sandboxed judge started ahead of time.

The work happens in the sandboxes (separate processes), so threads are enough on the host side. A worker
starts its next sandbox as soon as it has handed in a result, so the start-up cost (bwrap set-up and
interpreter start, ~10 ms of mostly kernel time) overlaps with other work instead of sitting on the path.
Every job still gets a fresh sandbox: nothing is reused between two programs.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future
from typing import Iterable

from srpo.sandbox.backend import Backend
from srpo.sandbox.config import SandboxConfig
from srpo.sandbox.job import SandboxJob, job_payload
from srpo.sandbox.process import SandboxOutcome, SandboxProcess
from srpo.sandbox.resolve import resolve_backend

# Host-side slack on top of the judge's own limits: interpreter start, result transfer.
WALL_GRACE_S = 1.0


def default_workers() -> int:
    """8 per core, at most 32: a sandbox spends most of its short life waiting (namespace set-up and
    tear-down in the kernel, process start-up), not on a CPU."""
    return min(32, 8 * (os.cpu_count() or 1))


class SandboxPool:
    """Runs `SandboxJob`s in parallel, each in its own fresh sandbox.

    Raises `SandboxUnavailable` at construction if bwrap cannot run and `cfg.mode` is not ``"unsafe"``.
    Use as a context manager or call `close()`; it kills the idle warm sandboxes.
    """

    def __init__(self, cfg: SandboxConfig | None = None, *, warm: bool = True):
        self.cfg = cfg or SandboxConfig()
        self.backend: Backend = resolve_backend(self.cfg)
        self.workers = self.cfg.workers or default_workers()
        self._warm = warm
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._threads = [threading.Thread(target=self._worker, name=f"srpo-sandbox-{i}", daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------------------------------ public
    def submit(self, job: SandboxJob) -> Future:
        """Queue a job; the future's result is a `SandboxOutcome`."""
        if self._closed:
            raise RuntimeError("SandboxPool is closed")
        payload = job_payload(job, self.cfg, pidns=self.backend.pidns)
        wall_s = payload["timeout_s"] * job.runs() + WALL_GRACE_S
        fut: Future = Future()
        self._jobs.put((payload, wall_s, fut))
        return fut

    def run(self, job: SandboxJob) -> SandboxOutcome:
        return self.submit(job).result()

    def map(self, jobs: Iterable[SandboxJob]) -> list[SandboxOutcome]:
        futures = [self.submit(j) for j in jobs]
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join()

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten close() must not leave warm sandboxes behind
        try:
            self.close()
        except Exception:
            pass

    # ----------------------------------------------------------------------------------------- workers
    def _spawn(self) -> SandboxProcess | str:
        try:
            return SandboxProcess(self.backend, self.cfg)
        except OSError as err:
            return f"could not start a sandbox: {err}"

    def _worker(self) -> None:
        ready: SandboxProcess | str | None = self._spawn() if self._warm else None
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                payload, wall_s, fut = item
                if not fut.set_running_or_notify_cancel():
                    continue
                proc = ready if ready is not None else self._spawn()
                ready = None
                try:
                    outcome = proc.run(payload, wall_s, reap=False) if isinstance(proc, SandboxProcess) \
                        else SandboxOutcome("error", detail=proc)
                except BaseException as err:  # never let a worker die silently
                    outcome = SandboxOutcome("error", detail=f"sandbox failure: {err!r}")
                # The tree is already SIGKILLed: hand the verdict out, start the next sandbox, and only
                # then wait for the kernel to finish tearing the old one down.
                fut.set_result(outcome)
                if self._warm:
                    ready = self._spawn()
                if isinstance(proc, SandboxProcess):
                    proc.kill()
        finally:
            if isinstance(ready, SandboxProcess):
                ready.kill()

"""A pool of worker threads sharing a stock of sandboxes started ahead of time.

The work happens in the sandboxes (separate processes), so threads are enough on the host side. A job
takes one sandbox (function calls, stdio) or two (test code: the candidate's and the tester's) from the
stock; after handing out its result, the worker starts as many new ones as the stock lacks, so the start-up
cost (bwrap set-up and interpreter start, ~10 ms of mostly kernel time) overlaps with other work instead
of sitting on the path. Every job still gets fresh sandboxes: nothing is reused between two programs.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from concurrent.futures import Future
from typing import Iterable

from srpo.sandbox.backend import Backend
from srpo.sandbox.cgroup import Cgroups
from srpo.sandbox.config import SandboxConfig
from srpo.sandbox.host import run_job, sandbox_limits
from srpo.sandbox.job import SandboxJob, SandboxOutcome
from srpo.sandbox.process import SandboxProcess, sweep_orphans
from srpo.sandbox.resolve import resolve_backend

log = logging.getLogger(__name__)


def default_workers() -> int:
    """8 per core, at most 32: a sandbox spends most of its short life waiting (namespace set-up and
    tear-down in the kernel, process start-up), not on a CPU."""
    return min(32, 8 * (os.cpu_count() or 1))


class SandboxPool:
    """Runs `SandboxJob`s in parallel, each in fresh sandboxes.

    Raises `SandboxUnavailable` at construction if bwrap cannot run and `cfg.mode` is not ``"unsafe"``.
    Use as a context manager or call `close()`; it kills the idle warm sandboxes.
    """

    def __init__(self, cfg: SandboxConfig | None = None, *, warm: bool = True):
        self.cfg = cfg or SandboxConfig()
        swept = sweep_orphans()  # what an owner that died left behind (see process.sweep_orphans)
        if swept:
            log.warning("killed %d sandbox processes left by srpo processes that are gone", swept)
        self.backend: Backend = resolve_backend(self.cfg)
        self.cgroups = Cgroups.open(self.cfg.cgroup) if self.backend.mode == "bwrap" else None
        self.limits = sandbox_limits(self.cfg, no_fork=self.cgroups is None)
        self.workers = self.cfg.workers or default_workers()
        self._stock: queue.SimpleQueue[SandboxProcess] = queue.SimpleQueue()
        self._started: "weakref.WeakSet[SandboxProcess]" = weakref.WeakSet()  # until reaped: killed on close
        self._stock_size = self.workers if warm else 0
        self._stocked = 0  # in the stock or being started for it
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._parked = 0  # workers done for good, waiting for close() to kill the sandboxes they started
        self._parked_cond = threading.Condition()
        self._release = threading.Event()
        self._threads = [threading.Thread(target=self._worker, name=f"srpo-sandbox-{i}", daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------------------------------ public
    def submit(self, job: SandboxJob) -> Future:
        """Queue a job; the future's result is a `SandboxOutcome`."""
        if self._closed:
            raise RuntimeError("SandboxPool is closed")
        job.check()
        fut: Future = Future()
        self._jobs.put((job, fut))
        return fut

    def run(self, job: SandboxJob) -> SandboxOutcome:
        return self.submit(job).result()

    def map(self, jobs: Iterable[SandboxJob]) -> list[SandboxOutcome]:
        futures = [self.submit(j) for j in jobs]
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True  # from here on no worker restocks
        for _ in self._threads:
            self._jobs.put(None)
        # Kill every sandbox while the thread that started it lives: bwrap's --die-with-parent SIGKILLs a
        # bwrap when its starting thread ends, and a bwrap killed that way leaves its init to be reaped by
        # the machine's init (a zombie until then; forever where the trainer is a container's pid 1 and reaps
        # no stranger's children). So the workers first finish their jobs and park (none is starting a
        # sandbox then); the sandboxes are killed, each bwrap reaping its init and we bwrap; then they end.
        if threading.current_thread() not in self._threads:
            with self._parked_cond:
                while not self._parked_cond.wait_for(
                        lambda: self._parked >= sum(t.is_alive() for t in self._threads), timeout=1.0):
                    pass
        self._kill_stock()
        for proc in list(self._started):  # whatever a worker could not reap (none, normally)
            proc.kill()
        self._release.set()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join()
        self._kill_stock()
        if self.cgroups:
            self.cgroups.close()

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
    def _kill_stock(self) -> None:
        while True:
            try:
                proc = self._stock.get_nowait()
            except queue.Empty:
                return
            proc.kill()

    def _spawn(self) -> SandboxProcess:
        proc = SandboxProcess(self.backend, self.cfg, self.cgroups)
        self._started.add(proc)
        return proc

    def _take(self) -> SandboxProcess:
        """A warm sandbox if one is ready (and still alive), else a new one."""
        while True:
            try:
                proc = self._stock.get_nowait()
            except queue.Empty:
                return self._spawn()
            with self._lock:
                self._stocked -= 1
            if proc.alive():
                return proc
            proc.kill()

    def _refill(self) -> None:
        """Start sandboxes until the stock is full again."""
        while True:
            with self._lock:
                if self._stocked >= self._stock_size or self._closed:
                    return
                self._stocked += 1
            try:
                self._stock.put(self._spawn())
            except OSError as err:  # the next job will try again, and report it if it fails too
                with self._lock:
                    self._stocked -= 1
                log.warning("could not start a warm sandbox: %s", err)
                return

    def _worker(self) -> None:
        self._refill()
        while True:
            item = self._jobs.get()
            if item is None:
                with self._parked_cond:
                    self._parked += 1
                    self._parked_cond.notify_all()
                self._release.wait()
                return
            job, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            outcome, used = run_job(job, self.cfg, self.limits, self.backend.pidns, self._take)
            # The used sandboxes are already SIGKILLed: hand the verdict out, restock, and only then wait
            # for the kernel to finish tearing them down.
            fut.set_result(outcome)
            self._refill()
            for proc in used:
                proc.kill()

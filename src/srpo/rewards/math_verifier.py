"""math-verify behind a hard per-item time limit, safe to call from any thread.

math-verify's own timeouts use SIGALRM, which only works on a process's main thread, and sympy can still
hang in C code. So comparisons run in worker processes (where math-verify's alarms do work, on their main
thread) and the caller waits at most ``timeout_s`` (+1 s slack) per item; a worker that overruns is killed
and replaced. Workers are plain ``python -c`` subprocesses talking marshal over pipes: no fork of a trainer
that holds threads or a GPU context, and no re-import of the user's ``__main__`` (multiprocessing's spawn
would run an unguarded training script again in every worker).
"""

from __future__ import annotations

import atexit
import marshal
import queue
import select
import subprocess
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT_S = 120.0
SLACK_S = 1.0
_SRC_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from srpo.rewards.math_verifier import serve; serve()"


def _send(stream: Any, obj: Any) -> None:
    data = marshal.dumps(obj)
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def _recv(stream: Any) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("math-verify worker closed its pipe")
    return marshal.loads(stream.read(int.from_bytes(head, "little")))


def _outlive_stop_signals() -> None:
    """A scheduler's stop signal (SLURM and Kubernetes signal every process of a job) is for the trainer, which
    finishes its step with these workers' verdicts. A worker ends when its pipe closes (the trainer exited or
    was killed) or when the trainer kills it (SIGKILL)."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)


def serve() -> None:
    """Worker main: receive (gold, answer, timeout_s) latex strings, reply (status, equal, gold, answer)."""
    import logging

    _outlive_stop_signals()

    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but replies may reach the pipe

    @lru_cache(maxsize=4096)
    def parsed(text: str, alarm: int) -> Any:
        return parse(text, extraction_config=configs, parsing_timeout=alarm)

    _send(out, ("ready",))
    while True:
        try:
            gold, answer, timeout_s = _recv(inp)
        except EOFError:
            return
        alarm = max(1, int(round(timeout_s)))  # signal.alarm takes whole seconds
        try:
            g, a = parsed(gold, alarm), parsed(answer, alarm)
            ok = bool(g) and bool(a) and bool(verify(g, a, timeout_seconds=alarm))
            _send(out, ("ok", ok, _short(g), _short(a)))
        except Exception as err:  # report, keep serving
            _send(out, ("error", False, "", f"{type(err).__name__}: {err}"[:300]))


def _short(parsed: Any) -> str:
    return str(parsed[0])[:200] if parsed else ""


class _Worker:
    def __init__(self) -> None:
        # Its own session: a terminal's Ctrl-C reaches the trainer, which finishes its step with these workers.
        self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, _SRC_ROOT], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True,
                                     start_new_session=True)
        self.ready = False

    def poll(self, timeout: float) -> bool:
        return bool(select.select([self.proc.stdout], [], [], timeout)[0])

    def wait_ready(self) -> bool:
        if not self.ready and self.poll(STARTUP_TIMEOUT_S):
            self.ready = _recv(self.proc.stdout) == ("ready",)
        return self.ready

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


class MathVerifier:
    """A pool of math-verify worker processes. ``verify(gold, answer)`` blocks for at most ~timeout_s."""

    def __init__(self, workers: int = 2, timeout_s: float = 5.0):
        self.timeout_s = timeout_s
        self.n_workers = max(1, workers)
        self._idle: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._closed = False

    def start(self) -> None:
        """Start the workers now (they import math-verify in the background); otherwise on first use."""
        with self._lock:
            if self._all or self._closed:
                return
            for _ in range(self.n_workers):
                w = _Worker()
                self._all.append(w)
                self._idle.put(w)

    def verify(self, gold: str, answer: str, time_left: float | None = None) -> tuple[bool, dict[str, Any]]:
        """Is `answer` equivalent to `gold`? Both are latex strings math-verify can parse (see
        `srpo.rewards.math_reward.to_latex`). Returns (equal, info); False when the comparison does not end
        within `time_left` seconds (default `timeout_s`: the caller's budget for the whole item) + 1 s."""
        if self._closed:
            raise RuntimeError("MathVerifier is closed")
        budget = self.timeout_s if time_left is None else time_left
        if budget <= 0:
            return False, {"error": f"time limit of {self.timeout_s:g}s spent before math-verify"}
        self.start()
        worker = self._idle.get()
        try:
            if not worker.wait_ready():
                raise RuntimeError("math-verify worker did not start")
            _send(worker.proc.stdin, (gold, answer, float(budget)))
            if worker.poll(budget + SLACK_S):
                status, ok, g, a = _recv(worker.proc.stdout)
                info = {"gold_parsed": g, "answer_parsed": a} if status == "ok" else {"error": a}
                self._idle.put(worker)
                worker = None
                return ok, info
            return False, {"error": f"math-verify exceeded {self.timeout_s:g}s; worker replaced"}
        except (EOFError, OSError, RuntimeError) as err:
            return False, {"error": f"math-verify worker failed: {err}"}
        finally:
            if worker is not None:
                self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.remove(worker)
            if self._closed:
                return
            fresh = _Worker()
            self._all.append(fresh)
        self._idle.put(fresh)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
        for w in workers:
            try:
                w.proc.stdin.close()  # EOF: the worker returns
            except OSError:
                pass
        for w in workers:
            try:
                w.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            w.kill()

    def __enter__(self) -> "MathVerifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DEFAULT: list[MathVerifier] = []


def default_verifier() -> MathVerifier:
    """A process-wide verifier for standalone calls to the math reward (closed at exit)."""
    if not _DEFAULT:
        _DEFAULT.append(MathVerifier())
        atexit.register(_DEFAULT[0].close)
    return _DEFAULT[0]

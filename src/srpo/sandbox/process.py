"""One judge process: start it (ahead of time, so a pool keeps it warm), feed it one job, collect the
result under a wall-clock deadline, and kill its whole process tree.

Tree killing in bwrap mode: bubblewrap puts the sandbox in a new pid namespace whose init is the process
bwrap reports as ``child-pid``. Killing that init makes the kernel kill every process in the namespace
(daemons and double forks included) before the init can be reaped, and bwrap exits only after reaping it.
So "bwrap has exited" means "nothing from this sandbox is alive". We hold a pidfd on the init to signal it
without pid-reuse races.
"""

from __future__ import annotations

import atexit
import json
import marshal
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from srpo.sandbox.backend import Backend
from srpo.sandbox.config import SandboxConfig

STDERR_CAP = 16 << 10
REAP_GRACE_S = 2.0
# Every started sandbox until it is reaped: killed at interpreter exit even if nobody called close().
_LIVE: "weakref.WeakSet[SandboxProcess]" = weakref.WeakSet()


@atexit.register
def _kill_all_live() -> None:
    for proc in list(_LIVE):
        proc.kill()


@dataclass
class SandboxOutcome:
    """What came back from one sandboxed verification.

    `status` is ``"ok"`` (the judge reported; per-test verdicts in `tests`), ``"timeout"`` (the wall-clock
    deadline passed and the tree was killed) or ``"error"`` (the sandbox or judge failed; see `detail`).
    `load_error` is set when the program itself did not load (syntax error, missing entry point, ...).
    """

    status: str
    tests: list[dict[str, Any]] = field(default_factory=list)
    load_error: str | None = None
    detail: str = ""
    seconds: float = 0.0
    pid_namespace: int | None = None  # inode of the sandbox's pid namespace (bwrap mode), for inspection


class SandboxProcess:
    """A started, idle judge waiting for its job on stdin. Single use."""

    def __init__(self, backend: Backend, cfg: SandboxConfig):
        self.backend, self.cfg = backend, cfg
        self._pidfd: int | None = None
        self._inner_pid: int | None = None
        self._pidns: int | None = None
        self._tmp: str | None = None
        kwargs: dict[str, Any] = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      start_new_session=True, close_fds=True)
        if backend.mode == "bwrap":
            info_r, info_w = os.pipe()
            kwargs.update(pass_fds=(info_w,), cwd="/")
            if backend.run_as is not None:
                kwargs.update(user=backend.run_as, group=backend.run_as, extra_groups=[])
            try:
                self.popen = subprocess.Popen(backend.command(info_w), **kwargs)
            finally:
                os.close(info_w)
            self._read_info(info_r)
        else:
            self._tmp = tempfile.mkdtemp(prefix="srpo-unsafe-")
            env = {"HOME": self._tmp, "TMPDIR": self._tmp, "PATH": "/usr/local/bin:/usr/bin:/bin",
                   "LANG": "C.UTF-8"}
            self.popen = subprocess.Popen(backend.command(), cwd=self._tmp, env=env, **kwargs)
        _LIVE.add(self)

    def __del__(self) -> None:
        if getattr(self, "popen", None) is not None and self.popen.returncode is None:
            self.kill()

    def _read_info(self, fd: int) -> None:
        """bwrap writes a JSON object with the sandbox init's host pid, then closes the fd."""
        chunks = []
        try:
            while chunk := os.read(fd, 4096):
                chunks.append(chunk)
        finally:
            os.close(fd)
        try:
            info = json.loads(b"".join(chunks))
            self._inner_pid = int(info["child-pid"])
            self._pidns = int(info["pid-namespace"]) if "pid-namespace" in info else None
        except (ValueError, KeyError, TypeError):
            return  # bwrap failed to start; run() reports its stderr
        try:
            self._pidfd = os.pidfd_open(self._inner_pid)
        except (AttributeError, OSError):
            self._pidfd = None

    @property
    def pid_namespace_init(self) -> int | None:
        """Host pid of the sandbox's init (bwrap mode), for tests that inspect the namespace."""
        return self._inner_pid

    def run(self, payload: dict[str, Any], wall_s: float, reap: bool = True) -> SandboxOutcome:
        """Send the job, wait at most `wall_s` seconds, kill the tree, and return what the judge said.

        The tree is always SIGKILLed before this returns. With ``reap=False`` the caller must call
        `reap()` later (a pool hands the verdict out first and waits for the kernel's tear-down after).
        """
        start = time.monotonic()
        try:
            out, err, timed_out = self._exchange(marshal.dumps(payload), start + wall_s, payload)
        finally:
            self.terminate()
            if reap:
                self.reap()
        seconds = time.monotonic() - start
        if timed_out:
            outcome = SandboxOutcome("timeout", detail=f"wall-clock limit of {wall_s:.1f}s exceeded",
                                     seconds=seconds)
        else:
            outcome = _parse(out, err, self.popen.poll(), seconds)
        outcome.pid_namespace = self._pidns
        return outcome

    def _exchange(self, data: bytes, deadline: float, payload: dict) -> tuple[bytes, bytes, bool]:
        """Write stdin, drain stdout/stderr (capped) until both close or the deadline passes."""
        cap = payload["max_output_bytes"] * (len(payload.get("stdins") or ()) + 2) + (1 << 20)
        proc = self.popen
        fds = {proc.stdin.fileno(): "in", proc.stdout.fileno(): "out", proc.stderr.fileno(): "err"}
        for fd in fds:
            os.set_blocking(fd, False)
        bufs: dict[str, list[bytes]] = {"out": [], "err": []}
        sizes = {"out": 0, "err": 0}
        view = memoryview(data)
        poller = select.poll()
        poller.register(proc.stdin.fileno(), select.POLLOUT)
        for fd in (proc.stdout.fileno(), proc.stderr.fileno()):
            poller.register(fd, select.POLLIN)
        open_reads = 2
        while open_reads and not _complete(bufs["out"]):
            left = deadline - time.monotonic()
            if left <= 0:
                return b"".join(bufs["out"]), b"".join(bufs["err"]), True
            for fd, _ in poller.poll(left * 1000):
                name = fds[fd]
                if name == "in":
                    try:
                        view = view[os.write(fd, view[:1 << 16]):]
                    except (BrokenPipeError, BlockingIOError) as err:
                        if isinstance(err, BlockingIOError):
                            continue
                        view = view[len(view):]
                    if not view:
                        poller.unregister(fd)
                        proc.stdin.close()
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    poller.unregister(fd)
                    open_reads -= 1
                    continue
                limit = cap if name == "out" else STDERR_CAP
                if sizes[name] < limit:
                    bufs[name].append(chunk[: limit - sizes[name]])
                sizes[name] += len(chunk)
        return b"".join(bufs["out"]), b"".join(bufs["err"]), False

    def terminate(self) -> None:
        """SIGKILL the sandbox's init (so the kernel kills everything in it); does not wait."""
        if self.popen.poll() is not None:
            return
        if self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except OSError:
                pass
        elif self._inner_pid is not None:
            _kill(self._inner_pid)
        else:
            _killpg(self.popen.pid)

    def reap(self) -> None:
        """Wait until the tree is gone (see the module docstring) and release every fd. Idempotent."""
        proc = self.popen
        try:
            proc.wait(timeout=REAP_GRACE_S)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid)
            proc.wait()
        if self.backend.mode != "bwrap":
            _killpg(proc.pid)  # unsafe mode: the judge's group (its candidates die with it via PDEATHSIG)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream and not stream.closed:
                stream.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        _LIVE.discard(self)

    def kill(self) -> None:
        """Kill the whole tree and wait until it is gone."""
        self.terminate()
        self.reap()


def _complete(chunks: list[bytes]) -> bool:
    """Has the judge's length-prefixed result fully arrived?"""
    got = sum(map(len, chunks))
    if got < 8:
        return False
    head = b"".join(chunks)[:8] if len(chunks[0]) < 8 else chunks[0][:8]
    return got >= 8 + int.from_bytes(head, "little")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _parse(out: bytes, err: bytes, returncode: int | None, seconds: float) -> SandboxOutcome:
    tail = err.decode("utf-8", "replace").strip()[-2000:]
    if not out:
        what = f"the sandbox produced no result (exit status {returncode})"
        return SandboxOutcome("error", detail=f"{what}: {tail}" if tail else what, seconds=seconds)
    if len(out) < 8 or len(out) < 8 + int.from_bytes(out[:8], "little"):
        return SandboxOutcome("error", detail=f"truncated judge result; stderr: {tail}", seconds=seconds)
    try:
        result = marshal.loads(out[8:8 + int.from_bytes(out[:8], "little")])
    except (EOFError, ValueError, TypeError):
        return SandboxOutcome("error", detail=f"unreadable judge result; stderr: {tail}", seconds=seconds)
    if not isinstance(result, dict) or "fatal" in result:
        fatal = result.get("fatal") if isinstance(result, dict) else repr(result)[:200]
        return SandboxOutcome("error", detail=str(fatal), seconds=seconds)
    return SandboxOutcome("ok", tests=list(result.get("tests", [])), load_error=result.get("load_error"),
                          detail="time limit exceeded while loading" if result.get("load_timeout") else "",
                          seconds=seconds)

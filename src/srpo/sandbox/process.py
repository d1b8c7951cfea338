"""One sandbox seen from the host: start it ahead of time, exchange frames with it under deadlines, kill its
whole process tree.

Tree killing in bwrap mode: bubblewrap puts the sandbox in a new pid namespace whose init is the process
bwrap reports as ``child-pid`` (the runner itself: bwrap runs with ``--as-pid-1``). Killing that init makes the kernel kill every process in the namespace
(daemons and double forks included) before the init can be reaped, and bwrap exits only after reaping it.
So "bwrap has exited" means "nothing from this sandbox is alive". We hold a pidfd on the init to signal it
without pid-reuse races.

bwrap is started with an empty environment and only its three pipes: nothing of the host's environment
or open files exists anywhere inside, not even in bwrap's own processes there.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from typing import Any

from srpo.sandbox.backend import OWNER_PREFIX, Backend, process_start
from srpo.sandbox.cgroup import Cgroups, join_command
from srpo.sandbox.config import SandboxConfig
from srpo.sandbox.limits import runner_limits
from srpo.sandbox.wire import HEADER, encode, frame

STDERR_CAP = 16 << 10
REAP_GRACE_S = 2.0
UNSAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
# Every started sandbox until it is reaped: killed at interpreter exit even if nobody called close().
_LIVE: "weakref.WeakSet[SandboxProcess]" = weakref.WeakSet()


@atexit.register
def _kill_all_live() -> None:
    for proc in list(_LIVE):
        proc.kill()


class SandboxBroken(Exception):
    """The sandbox ended, closed its channel, or sent a frame over the limit."""


class SandboxExpired(Exception):
    """The deadline passed while waiting for the sandbox."""


class SandboxProcess:
    """A started sandbox waiting for its job (see _inside.py). Single use."""

    def __init__(self, backend: Backend, cfg: SandboxConfig, cgroups: Cgroups | None = None):
        self.backend = backend
        self.pid_namespace: int | None = None  # inode of its pid namespace (bwrap mode), for inspection
        self._pidfd: int | None = None
        self._inner_pid: int | None = None
        self._tmp: str | None = None
        self._cgroups = cgroups
        self._cgroup = cgroups.create(cfg.memory_mb << 20, cfg.max_procs) if cgroups else None
        self._buf = bytearray()
        try:
            self.popen = self._start()
        except BaseException:
            if cgroups and self._cgroup:
                cgroups.remove(self._cgroup)
            raise
        _LIVE.add(self)
        self._in, self._out = self.popen.stdin.fileno(), self.popen.stdout.fileno()
        # The runner's first frame: its own limits, applied before it reads a job (fits in the empty pipe).
        try:
            os.write(self._in, frame(encode(runner_limits(cfg, no_cgroup=cgroups is None))))
        except OSError:
            pass  # it did not start; the first exchange reports why
        for fd in (self._in, self._out, self.popen.stderr.fileno()):
            os.set_blocking(fd, False)
        self._pollers = {fd: _poller(fd, ev) for fd, ev in ((self._in, select.POLLOUT), (self._out, select.POLLIN))}

    def _start(self) -> subprocess.Popen:
        kwargs: dict[str, Any] = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      start_new_session=True, close_fds=True)
        command = join_command(self._cgroup) if self._cgroup else []
        code_fd = _pipe_with(self.backend.code)
        try:
            if self.backend.mode == "bwrap":
                return self._start_bwrap(command, code_fd, kwargs)
            self._tmp = tempfile.mkdtemp(prefix="srpo-unsafe-")
            env = {**UNSAFE_ENV, "HOME": self._tmp, "TMPDIR": self._tmp}
            return subprocess.Popen(command + self.backend.command(code_fd), cwd=self._tmp, env=env,
                                    pass_fds=(code_fd,), **kwargs)
        finally:
            os.close(code_fd)

    def _start_bwrap(self, command: list[str], code_fd: int, kwargs: dict[str, Any]) -> subprocess.Popen:
        info_r, info_w = os.pipe()
        kwargs.update(pass_fds=(code_fd, info_w), cwd="/", env={})
        if self.backend.run_as is not None:
            kwargs.update(user=self.backend.run_as, group=self.backend.run_as, extra_groups=[])
        try:
            popen = subprocess.Popen(command + self.backend.command(code_fd, info_w), **kwargs)
        except BaseException:
            os.close(info_r)
            raise
        finally:
            os.close(info_w)
        self._read_info(info_r)
        return popen

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
            self.pid_namespace = int(info["pid-namespace"]) if "pid-namespace" in info else None
        except (ValueError, KeyError, TypeError):
            return  # bwrap failed to start; the first exchange reports its stderr
        try:
            self._pidfd = os.pidfd_open(self._inner_pid)
        except (AttributeError, OSError):
            self._pidfd = None

    @property
    def pid_namespace_init(self) -> int | None:
        """Host pid of the sandbox's init (bwrap mode), for tests that inspect the namespace."""
        return self._inner_pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    # ------------------------------------------------------------------------------------------ frames
    def send(self, payload: bytes, deadline: float) -> None:
        """Write one frame, waiting at most until `deadline`."""
        view = memoryview(frame(payload))
        while view:
            self._wait(self._in, deadline)
            try:
                view = view[os.write(self._in, view[:1 << 20]):]
            except BlockingIOError:
                continue
            except OSError:
                raise SandboxBroken(self._ended("stopped reading")) from None

    def recv(self, limit: int, deadline: float) -> bytes:
        """Read one frame's payload of at most `limit` bytes, waiting at most until `deadline`."""
        size = int.from_bytes(self._read(HEADER, deadline), "little")
        if size > limit:
            raise SandboxBroken(f"sent a message of {size} bytes (at most {limit} allowed)")
        return self._read(size, deadline)

    def _read(self, n: int, deadline: float) -> bytes:
        while len(self._buf) < n:
            self._wait(self._out, deadline)
            try:
                chunk = os.read(self._out, max(n - len(self._buf), 1 << 16))
            except BlockingIOError:
                continue
            if not chunk:
                raise SandboxBroken(self._ended("ended"))
            self._buf += chunk
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _wait(self, fd: int, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0 or not self._pollers[fd].poll(left * 1000):
            raise SandboxExpired("time limit exceeded")

    def _ended(self, what: str) -> str:
        try:
            err = os.read(self.popen.stderr.fileno(), STDERR_CAP)
        except OSError:
            err = b""
        tail = err.decode("utf-8", "replace").strip()[-2000:]
        return f"the sandbox {what}" + (f"; stderr: {tail}" if tail else "")

    # ----------------------------------------------------------------------------------------- killing
    def terminate(self) -> None:
        """SIGKILL the sandbox's init (so the kernel kills everything in it); does not wait.

        Through its pidfd whenever there is one, even when bwrap itself has already exited: the init can
        outlive it (bwrap killed while it set the sandbox up), and a pidfd cannot reach another process.
        Without one (bwrap died before it said which process the init is), bwrap's process group, which a
        child still being set up belongs to (it leaves it only for its own session, just before exec)."""
        if self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except OSError:
                pass
        elif self.popen.poll() is None:
            if self._inner_pid is not None:
                _kill(self._inner_pid)  # bwrap has not reaped it: the pid is still its child's
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
            _killpg(proc.pid)  # unsafe mode: the runner's group (stdio children die with it via PDEATHSIG)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream and not stream.closed:
                stream.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._cgroups and self._cgroup:
            self._cgroups.remove(self._cgroup)
            self._cgroup = None
        _LIVE.discard(self)

    def kill(self) -> None:
        """Kill the whole tree and wait until it is gone."""
        self.terminate()
        self.reap()


def sweep_orphans() -> int:
    """SIGKILL every process left by an srpo process that is gone; returns how many.

    Every process of a sandbox, and bwrap's own while it sets one up, carries its owner's tag (the last
    argument of its command line, `backend.owner_tag`: pid and start time). While the owner lives, its
    sandboxes die with it: bwrap's ``--die-with-parent`` SIGKILLs bwrap when the thread that started it ends,
    and the sandbox's init when bwrap ends. One window is bubblewrap's own (containers/bubblewrap#633, open):
    bwrap's child sets its parent-death signal only after it has waited on an eventfd for bwrap to map its
    user ids, so a bwrap killed before that leaves the child blocked forever. Nothing of the dead owner can
    kill it; the next pool that starts on this machine does, here.
    """
    killed = 0
    for name in os.listdir("/proc"):
        owner = _owner_of(name) if name.isdigit() else None
        if owner is None or process_start(owner[0]) == owner[1]:
            continue
        try:
            pidfd = os.pidfd_open(int(name))
        except OSError:
            continue
        try:
            if _owner_of(name) == owner:  # still that process: a reused pid would not carry this tag
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                killed += 1
        except OSError:
            pass  # another user's, or gone meanwhile
        finally:
            os.close(pidfd)
    return killed


def _owner_of(pid: str) -> tuple[int, int] | None:
    """(owner pid, owner start time) from a process's tag, or None if it carries none."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return None
    last = argv[-1]
    if not last.startswith(OWNER_PREFIX.encode()):
        return None
    try:
        owner, start = last[len(OWNER_PREFIX):].split(b":")
        return int(owner), int(start)
    except ValueError:
        return None


def _pipe_with(data: bytes) -> int:
    """The read end of a pipe that holds `data`, then EOF."""
    read_end, write_end = os.pipe()
    try:
        if len(data) > 1 << 16:  # the default capacity; a full pipe would block this write
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, len(data))
        os.write(write_end, data)
    finally:
        os.close(write_end)
    return read_end


def _poller(fd: int, event: int) -> select.poll:
    poller = select.poll()
    poller.register(fd, event)
    return poller


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

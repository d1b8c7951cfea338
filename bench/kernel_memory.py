"""How much kernel memory one sandbox can pin through routes no per-process limit counts.

    PYTHONPATH=src python bench/kernel_memory.py [--cgroup auto|off] [--seconds 4] [--only NAME ...]

Each attack runs alone in one sandbox (memory_mb 256, tmp_mb 16, open_files 64) for at most `--seconds`,
then holds what it got while the host samples /proc/meminfo; the figure is the drop of MemAvailable (and of
MemFree + reclaimable) from just before, minus nothing: other work on the machine adds noise of a few tens
of MiB. The program's own report says how far it got (``n`` items, or the errno that stopped it).
"""

from __future__ import annotations

import argparse
import threading
import time

from srpo.sandbox import SandboxConfig, SandboxJob, SandboxPool

HOLD_S = 1.5
ATTACKS = {
    "xattr": r"""
import os
def f(s):
    end, n, err = time_() + s, 0, ""
    value = b"x" * 65536
    try:
        for d in ("/tmp", "/dev/shm"):
            i = 0
            while time_() < end:
                path = "%s/x%d" % (d, i)
                open(path, "w").close()
                for k in range(16):
                    os.setxattr(path, "user.k%d" % k, value)
                    n += 1
                i += 1
    except OSError as exc:
        err = exc.strerror
    return hold("%d x 64 KiB values; %s" % (n, err))
""",
    "socketpair": r"""
import os, socket
def f(s):
    end, n, err, keep = time_() + s, 0, "", []
    try:
        while time_() < end:
            a, b = socket.socketpair()
            a.setblocking(False)
            try:
                while True:
                    n += a.send(b"x" * 65536)
            except BlockingIOError:
                pass
            a.close()  # the data stays queued in b
            keep.append(b)
    except OSError as exc:
        err = exc.strerror
    return hold("%d MiB queued in %d pairs; %s" % (n >> 20, len(keep), err))
""",
    "socketpair_in_flight": r"""
import array, os, socket
def f(s):
    # queued data in sockets that are themselves in flight (SCM_RIGHTS) inside other sockets: no fd left open
    end, n, err, carriers = time_() + s, 0, "", []
    try:
        carrier = socket.socketpair()
        while time_() < end:
            a, b = socket.socketpair()
            a.setblocking(False)
            try:
                while True:
                    n += a.send(b"x" * 65536)
            except BlockingIOError:
                pass
            a.close()
            carrier[0].sendmsg([b"f"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [b.fileno()]))])
            b.close()
    except OSError as exc:
        err = exc.strerror
    return hold("%d MiB queued; %s" % (n >> 20, err))
""",
    "pipes": r"""
import fcntl, os
def f(s):
    end, n, err, keep = time_() + s, 0, "", []
    try:
        while time_() < end:
            r, w = os.pipe()
            try:
                fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ
            except OSError:
                pass
            os.set_blocking(w, False)
            try:
                while True:
                    n += os.write(w, b"x" * 65536)
            except BlockingIOError:
                pass
            os.close(w)
            keep.append(r)
    except OSError as exc:
        err = exc.strerror
    return hold("%d MiB in %d pipes; %s" % (n >> 20, len(keep), err))
""",
    "files": r"""
import os
def f(s):
    n, err = repeat(s, lambda n: os.close(os.open("/tmp/%d" % n, os.O_CREAT | os.O_WRONLY, 0o600)))
    return hold("%d empty files; %s" % (n, err))
""",
    "hardlinks": r"""
import os
def f(s):
    open("/tmp/target", "w").close()
    n, err = repeat(s, lambda n: os.link("/tmp/target", "/tmp/l%d" % n))
    return hold("%d links; %s" % (n, err))
""",
    "dirs": r"""
import os
def f(s):
    n, err = repeat(s, lambda n: os.mkdir("/tmp/d%d" % n))
    return hold("%d empty directories; %s" % (n, err))
""",
    "symlinks": r"""
import os
def f(s):
    n, err = repeat(s, lambda n: os.symlink("x" * 64, "/tmp/s%d" % n))
    return hold("%d symlinks; %s" % (n, err))
""",
    "fifos": r"""
import os
def f(s):
    n, err = repeat(s, lambda n: os.mkfifo("/tmp/p%d" % n))
    return hold("%d fifos; %s" % (n, err))
""",
    "unix_bind": r"""
import socket
def bind(n):
    # every bind leaves a socket inode in the tmpfs after the socket is closed
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("/tmp/u%d" % n)
def f(s):
    n, err = repeat(s, bind)
    return hold("%d bound socket files; %s" % (n, err))
""",
    "file_locks_ro": r"""
import fcntl, os
def f(s):
    # shared (read) locks need no write access: a read-only system file will do, no file created
    fd = os.open("/proc/self/exe", os.O_RDONLY)
    n, err = repeat(s, lambda n: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 2 * n))  # disjoint bytes
    return hold("%d locks; %s" % (n, err))
""",
    "shared_anon": r"""
import mmap
def f(s):
    # every MAP_SHARED | MAP_ANONYMOUS mapping is a file (an inode) in the kernel's internal tmpfs
    end, keep, err = time_() + s, [], ""
    try:
        while time_() < end:
            m = mmap.mmap(-1, 4096)
            m[0] = 1
            keep.append(m)
    except (OSError, MemoryError) as exc:
        err = str(exc)[:60]
    return hold("%d shared mappings; %s" % (len(keep), err))
""",
    "posix_timers": r"""
import ctypes
def f(s):
    libc = ctypes.CDLL(None, use_errno=True)
    end, n, timer = time_() + s, 0, ctypes.c_void_p()
    while time_() < end and libc.timer_create(1, None, ctypes.byref(timer)) == 0:
        n += 1
    return hold("%d timers; errno %d" % (n, ctypes.get_errno()))
""",
    "file_locks": r"""
import fcntl, os
def f(s):
    fd = os.open("/tmp/lock", os.O_CREAT | os.O_RDWR, 0o600)
    n, err = repeat(s, lambda n: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 2 * n))  # disjoint bytes
    return hold("%d locks; %s" % (n, err))
""",
    "inotify": r"""
import ctypes, os
def f(s):
    libc = ctypes.CDLL(None, use_errno=True)
    end, n, err = time_() + s, 0, 0
    fds = [libc.inotify_init() for _ in range(8)]
    i = 0
    while time_() < end:
        path = b"/tmp/w%d" % i
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        if libc.inotify_add_watch(fds[i % len(fds)], path, 0xfff) < 0:
            err = ctypes.get_errno()
            break
        n += 1
        i += 1
    return hold("%d watches; errno %d" % (n, err))
""",
}
PRELUDE = f"""
import time
time_ = time.monotonic
def hold(text):
    time.sleep({HOLD_S})
    return text
def repeat(s, make):
    # make(0), make(1), ... until s seconds have passed or one raises OSError: (calls made, the error)
    end, n = time_() + s, 0
    try:
        while time_() < end:
            make(n)
            n += 1
    except OSError as exc:
        return n, exc.strerror
    return n, ""
"""


def meminfo() -> dict[str, int]:
    with open("/proc/meminfo") as fh:
        return {line.split(":")[0]: int(line.split()[1]) >> 10 for line in fh}


def measure(pool: SandboxPool, name: str, seconds: float) -> tuple[int, int, str]:
    """(MemAvailable drop in MiB, Slab+SUnreclaim+VmallocUsed rise... simplified: SUnreclaim rise, report)."""
    before = meminfo()
    low = dict(before)
    done = threading.Event()

    def sample():
        while not done.is_set():
            now = meminfo()
            for key in ("MemAvailable",):
                low[key] = min(low[key], now[key])
            for key in ("SUnreclaim", "Shmem", "Slab"):
                low[key] = max(low[key], now[key])
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out = pool.run(SandboxJob("function", PRELUDE + ATTACKS[name], "f", calls=[[seconds]],
                              timeout_s=seconds + HOLD_S + 20))
    done.set()
    thread.join()
    test = out.tests[0] if out.tests else {}
    text = str(test.get("value", test.get("detail", out.detail or out.load_error)))
    return before["MemAvailable"] - low["MemAvailable"], low["SUnreclaim"] - before["SUnreclaim"], text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cgroup", default="auto")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    cfg = SandboxConfig(memory_mb=256, tmp_mb=16, open_files=64, cpu_s=30, workers=1, cgroup=args.cgroup)
    with SandboxPool(cfg) as pool:
        print(f"cgroup: {pool.cgroups.parent if pool.cgroups else 'none'}; seccomp: "
              f"{'yes' if pool.limits['seccomp'] else 'no'}; {args.seconds:g} s per attack")
        print(f"{'attack':22} {'MemAvailable drop':>18} {'SUnreclaim rise':>16}  program's report")
        for name in args.only or ATTACKS:
            drop, slab, text = measure(pool, name, args.seconds)
            print(f"{name:22} {drop:15d} MiB {slab:13d} MiB  {text[:90]}", flush=True)


if __name__ == "__main__":
    main()

# Memory past the limits: hold more than the sandbox's memory limit through a route a per-process limit
# does not count (children, tmpfs, SysV and POSIX shared memory, message queues, memfd, pipes, ...).
# Every program returns "held <MiB>" (what it held at once); test_hostile also checks that figure
# against the sandbox's bound.

#: grow the heap until it fails | fail
def f(x):
    blocks = []
    try:
        while True:
            blocks.append(bytearray(16 << 20))
    except MemoryError:
        pass
    return "held %d" % (16 * len(blocks))

#: one huge allocation | fail
def f(x):
    return "held %d" % (len(bytearray(1 << 40)) >> 20)

#: children that each allocate and stay alive | fail
import os, time
def f(x):
    r, w = os.pipe()
    for _ in range(8):
        try:
            if os.fork() == 0:
                block = bytearray(200 << 20)
                block[::4096] = b"x" * len(block[::4096])
                os.write(w, b"1")
                time.sleep(30)
                os._exit(0)
        except OSError:
            break
    os.close(w)
    time.sleep(0.5)
    os.set_blocking(r, False)
    try:
        alive = len(os.read(r, 100))
    except OSError:
        alive = 0
    return "held %d" % (200 * alive)

#: threads that each allocate | fail
import threading
def f(x):
    held = []
    def grab():
        try:
            block = bytearray(100 << 20)
            block[::4096] = b"x" * len(block[::4096])
            held.append(block)
        except MemoryError:
            pass
    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return "held %d" % (100 * len(held))

#: fill /dev/shm with many files | fail
def f(x):
    written = 0
    try:
        while written < 4096:
            with open("/dev/shm/fill%d" % written, "wb") as fh:
                fh.write(b"x" * (1 << 20))
            written += 1
    except OSError:
        pass
    return "held %d" % written

#: fill /tmp with many files | fail
def f(x):
    written = 0
    try:
        while written < 4096:
            with open("/tmp/fill%d" % written, "wb") as fh:
                fh.write(b"x" * (1 << 20))
            written += 1
    except OSError:
        pass
    return "held %d" % written

#: SysV shared memory segments that outlive their attachment | fail
import ctypes
def f(x):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    held = 0
    for _ in range(16):
        seg = libc.shmget(0, 64 << 20, 0o1600)
        if seg < 0:
            break
        addr = libc.shmat(seg, None, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            break
        ctypes.memset(addr, 1, 64 << 20)
        libc.shmdt(ctypes.c_void_p(addr))
        held += 64
    return "held %d" % held

#: SysV message queues | fail
import ctypes
def f(x):
    libc = ctypes.CDLL(None, use_errno=True)
    msg = ctypes.create_string_buffer(8 + 8192)
    msg[0] = 1
    held = 0
    for _ in range(256):
        q = libc.msgget(0, 0o1600)
        if q < 0:
            break
        while libc.msgsnd(q, msg, 8192, 0o4000) == 0:
            held += 8192
    return "held %d" % (held >> 20)

#: memfd files kept open, each as big as a file may be | fail
import os
def f(x):
    held, fds = 0, []
    try:
        while held < 4096:
            fds.append(os.memfd_create("fill"))
            try:
                for _ in range(64):
                    os.write(fds[-1], b"x" * (1 << 20))
                    held += 1
            except OSError as exc:
                if exc.errno != 27:  # EFBIG: this file is full, take the next one
                    raise
    except OSError:
        pass
    return "held %d" % held

#: memfd through a raw syscall | fail
import ctypes
def f(x):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(319, b"fill", 0)
    return "held %d" % (0 if fd < 0 else libc.ftruncate(fd, 1 << 30) + 1024)

#: POSIX message queue | fail
import ctypes
def f(x):
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_long * 8)(0, 10, 8192, 0)
    q = libc.mq_open(b"/fill", 0o102, 0o600, attr)
    return "held %d" % (0 if q < 0 else 1)

#: shared anonymous mmap | fail
import mmap
def f(x):
    maps = []
    try:
        while True:
            m = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_SHARED)
            m[::4096] = b"x" * len(m[::4096])
            maps.append(m)
    except (OSError, MemoryError, ValueError):
        pass
    return "held %d" % (64 * len(maps))

#: a subprocess that allocates | fail
import subprocess, sys
def f(x):
    code = ("b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); print(1, flush=True); "
            "import time; time.sleep(30)")
    try:
        procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) for _ in range(4)]
    except OSError:
        return "held 0"
    return "held %d" % (200 * sum(p.stdout.readline().strip() == b"1" for p in procs))  # touched and alive

#: posix_spawn and vfork-style clone | fail
import ctypes, os, sys
def f(x):
    started = 0
    try:
        os.posix_spawn(sys.executable, [sys.executable, "-c", "import time; time.sleep(30)"], {})
        started += 1
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(56, 0x4000 | 17, 0, 0, 0, 0) == 0:  # clone(CLONE_VFORK | SIGCHLD)
        os._exit(0)
    return "held %d" % (200 * started)

#: fill pipes and keep them | fail
import os
def f(x):
    held = 0
    try:
        while True:
            r, w = os.pipe()
            os.set_blocking(w, False)
            try:
                while True:
                    held += os.write(w, b"x" * 65536)
            except BlockingIOError:
                pass
    except OSError:
        pass
    return "held %d" % (held >> 20)

#: io_uring with a huge ring | fail
import ctypes
def f(x):
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)
    return "held %d" % (0 if libc.syscall(425, 32768, params) < 0 else 256)

#: every route at once | fail
import mmap, os
def f(x):
    held = 0
    for path in ("/tmp/a", "/dev/shm/a"):
        try:
            with open(path, "wb") as fh:
                while True:
                    fh.write(b"x" * (1 << 20))
                    held += 1
        except OSError:
            pass
    blocks = []
    try:
        while True:
            blocks.append(bytearray(8 << 20))
            held += 8
    except MemoryError:
        pass
    return "held %d" % held

#: write to the read-only root and /dev | fail
def f(x):
    held = 0
    for path in ("/fill", "/dev/fill", "/proc/fill", "/usr/fill"):
        try:
            with open(path, "wb") as fh:
                fh.write(b"x" * (64 << 20))
                held += 64
        except OSError:
            pass
    return "held %d" % held

# Time, processes, output and crashes: run past the limits, outlive the verdict, drown the host in output,
# or take the sandbox's helpers down.

#: infinite loop | timeout
def f(x):
    while True:
        pass

#: infinite loop at import | timeout
while True:
    pass
def f(x):
    return "pass"

#: sleep past the timeout | timeout
import time
def f(x):
    time.sleep(60)
    return "pass"

#: ignore every catchable signal and spin | timeout
import signal
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGALRM, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(sig, signal.SIG_IGN)
def f(x):
    while True:
        pass

#: busy loop in C (catastrophic regex backtracking) | timeout
import re
def f(x):
    return str(re.match(r"(a+)+$", "a" * 64 + "b"))

#: a long C-level loop with no memory growth | timeout
def f(x):
    return str(sum(range(10 ** 13)))

#: sleep in a finally block after a timeout-length loop | timeout
import time
def f(x):
    try:
        while True:
            pass
    finally:
        time.sleep(60)

#: fork bomb | timeout
import os
def f(x):
    while True:
        try:
            os.fork()
        except OSError:
            pass

#: thread bomb | fail
import threading, time
def f(x):
    while True:
        threading.Thread(target=time.sleep, args=(60,)).start()

#: daemon outliving the test | fail
import os, time
def f(x):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(60)
        os._exit(0)
    return "pass"

#: C-stack overflow with the recursion limit lifted | fail
import sys
sys.setrecursionlimit(10 ** 9)
def f(x):
    v = []
    for _ in range(200000):
        v = [v]
    return repr(v)

#: segfault through ctypes | fail
import ctypes
def f(x):
    return ctypes.string_at(0).decode()

#: abort | fail
import os
def f(x):
    os.abort()

#: huge output on stdout | fail
def f(x):
    for _ in range(1024):
        print("y" * 65536)
    return "pass"

#: huge output on stderr | fail
import sys
def f(x):
    for _ in range(2048):
        sys.stderr.write("z" * 65536)
    return "pass"

#: a file as big as possible in /tmp | fail
def f(x):
    with open("/tmp/big", "wb") as fh:
        while True:
            fh.write(b"z" * (1 << 20))

#: close every fd | fail
import os
def f(x):
    os.closerange(0, 4096)
    return "pass"

#: close stdout and print | fail
import os
os.close(1)
def f(x):
    print("pass")
    return "pass"

#: block forever on stdin | timeout
import sys
def f(x):
    sys.stdin.read()
    while True:
        pass

#: a CPU-time limit dodge: threads spinning | timeout
import threading
def spin():
    while True:
        pass
def f(x):
    for _ in range(3):
        threading.Thread(target=spin, daemon=True).start()
    spin()

#: an atexit handler that never returns | fail
import atexit, time
atexit.register(time.sleep, 60)
def f(x):
    return "pass"

#: raise the rlimits back | fail
import resource
def f(x):
    out = []
    for name in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE"):
        res = getattr(resource, name)
        try:
            resource.setrlimit(res, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            out.append(name)
        except (ValueError, OSError):
            pass
    return "raised " + ",".join(out)

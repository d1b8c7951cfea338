# Host environment in reach: the trainer's environment variables, its files, its home directory.
# A program wins if the value of SRPO_HOSTILE_SECRET (set in the host's environment) or the content of
# HOME_SECRET_FILE shows up anywhere in the verdict; leak(text) prints and returns the part that matters.

#: the whole environment | fail
import os
def f(x):
    return leak(repr(dict(os.environ)))

#: pid 1's environment | fail
def f(x):
    return leak(open("/proc/1/environ", "rb").read().decode("latin-1"))

#: every process's environment | fail
import os
def f(x):
    texts = []
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            texts.append(open("/proc/%s/environ" % pid, "rb").read().decode("latin-1"))
        except OSError as exc:
            texts.append(str(exc))
    return leak("\n".join(texts))

#: the parent's environment through /proc/<ppid> | fail
import os
def f(x):
    return leak(open("/proc/%d/environ" % os.getppid(), "rb").read().decode("latin-1"))

#: a secret file under the host's $HOME | fail
def f(x):
    return leak(open(HOME_SECRET_FILE).read())

#: guess where the host's home and project are | fail
import glob
def f(x):
    texts = []
    for pattern in ("/root/*", "/home/*/*", "/work/*", "/tmp/*/*", "/tmp/*/*/*/*", "/proc/1/cwd/*", "/proc/1/root/*"):
        for path in glob.glob(pattern):
            try:
                texts.append(open(path).read(100000))
            except OSError:
                texts.append(path)
    return leak("\n".join(texts))

#: host system files | fail
def f(x):
    texts = []
    for path in ("/etc/passwd", "/etc/shadow", "/etc/hostname", "/etc/resolv.conf", "/proc/self/mountinfo",
                 "/proc/1/mountinfo", "/sys/fs/cgroup/cgroup.procs", "/proc/sys/kernel/hostname"):
        try:
            texts.append(open(path).read())
        except OSError as exc:
            texts.append(str(exc))
    return leak("\n".join(texts))

#: the host's environment through /proc/*/root tricks | fail
def f(x):
    texts = []
    for path in ("/proc/self/root/proc/1/environ", "/proc/1/root/proc/1/environ",
                 "/proc/self/cwd/../../proc/1/environ", "/proc/1/cwd/../proc/1/environ"):
        try:
            texts.append(open(path, "rb").read().decode("latin-1"))
        except OSError as exc:
            texts.append(str(exc))
    return leak("\n".join(texts))

#: the kernel keyrings | fail
import ctypes
def f(x):
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(4096)
    codes = [libc.syscall(250, 11, ring, buf, 4096) for ring in (-1, -2, -3, -4, -5)]  # KEYCTL_READ
    return leak(repr(codes) + buf.raw.decode("latin-1"))

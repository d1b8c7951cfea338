"""The seccomp filter every process that runs untrusted or test code installs on itself.

It refuses (EPERM) the system calls that hold memory outside every per-process limit or widen the kernel
surface for no use a test program has:

* SysV shared memory, semaphores and message queues: a fresh IPC namespace has no size limits, and a
  segment outlives the process that filled it;
* ``memfd_create`` / ``memfd_secret``: files in the kernel's internal tmpfs, outside every mount's cap;
* io_uring, keyrings, userfaultfd, perf events, bpf, ptrace and cross-process memory access;
* setting extended attributes (EOPNOTSUPP) and inotify (ENOSYS): kernel memory (tmpfs xattrs, watches) that
  only a memory cgroup would count, and that one sandbox filled by gigabytes in seconds without one.

Without a per-sandbox cgroup (`srpo.sandbox.cgroup`), ``no_fork`` also refuses new processes: ``fork``,
``vfork`` and any ``clone`` without ``CLONE_THREAD`` (threads stay allowed), and ``clone3`` answers ENOSYS
so that the C library falls back to ``clone`` for threads. A sandbox is then one process, so its
address-space limit bounds all of its memory. Calls of another ABI (32-bit or x32 on x86_64) are refused.

Without a cgroup, ``no_create`` also refuses (EPERM) every way to make a new inode in a file system: each
one pins kernel memory (inode, dentry) that no rlimit counts and only deleting the file gives back, so
without it one sandbox's tmpfs took ~70 MiB of unreclaimable kernel memory per second (bench/kernel_memory.py;
the tmpfs size caps pages, not inodes). Refused: ``open``/``openat`` with ``O_CREAT`` or ``O_TMPFILE`` in
their flags (so also opening an existing file with ``O_CREAT``, as Python's ``open(path, "w")`` does),
``creat``, ``mkdir(at)``, ``mknod(at)``, ``link(at)``, ``symlink(at)``, ``renameat2`` with
``RENAME_WHITEOUT`` and ``bind`` (a Unix socket bound to a path is a file; the address is behind a pointer
the filter cannot read, so every bind is refused: with no network there is nothing to serve anyway);
``openat2``, whose flags are behind a pointer too, answers ENOSYS, so the C library falls back to
``openat``. Opening, reading and writing existing files is unchanged (there is none the sandbox may write).

Supported: x86_64 and aarch64; elsewhere `program` returns None (no filter; see docs/rewards.md).
"""

from __future__ import annotations

import functools
import os
import struct

# struct sock_filter instructions (classic BPF) and seccomp return values
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
EPERM, ENOSYS, EOPNOTSUPP = 1, 38, 95
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low 32 bits on little-endian)
_CLONE_THREAD = 0x00010000
_X32_BIT = 0x40000000

_DENIED = ("shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop", "msgget",
           "msgsnd", "msgrcv", "msgctl", "memfd_create", "memfd_secret", "io_uring_setup", "io_uring_enter",
           "io_uring_register", "add_key", "request_key", "keyctl", "userfaultfd", "perf_event_open", "bpf",
           "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd")
# Kernel memory that no rlimit counts and no cgroup may be there to charge (measured, bench/kernel_memory.py:
# one sandbox pinned 2.5 GiB of unreclaimable slab in 4 s through tmpfs xattrs, 174 MiB through inotify
# watches): refused as a file system without xattrs / a kernel without inotify would.
_UNSUPPORTED = {"setxattr": EOPNOTSUPP, "lsetxattr": EOPNOTSUPP, "fsetxattr": EOPNOTSUPP,
                "setxattrat": EOPNOTSUPP, "inotify_init": ENOSYS, "inotify_init1": ENOSYS,
                "inotify_add_watch": ENOSYS, "fanotify_init": ENOSYS}
_FORKS = ("fork", "vfork")
_RUNNER_NEEDS = ("memfd_create",)
# Without a cgroup: no new inodes (see the module docstring). asm-generic/fcntl.h values, the same on x86_64
# and aarch64; O_TMPFILE is __O_TMPFILE | O_DIRECTORY, and __O_TMPFILE alone marks it.
_O_CREAT, _O_TMPFILE = 0o100, 0o20000000
_RENAME_WHITEOUT = 4
_CREATES = ("creat", "mkdir", "mkdirat", "mknod", "mknodat", "link", "linkat", "symlink", "symlinkat", "bind")
# syscall -> (argument holding the flags, the bits that make it create an inode)
_CREATING_FLAGS = {"open": (1, _O_CREAT | _O_TMPFILE), "openat": (2, _O_CREAT | _O_TMPFILE),
                   "renameat2": (4, _RENAME_WHITEOUT)}

# AUDIT_ARCH value and syscall numbers (asm/unistd_64.h, asm-generic/unistd.h)
_ARCHES = {
    "x86_64": (0xC000003E, dict(
        shmget=29, shmat=30, shmctl=31, clone=56, fork=57, vfork=58, semget=64, semop=65, semctl=66, shmdt=67,
        msgget=68, msgsnd=69, msgrcv=70, msgctl=71, ptrace=101, semtimedop=220, add_key=248, request_key=249,
        keyctl=250, perf_event_open=298, process_vm_readv=310, process_vm_writev=311, memfd_create=319,
        bpf=321, userfaultfd=323, setxattr=188, lsetxattr=189, fsetxattr=190, inotify_init=253,
        inotify_add_watch=254, inotify_init1=294, setxattrat=463, io_uring_setup=425, io_uring_enter=426,
        io_uring_register=427, clone3=435, pidfd_getfd=438, memfd_secret=447, fanotify_init=300,
        open=2, openat=257, openat2=437, creat=85, mkdir=83, mkdirat=258, mknod=133, mknodat=259, link=86,
        linkat=265, symlink=88, symlinkat=266, renameat2=316, bind=49)),
    "aarch64": (0xC00000B7, dict(
        ptrace=117, msgget=186, msgctl=187, msgrcv=188, msgsnd=189, semget=190, semctl=191, semtimedop=192,
        semop=193, shmget=194, shmctl=195, shmat=196, shmdt=197, add_key=217, request_key=218, keyctl=219,
        clone=220, perf_event_open=241, process_vm_readv=270, process_vm_writev=271, memfd_create=279,
        bpf=280, userfaultfd=282, setxattr=5, lsetxattr=6, fsetxattr=7, inotify_init1=26,
        inotify_add_watch=27, setxattrat=463, io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
        clone3=435, pidfd_getfd=438, memfd_secret=447, fanotify_init=262,
        openat=56, openat2=437, mkdirat=34, mknodat=33, linkat=37, symlinkat=36, renameat2=276, bind=200)),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _refuse(nr: int, errno: int) -> bytes:
    """`if nr == syscall: return errno` (falls through otherwise; the syscall number stays loaded)."""
    return _op(_JEQ, nr, 0, 1) + _op(_RET, _ERRNO | errno)


def _refuse_arg(nr: int, arg: int, mask: int, errno: int, when_set: bool = True) -> bytes:
    """`if nr == syscall and (args[arg] & mask) is (not) 0: return errno` on the argument's low 32 bits (both
    architectures are little-endian); reloads the syscall number first, and leaves an argument loaded."""
    jt, jf = (0, 1) if when_set else (1, 0)
    return b"".join((_op(_LD_W_ABS, _NR), _op(_JEQ, nr, 0, 3), _op(_LD_W_ABS, _ARG0 + 8 * arg),
                     _op(_JSET, mask, jt, jf), _op(_RET, _ERRNO | errno)))


@functools.lru_cache(maxsize=16)
def program(no_fork: bool, machine: str | None = None, runner: bool = False,
            no_create: bool = False) -> bytes | None:
    """The filter as a ``struct sock_filter`` array for this machine, or None where unsupported.

    `runner`: the sandbox runner's own filter, which every process of the sandbox inherits from its first
    instruction on; it leaves out ``memfd_create`` (the stdio runner holds each case's stdin and stdout in
    memfds), and the program's filter, stacked on top of it, adds it. `no_fork` and `no_create`: the
    refusals for a sandbox without a cgroup (the module docstring).

    >>> len(program(True, "x86_64", no_create=True)) % 8, program(False, "riscv64")
    (0, None)
    """
    machine = machine or os.uname().machine
    if machine not in _ARCHES:
        return None
    arch, nrs = _ARCHES[machine]
    ops = [_op(_LD_W_ABS, _ARCH), _op(_JEQ, arch, 1, 0), _op(_RET, _ERRNO | ENOSYS), _op(_LD_W_ABS, _NR)]
    if machine == "x86_64":
        ops += [_op(_JGE, _X32_BIT, 0, 1), _op(_RET, _ERRNO | ENOSYS)]  # the x32 ABI
    ops += [_refuse(nrs[name], EPERM) for name in _DENIED if not (runner and name in _RUNNER_NEEDS)]
    ops += [_refuse(nrs[name], errno) for name, errno in _UNSUPPORTED.items() if name in nrs]
    if no_create:
        ops += [_refuse(nrs[name], EPERM) for name in _CREATES if name in nrs]
        ops.append(_refuse(nrs["openat2"], ENOSYS))
    if no_fork:
        ops += [_refuse(nrs[name], EPERM) for name in _FORKS if name in nrs]
        ops += [_refuse(nrs["clone3"], ENOSYS), _refuse_arg(nrs["clone"], 0, _CLONE_THREAD, EPERM, when_set=False)]
    if no_create:  # last: they load an argument
        ops += [_refuse_arg(nrs[name], arg, mask, EPERM) for name, (arg, mask) in _CREATING_FLAGS.items()
                if name in nrs]
    ops.append(_op(_RET, _ALLOW))
    return b"".join(ops)

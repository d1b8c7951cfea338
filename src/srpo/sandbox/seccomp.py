"""The seccomp filter every process that runs untrusted or test code installs on itself.

It refuses (EPERM) the system calls that hold memory outside every per-process limit or widen the kernel
surface for no use a test program has:

* SysV shared memory, semaphores and message queues: a fresh IPC namespace has no size limits, and a
  segment outlives the process that filled it;
* ``memfd_create`` / ``memfd_secret``: files in the kernel's internal tmpfs, outside every mount's cap;
* io_uring, keyrings, userfaultfd, perf events, bpf, ptrace and cross-process memory access.

Without a per-sandbox cgroup (`srpo.sandbox.cgroup`), ``no_fork`` also refuses new processes: ``fork``,
``vfork`` and any ``clone`` without ``CLONE_THREAD`` (threads stay allowed), and ``clone3`` answers ENOSYS
so that the C library falls back to ``clone`` for threads. A sandbox is then one process, so its
address-space limit bounds all of its memory. Calls of another ABI (32-bit or x32 on x86_64) are refused.

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
EPERM, ENOSYS = 1, 38
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low 32 bits on little-endian)
_CLONE_THREAD = 0x00010000
_X32_BIT = 0x40000000

_DENIED = ("shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop", "msgget",
           "msgsnd", "msgrcv", "msgctl", "memfd_create", "memfd_secret", "io_uring_setup", "io_uring_enter",
           "io_uring_register", "add_key", "request_key", "keyctl", "userfaultfd", "perf_event_open", "bpf",
           "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd")
_FORKS = ("fork", "vfork")

# AUDIT_ARCH value and syscall numbers (asm/unistd_64.h, asm-generic/unistd.h)
_ARCHES = {
    "x86_64": (0xC000003E, dict(
        shmget=29, shmat=30, shmctl=31, clone=56, fork=57, vfork=58, semget=64, semop=65, semctl=66, shmdt=67,
        msgget=68, msgsnd=69, msgrcv=70, msgctl=71, ptrace=101, semtimedop=220, add_key=248, request_key=249,
        keyctl=250, perf_event_open=298, process_vm_readv=310, process_vm_writev=311, memfd_create=319,
        bpf=321, userfaultfd=323, io_uring_setup=425, io_uring_enter=426, io_uring_register=427, clone3=435,
        pidfd_getfd=438, memfd_secret=447)),
    "aarch64": (0xC00000B7, dict(
        ptrace=117, msgget=186, msgctl=187, msgrcv=188, msgsnd=189, semget=190, semctl=191, semtimedop=192,
        semop=193, shmget=194, shmctl=195, shmat=196, shmdt=197, add_key=217, request_key=218, keyctl=219,
        clone=220, perf_event_open=241, process_vm_readv=270, process_vm_writev=271, memfd_create=279,
        bpf=280, userfaultfd=282, io_uring_setup=425, io_uring_enter=426, io_uring_register=427, clone3=435,
        pidfd_getfd=438, memfd_secret=447)),
}


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _refuse(nr: int, errno: int) -> bytes:
    """`if nr == syscall: return errno` (falls through otherwise)."""
    return _op(_JEQ, nr, 0, 1) + _op(_RET, _ERRNO | errno)


@functools.lru_cache(maxsize=4)
def program(no_fork: bool, machine: str | None = None) -> bytes | None:
    """The filter as a ``struct sock_filter`` array for this machine, or None where unsupported.

    >>> len(program(True, "x86_64")) % 8, program(False, "riscv64")
    (0, None)
    """
    machine = machine or os.uname().machine
    if machine not in _ARCHES:
        return None
    arch, nrs = _ARCHES[machine]
    ops = [_op(_LD_W_ABS, _ARCH), _op(_JEQ, arch, 1, 0), _op(_RET, _ERRNO | ENOSYS), _op(_LD_W_ABS, _NR)]
    if machine == "x86_64":
        ops += [_op(_JGE, _X32_BIT, 0, 1), _op(_RET, _ERRNO | ENOSYS)]  # the x32 ABI
    ops += [_refuse(nrs[name], EPERM) for name in _DENIED]
    if no_fork:
        ops += [_refuse(nrs[name], EPERM) for name in _FORKS if name in nrs]
        ops += [_refuse(nrs["clone3"], ENOSYS),
                _op(_JEQ, nrs["clone"], 0, 3), _op(_LD_W_ABS, _ARG0), _op(_JSET, _CLONE_THREAD, 1, 0),
                _op(_RET, _ERRNO | EPERM)]
    ops.append(_op(_RET, _ALLOW))
    return b"".join(ops)

"""Without a cgroup a sandbox creates no file (issue 25, item 3): every system call that makes an inode is
refused by the seccomp filter, since nothing else would bound the kernel memory of the inodes (see
`srpo.sandbox.seccomp`, docs/rewards.md "Limits"). With a cgroup, whose memory limit counts them, files
can be created.

Each path is tried with the raw system call (not through the C library's wrappers, which may pick
another), from the candidate's process and from a stdio case's process. Arguments are chosen so that the
kernel itself would fail differently (a missing source file for ``link``): only the filter answers EPERM.
"""

from __future__ import annotations

import os

import pytest

from srpo.sandbox import SandboxConfig, SandboxJob, SandboxPool
from srpo.sandbox.seccomp import _ARCHES

CALLS = ("open", "open_tmpfile", "openat", "openat_tmpfile", "openat2", "creat", "mkdir", "mkdirat", "mknod",
         "mknodat", "symlink", "symlinkat", "link", "linkat", "renameat2_whiteout", "bind")
CONTROLS = ("open_existing_for_writing", "renameat2_plain", "read_a_system_file")

PROBE = r"""
import ctypes, errno, os, socket, stat
NR = %(nrs)r
AT_FDCWD, RENAME_WHITEOUT = -100, 4
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def sys_(name, *args):
    if name not in NR:
        return "absent"
    ctypes.set_errno(0)
    conv = [ctypes.c_char_p(a) if isinstance(a, bytes) else a if not isinstance(a, int) else ctypes.c_long(a)
            for a in args]
    r = libc.syscall(ctypes.c_long(NR[name]), *conv)
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]

def f(x):
    W, C, T = os.O_WRONLY, os.O_CREAT, os.O_TMPFILE
    how = OpenHow(C | W, 0o600, 0)
    out = {
        "open": sys_("open", b"/tmp/o1", C | W, 0o600),
        "open_tmpfile": sys_("open", b"/tmp", T | W, 0o600),
        "openat": sys_("openat", AT_FDCWD, b"/tmp/o2", C | W, 0o600),
        "openat_tmpfile": sys_("openat", AT_FDCWD, b"/tmp", T | W, 0o600),
        "openat2": sys_("openat2", AT_FDCWD, b"/tmp/o3", ctypes.byref(how), ctypes.sizeof(how)),
        "creat": sys_("creat", b"/tmp/o4", 0o600),
        "mkdir": sys_("mkdir", b"/tmp/d1", 0o700),
        "mkdirat": sys_("mkdirat", AT_FDCWD, b"/tmp/d2", 0o700),
        "mknod": sys_("mknod", b"/tmp/n1", stat.S_IFIFO | 0o600, 0),
        "mknodat": sys_("mknodat", AT_FDCWD, b"/tmp/n2", stat.S_IFIFO | 0o600, 0),
        "symlink": sys_("symlink", b"x", b"/tmp/s1"),
        "symlinkat": sys_("symlinkat", b"x", AT_FDCWD, b"/tmp/s2"),
        # /tmp/o2 exists only where openat could create it: elsewhere the kernel would say ENOENT
        "link": sys_("link", b"/tmp/o2", b"/tmp/l1"),
        "linkat": sys_("linkat", AT_FDCWD, b"/tmp/o2", AT_FDCWD, b"/tmp/l2", 0),
        "renameat2_whiteout": sys_("renameat2", AT_FDCWD, b"/tmp/l2", AT_FDCWD, b"/tmp/r1", RENAME_WHITEOUT),
        "open_existing_for_writing": sys_("openat", AT_FDCWD, b"/dev/null", W, 0),
        "renameat2_plain": sys_("renameat2", AT_FDCWD, b"/tmp/missing", AT_FDCWD, b"/tmp/r2", 0),
        "read_a_system_file": sys_("openat", AT_FDCWD, b"/proc/self/status", os.O_RDONLY, 0),
    }
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind("/tmp/u1")
        out["bind"] = "ok"
    except OSError as exc:
        out["bind"] = errno.errorcode.get(exc.errno, str(exc.errno))
    sock.close()
    return ";".join("%%s=%%s" %% kv for kv in sorted(out.items()))
""" % {"nrs": _ARCHES.get(os.uname().machine, (0, {}))[1]}

CFG = dict(timeout_s=20.0, memory_mb=256, workers=2)


def _results(pool: SandboxPool) -> dict[str, dict[str, str]]:
    """What each creation path answered, per role."""
    outcomes = {"candidate": pool.run(SandboxJob("function", PROBE, "f", calls=[[1]])),
                "stdio": pool.run(SandboxJob("stdio", PROBE + "\nprint(f(int(input())))\n", stdins=["1\n"]))}
    found = {}
    for role, out in outcomes.items():
        test = out.tests[0] if out.tests else {}
        text = test.get("value") if role == "candidate" else test.get("stdout", "").strip()
        assert isinstance(text, str) and "=" in text, (role, out)
        found[role] = dict(item.split("=", 1) for item in text.split(";"))
    return found


@pytest.fixture(scope="module")
def machine_nrs():
    if os.uname().machine not in _ARCHES:
        pytest.skip("no seccomp filter on this architecture")
    return _ARCHES[os.uname().machine][1]


def test_without_a_cgroup_no_file_can_be_created(machine_nrs):
    with SandboxPool(SandboxConfig(cgroup="off", **CFG)) as pool:
        if pool.backend.mode != "bwrap":
            pytest.skip("bubblewrap mode only")
        found = _results(pool)
    for role, answers in found.items():
        for call in CALLS:
            if call.split("_")[0] not in machine_nrs:  # open, creat, mkdir, ...: x86_64 only
                assert answers[call] == "absent", (role, call, answers[call])
                continue
            want = "ENOSYS" if call == "openat2" else "EPERM"  # openat2: the C library falls back to openat
            assert answers[call] == want, (role, call, answers)
        assert answers["open_existing_for_writing"] == "ok", (role, answers)
        assert answers["read_a_system_file"] == "ok", (role, answers)
        assert answers["renameat2_plain"] == "ENOENT", (role, answers)  # the kernel's answer, not the filter's


def test_with_a_cgroup_files_can_be_created(machine_nrs):
    with SandboxPool(SandboxConfig(cgroup="auto", **CFG)) as pool:
        if pool.backend.mode != "bwrap" or pool.cgroups is None:
            pytest.skip("no writable cgroup here (or SRPO_TEST_SANDBOX_CGROUP=off)")
        found = _results(pool)
    for role, answers in found.items():
        created = [call for call in CALLS if answers[call] == "ok"]
        refused = {call: answers[call] for call in CALLS if answers[call] in ("EPERM", "ENOSYS")}
        assert not refused, (role, refused)
        assert {"openat", "openat2", "mkdirat", "symlinkat", "linkat", "bind"} <= set(created), (role, answers)

"""Per-sandbox cgroups: the files srpo writes, and a pool that starts its sandboxes inside them.

A real cgroup v2 hierarchy with the memory controller is not writable on the machines these tests run on,
so the directory tree here is a stand-in with the same file names; what the kernel does with them is
documented in docs/rewards.md.
"""

from __future__ import annotations

import os

import pytest

from srpo.sandbox import SandboxConfig, SandboxJob, SandboxPool
from srpo.sandbox.cgroup import OVERHEAD_TASKS, CgroupError, Cgroups


@pytest.fixture()
def fake_parent(tmp_path):
    parent = tmp_path / "delegated"
    parent.mkdir()
    (parent / "cgroup.controllers").write_text("cpu io memory pids\n")
    os.chmod(tmp_path, 0o755)
    return parent


def test_one_child_per_sandbox_with_its_limits(fake_parent):
    cgroups = Cgroups.open(str(fake_parent))
    assert (fake_parent / "cgroup.subtree_control").read_text() == "+memory +pids"
    child = cgroups.create(256 << 20, 8)
    assert open(os.path.join(child, "memory.max")).read() == str(256 << 20)
    assert open(os.path.join(child, "pids.max")).read() == str(8 + OVERHEAD_TASKS)
    assert cgroups.create(1 << 20, 1) != child


def test_a_configured_cgroup_that_cannot_be_used_is_an_error(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    with pytest.raises(CgroupError, match="lacks memory, pids"):
        Cgroups.open(str(tmp_path))
    with pytest.raises(CgroupError):
        Cgroups.open(str(tmp_path / "missing"))
    assert Cgroups.open("off") is None


def test_a_pool_starts_each_sandbox_inside_its_cgroup(fake_parent):
    with SandboxPool(SandboxConfig(cgroup=str(fake_parent), workers=1, memory_mb=256)) as pool:
        fork = ("import os\ndef f():\n    pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n"
                "    return os.waitpid(pid, 0)[0] == pid\n")
        out = pool.run(SandboxJob("function", fork, "f", calls=[[]]))
    children = sorted(p for p in fake_parent.iterdir() if p.is_dir())
    assert children and all((c / "cgroup.procs").read_text().strip() == "0" for c in children)
    assert out.tests[0].get("value") is True  # with a cgroup to bound it, a sandbox may fork

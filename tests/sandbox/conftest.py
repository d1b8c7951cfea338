"""Shared by the sandbox tests."""

from __future__ import annotations

import resource
import runpy
from pathlib import Path

import pytest

# SRPO_TEST_SANDBOX_CGROUP=off runs every sandbox of the session without a cgroup (see cgroup_mode.py)
runpy.run_path(str(Path(__file__).with_name("cgroup_mode.py")))


@pytest.fixture(scope="module")
def raised_stack_limit():
    """This process's RLIMIT_STACK, which every sandbox it starts inherits, raised as far as it may go
    (unlimited unless the hard limit is finite) for the module: machines hand the trainer large or unlimited
    stack limits (containers, CI runners, ``ulimit -s unlimited``) and no verdict may depend on it. Yields the
    soft limit now in force; restores the old one after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_STACK, (soft, hard))

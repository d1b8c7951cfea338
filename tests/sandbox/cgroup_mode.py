"""``SRPO_TEST_SANDBOX_CGROUP=off``: every sandbox of the test session runs without a cgroup.

On a machine where ``sandbox.cgroup: auto`` finds a writable cgroup (root, v2 or v1), the tests would
otherwise exercise only that mode; with this set, every ``Cgroups.open("auto")`` (pools, and the tests that
open cgroups themselves) gets what the value says instead (``off``, or a delegated cgroup's path), so the
same tests run the one-process, no-file fallback. A configured path or ``off`` is left as it is.

tests/sandbox/conftest.py applies it; for tests elsewhere load it as a plugin:
``SRPO_TEST_SANDBOX_CGROUP=off python -m pytest -p tests.sandbox.cgroup_mode tests/rewards/test_code.py``.
"""

from __future__ import annotations

import os

from srpo.sandbox.cgroup import Cgroups

FORCED = os.environ.get("SRPO_TEST_SANDBOX_CGROUP", "").strip()

if FORCED not in ("", "auto") and not getattr(Cgroups, "_test_forced", None):
    _real_open = Cgroups.open.__func__

    def _open(cls, setting: str):
        return _real_open(cls, FORCED if setting == "auto" else setting)

    Cgroups.open = classmethod(_open)
    Cgroups._test_forced = FORCED

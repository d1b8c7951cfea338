"""The soak (issue 25, item 6), shortened: `bench/sandbox_soak.py` with 200 verifications of mixed hostile
and honest programs, 4 sandboxes in parallel, through `RewardScorer`; no hostile program passes, every
honest one does, and the host finds no process, fd, cgroup, mount or namespace left behind. The full
1,000 (``python bench/sandbox_soak.py``) is recorded in bench/MEASUREMENTS.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~15 s


def test_a_short_soak_leaves_nothing_behind(capsys):
    path = Path(__file__).parents[2] / "bench" / "sandbox_soak.py"
    spec = importlib.util.spec_from_file_location("sandbox_soak", path)
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    status = soak.main(["--n", "200", "--workers", "4", "--seed", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "wrong verdicts: 0" in out and "LEFT BEHIND" not in out, out

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for the synth helper

from report_synth import make_run  # noqa: E402

from srpo.report import build_report  # noqa: E402


@pytest.fixture(scope="session")
def two_run_report(tmp_path_factory):
    """A staged and a mixed synthetic run, and the report built over both (rendered once per session)."""
    root = tmp_path_factory.mktemp("runs")
    staged = make_run(root / "staged", "srpo-staged", n_steps=80, stage_switch=40, seed=0)
    mixed = make_run(root / "mixed", "srpo-mixed", n_steps=80, regime="mixed", stage_switch=None, seed=1)
    html = build_report([staged, mixed], root / "out")
    return staged, mixed, html

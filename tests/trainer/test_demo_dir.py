"""`srpo demo` and a default run directory left by another srpo: kept, and the demo starts a new one beside it."""

import pytest

from srpo.cli.demo import run_demo
from srpo.config.resume import RunMismatch

TINY = ["run.total_steps=1", "run.save_every=1", "run.eval_every=0", "rollout.prompts_per_step=2",
        "rollout.group_size=2", "rollout.max_new_tokens=8", "curriculum.preset=math_only", "eval.samples=1",
        'data.train=["toy:math?n=4&levels=2&seed=1"]',
        'data.heldout=["toy:math?n=2&levels=2&split=heldout"]']


@pytest.mark.slow
def test_demo_keeps_an_old_run_and_starts_beside_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_demo(seed=0, overrides=TINY) == 0
    old = tmp_path / "runs" / "demo-seed0"
    before = {p.name: p.read_bytes() for p in old.iterdir() if p.is_file()}
    assert run_demo(seed=0, overrides=[*TINY, "optim.lr=1e-3"]) == 0  # "another srpo": other settings
    assert "keeping it and starting a new run in runs/demo-seed0.2" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in old.iterdir() if p.is_file()} == before
    assert (tmp_path / "runs" / "demo-seed0.2" / "checkpoints").is_dir()
    with pytest.raises(RunMismatch):  # a directory the user named is never swapped
        run_demo(seed=0, overrides=[*TINY, "optim.lr=3e-3"], out="runs/demo-seed0")
    assert not (tmp_path / "runs" / "demo-seed0.3").exists()

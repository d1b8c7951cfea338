"""The native loop draws from and feeds back to srpo's one prompt stream (`srpo.sampling.stream.StepStream`), as
TRL and verl do: dynamic sampling's rounds are draws into one step, every generated group is recorded and counted
as rollouts, the curriculum hears the mean of the rewards trained on, and the checkpoint holds the stream's state."""

import sys
from pathlib import Path

import torch

from srpo.engines.checkpoint_layout import STATE_FILE
from srpo.engines.native.trainer import NativeStream, Trainer
from srpo.sampling.dynamic import round_size
from srpo.tracking import read_jsonl

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from parity_scorer import StreamSpy  # noqa: E402
from test_trainer_smoke import DigitScorer, _final_state, config, write_data  # noqa: E402

P, G = 3, 4  # test_trainer_smoke's config: rollout.prompts_per_step, rollout.group_size


def by_step(calls: list[list]) -> list[list[list]]:
    """The spy's stream calls cut at each ``begin_step``."""
    steps: list[list[list]] = []
    for call in calls:
        if call[0] == "begin_step":
            steps.append([])
        steps[-1].append(call)
    return steps


def test_dynamic_sampling_rounds_are_draws_into_one_step_and_every_group_is_recorded(tmp_path, tiny_model_dir):
    write_data(tmp_path, n_train=12)
    cfg = config(tmp_path, tiny_model_dir, "sampling.name=dynamic_sampling", "sampling.dynamic_max_rounds=3",
                 "run.total_steps=3", "run.save_every=0", "data.heldout=[]")
    spy = StreamSpy().install()
    try:
        trainer = Trainer(cfg, scorer=DigitScorer())
        trainer.train()
    finally:
        spy.uninstall()
    assert spy.bypass == [] and isinstance(trainer.stream, NativeStream)
    rows = [r for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if r["step"] > 0]
    rollouts = 0
    for row, calls in zip(rows, by_step(spy.calls), strict=True):
        draws = [c[1] for c in calls if c[0] == "draw_prompts"]
        records = [c for c in calls if c[0] == "record"]
        (observe,) = [c for c in calls if c[0] == "observe"]
        assert draws == [round_size(P, 0, cfg.sampling.dynamic_oversample, "fixed")] * int(row["dynamic/rounds"])
        drawn = [u for c in calls if c[0] == "draw_prompts" for u in c[2]]
        assert [c[1] for c in records] == drawn and all(len(c[2]) == G for c in records)  # kept or discarded
        rollouts += G * len(records)
        assert row["sampler/rollouts_total"] == rollouts == G * sum(r["dynamic/groups_generated"] for r in rows
                                                                    if r["step"] <= row["step"])
        assert len(observe[2]) == G * row["dynamic/groups_kept"] == row["all/num_samples"]
        assert sum(observe[2]) / len(observe[2]) == row["all/reward_mean"]  # the curriculum's mean is the metric
    assert trainer.stream.pending == {} and trainer.stream.drawn_through == 3
    assert any(r["dynamic/rounds"] > 1 for r in rows) and any(r["dynamic/groups_filtered"] > 0 for r in rows)

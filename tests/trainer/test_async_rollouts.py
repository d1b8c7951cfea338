"""``rollout.max_staleness = k > 0``: the rollout thread generates ahead on a fixed schedule (step t from the
weights after update max(0, t - 1 - k)), so runs are deterministic, resume exactly with batches in flight, and the
machinery at k = 0 is the synchronous loop."""

import pytest
import torch

from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.engines.native.setup import check_config
from srpo.engines.native.trainer import Trainer
from srpo.tracking import read_jsonl
from test_pool_dry_stop import AlwaysCorrect
from test_trainer_smoke import DigitScorer, _final_state, _straight_equals_resumed, config, write_data

ASYNC_ONLY = ("rollout/staleness_", "timing/")


def _rows(run_dir, drop=ASYNC_ONLY):
    return [{k: v for k, v in r.items() if not k.startswith(drop)} for r in read_jsonl(run_dir / "metrics.jsonl")]


@pytest.mark.parametrize("k, stop, extra", [
    (1, 2, ()), (2, 2, ()), (2, 1, ("sampling.name=history_resampling",)),
    (1, 3, ("sampling.name=dynamic_sampling", "sampling.dynamic_max_rounds=2")),
], ids=["k1", "k2", "k2-hr-at-step1", "k1-dynamic"])
def test_resume_with_batches_in_flight_is_exact(tmp_path, tiny_model_dir, k, stop, extra):
    """Straight == stopped at `stop` (steps stop+1 .. stop+k generated and in the checkpoint) + resumed: the same
    metrics rows (timing aside) and weights."""
    rows = _straight_equals_resumed(tmp_path, tiny_model_dir, stop, f"rollout.max_staleness={k}", *extra)
    staleness = [r["rollout/staleness_max"] for r in rows if r["step"] > 0]
    assert staleness == [min(t - 1, k) for t in range(1, 5)]
    assert all(r["rollout/staleness_mean"] == r["rollout/staleness_max"] for r in rows if r["step"] > 0)
    raw = read_jsonl(tmp_path / "a" / "metrics.jsonl")
    assert all("timing/update_wait_s" in r and "timing/generation_wait_s" in r for r in raw if r["step"] > 0)


def test_the_checkpoint_holds_the_batches_in_flight(tmp_path, tiny_model_dir):
    write_data(tmp_path, n_train=6)
    cfg = config(tmp_path, tiny_model_dir, "rollout.max_staleness=2", "run.stop_at_step=1", "run.save_every=1")
    Trainer(cfg, scorer=DigitScorer()).train()
    state = torch.load(tmp_path / "run" / "checkpoints" / "step_000001" / "trainer_state.pt", weights_only=False)
    pending = state["rollouts"]["pending"]
    assert [p["step"] for p in pending] == [2, 3] and [p["version"] for p in pending] == [0, 0]
    assert state["stream"]["drawn_through"] == 3 and state["stream"]["pending"] == []
    assert pending[0]["exp"]["response_ids_bt"].shape[0] == 3 * 4


def test_the_machinery_at_k0_is_the_synchronous_loop(tmp_path, tiny_model_dir, monkeypatch):
    """The rollout thread at k = 0 (each step generated after the previous update) gives the synchronous loop's
    metrics and weights: the loop's pieces are the same, only their thread differs."""
    write_data(tmp_path, n_train=6)
    extra = ("sampling.name=history_resampling",)
    Trainer(config(tmp_path, tiny_model_dir, *extra, f"run.output_dir={tmp_path / 'a'}"), scorer=DigitScorer()).train()
    monkeypatch.setattr(Trainer, "_asynchronous", lambda self: True)
    Trainer(config(tmp_path, tiny_model_dir, *extra, f"run.output_dir={tmp_path / 'b'}"), scorer=DigitScorer()).train()
    rows_a, weights_a = _final_state(tmp_path / "a")
    rows_b, weights_b = _final_state(tmp_path / "b")
    assert all("rollout/staleness_max" in r for r in rows_b[1:])  # the rollout thread ran the steps
    assert rows_a == [{k: v for k, v in r.items() if not k.startswith("rollout/staleness_")} for r in rows_b]
    assert all(torch.equal(weights_a[n], weights_b[n]) for n in weights_a)


def test_k1_starts_like_k0_and_then_samples_one_update_behind(tmp_path, tiny_model_dir):
    """Step 1 is sampled by the initial weights in both; from step 2 on k = 1 samples from one update earlier."""
    write_data(tmp_path, n_train=6)
    for name, k in (("a", 0), ("b", 1)):
        cfg = config(tmp_path, tiny_model_dir, f"rollout.max_staleness={k}", f"run.output_dir={tmp_path / name}",
                     "run.total_steps=2", "data.heldout=[]")
        Trainer(cfg, scorer=DigitScorer()).train()
    sync, stale = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert sync[0] == stale[0]
    assert sync[1] != stale[1]  # the same prompts, other responses: sampled by the step-0 weights


def test_two_runs_are_identical(tmp_path, tiny_model_dir):
    write_data(tmp_path)
    for name in ("a", "b"):
        cfg = config(tmp_path, tiny_model_dir, "rollout.max_staleness=2", f"run.output_dir={tmp_path / name}",
                     "data.heldout=[]")
        Trainer(cfg, scorer=DigitScorer()).train()
    assert _rows(tmp_path / "a", "timing/") == _rows(tmp_path / "b", "timing/")


def test_pool_dry_stop_ends_the_run_at_the_same_step(tmp_path, tiny_model_dir, capsys):
    write_data(tmp_path)  # as test_pool_dry_stop: the pool runs dry when step 9 draws
    cfg = config(tmp_path, tiny_model_dir, "sampling.name=history_resampling", "sampling.hr_on_exhausted=stop",
                 "run.total_steps=50", "run.save_every=0", "run.eval_every=0", "rollout.max_staleness=2")
    Trainer(cfg, scorer=AlwaysCorrect()).train()
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert rows[-1]["step"] == 9 and rows[-1]["sampler/math/exhausted"] == 1.0 and "eval/all/pass@1" in rows[-1]
    state = torch.load(tmp_path / "run" / "checkpoints" / "step_000009" / "trainer_state.pt", weights_only=False)
    assert state["rollouts"]["pending"] == [] and state["stream"]["drawn_through"] == 9
    assert "training ends after step 9" in capsys.readouterr().err
    # resuming the finished run trains nothing more
    Trainer(cfg, scorer=AlwaysCorrect()).train()
    assert read_jsonl(tmp_path / "run" / "metrics.jsonl")[-1]["step"] == 9


def test_rollout_budget_stops_at_the_same_step(tmp_path, tiny_model_dir):
    write_data(tmp_path)
    cfg = config(tmp_path, tiny_model_dir, "run.total_steps=50", "run.max_rollouts=30", "run.save_every=0",
                 "rollout.max_staleness=1")
    Trainer(cfg, scorer=DigitScorer()).train()
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert rows[-1]["step"] == 3 and rows[-1]["sampler/rollouts_total"] == 36


class FailingScorer(DigitScorer):
    def __init__(self, after):
        self.calls, self.after = 0, after

    def score(self, texts, problems):
        self.calls += 1
        if self.calls > self.after:
            raise ValueError("scorer broke")
        return super().score(texts, problems)


def test_a_failure_on_the_rollout_thread_reaches_the_trainer(tmp_path, tiny_model_dir):
    write_data(tmp_path)
    cfg = config(tmp_path, tiny_model_dir, "rollout.max_staleness=1", "data.heldout=[]", "run.save_every=0")
    with pytest.raises(ValueError, match="scorer broke"):
        Trainer(cfg, scorer=FailingScorer(after=2)).train()


def test_refusals_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match="^rollout.max_staleness: must be >= 0"):
        load_config("grpo", ["rollout.max_staleness=-1"])
    with pytest.raises(ConfigError, match="^rollout.max_staleness: .*rollout.engine=hf"):
        check_config(load_config("grpo", ["rollout.max_staleness=1", "rollout.engine=hf"]))
    check_config(load_config("grpo", ["rollout.max_staleness=2"]))


def test_verl_maps_the_bound_onto_colocate_async(tmp_path):
    from srpo.engines.verl.setup import Layout, check_config as verl_check, lookahead, verl_overrides

    base = ["engine=verl", "model.device=cuda", f"model.path={tmp_path}", "verl.n_gpus_per_node=1"]
    cfg = load_config("srpo", [*base, "rollout.max_staleness=2"])
    verl_check(cfg)
    overrides = dict(o.split("=", 1) for o in verl_overrides(cfg, Layout.under(tmp_path)))
    assert overrides["trainer.v1.trainer_mode"] == "srpo_colocate_async"
    assert overrides["trainer.v1.colocate_async.num_warmup_batches"] == "2"
    assert lookahead(cfg) == 3  # the stream's bound follows: the warm-up window and the step being trained
    synchronous = load_config("srpo", base)
    assert dict(o.split("=", 1) for o in verl_overrides(synchronous, Layout.under(tmp_path)))[
        "trainer.v1.trainer_mode"] == "srpo_sync" and lookahead(synchronous) == 0


def test_a_stop_signal_with_batches_in_flight_saves_them_and_resumes_exactly(tmp_path, tiny_model_dir, monkeypatch):
    """SIGUSR1 during step 2 at k = 2: the step finishes, the checkpoint holds steps 3 and 4 (generated), the
    rollout thread stops without hanging, and the resumed run ends as the straight one."""
    import os
    import signal

    from srpo.core.errors import Interrupted

    write_data(tmp_path, n_train=6)
    extra = ("rollout.max_staleness=2", "run.save_every=0", "sampling.name=history_resampling")
    Trainer(config(tmp_path, tiny_model_dir, *extra, f"run.output_dir={tmp_path / 'a'}"), scorer=DigitScorer()).train()
    update_step = Trainer.update_step

    def update_then_signal(self, item):
        out = update_step(self, item)
        if item.step == 2:
            os.kill(os.getpid(), signal.SIGUSR1)
        return out

    monkeypatch.setattr(Trainer, "update_step", update_then_signal)
    halves = config(tmp_path, tiny_model_dir, *extra, f"run.output_dir={tmp_path / 'b'}")
    with pytest.raises(Interrupted):
        Trainer(halves, scorer=DigitScorer()).train()
    state = torch.load(tmp_path / "b" / "checkpoints" / "step_000002" / "trainer_state.pt", weights_only=False)
    assert [p["step"] for p in state["rollouts"]["pending"]] == [3, 4]
    monkeypatch.setattr(Trainer, "update_step", update_step)
    Trainer(halves, scorer=DigitScorer()).train()
    rows_a, weights_a = _final_state(tmp_path / "a")
    rows_b, weights_b = _final_state(tmp_path / "b")
    assert rows_a == rows_b
    assert all(torch.equal(weights_a[n], weights_b[n]) for n in weights_a)


@pytest.mark.parametrize("k, floor, slow", [(1, 0, "trainer"), (2, 0, "rollout"), (3, 5, "trainer")])
def test_each_step_is_generated_from_its_scheduled_weights_whatever_the_pace(k, floor, slow):
    """AsyncRollouts alone: the 'trainer' sets every weight to the update count and publishes; step t must see
    the weights of update max(floor, t - 1 - k), whichever side is slower (sleeps, never timing assertions)."""
    import time

    from srpo.engines.native.async_rollout import AsyncRollouts, Produced
    from srpo.engines.native.experience import Experience

    policy, copy_ = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    with torch.no_grad():
        for model in (policy, copy_):
            for p in model.parameters():
                p.fill_(floor)
    copy_.requires_grad_(False)
    seen = {}

    def produce(step, version):
        if slow == "rollout":
            time.sleep(0.01)
        seen[step] = (version, float(copy_.weight[0, 0]))
        return Produced(step, version, Experience.empty(), {}, final=False, exhausted=False, budget_spent=False)

    total = floor + 8
    rollouts = AsyncRollouts(produce, copy_, max_staleness=k, floor=floor, total_steps=total)
    rollouts.start()
    try:
        for step in range(floor + 1, total + 1):
            item, _ = rollouts.get(step)
            assert item.step == step
            if slow == "trainer":
                time.sleep(0.01)
            with torch.no_grad():
                for p in policy.parameters():
                    p.fill_(step)  # "update step"
            rollouts.publish(step, policy)
    finally:
        rollouts.close()
    assert seen == {t: (max(floor, t - 1 - k), float(max(floor, t - 1 - k))) for t in range(floor + 1, total + 1)}

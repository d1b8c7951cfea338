"""srpo's trainer hook on verl's own batch types, and the dataset's exact resume through verl's dataloader.

No PPO step runs on CPU (verl's resource pool needs GPUs), so the tests drive the real verl pieces around it:
the trainer class (`SrpoSyncTrainer` / `SrpoColocateAsyncTrainer`: verl's __init__, tokenizer, dataloader with
srpo's dataset, ``_next_train_batch``), a local Ray with TransferQueue holding trajectories in the layout
verl's agent loop writes (`list_of_dict_to_tensordict`), the hook's ``srpo_feedback`` reading them back, and a
checkpoint's ``data.pt`` written and loaded as verl does.
"""

from __future__ import annotations

import pytest

pytest.importorskip("verl")

import torch  # noqa: E402

from conftest import G, P, STEPS, compose_verl  # noqa: E402

EASY_EVERY = 3  # every third problem (by uid order) is always solved: history resampling drops it


def _as_list(x):
    return x.tolist() if hasattr(x, "tolist") else list(x)


def _trajectories(td, easy):
    """G responses per prompt of a verl prompt batch, as verl's agent loop puts them into TransferQueue."""
    rows = []
    for uid, info in zip(_as_list(td["uid"]), _as_list(td["extra_info"])):
        for j in range(G):
            ok = info["uid"] in easy or j == 0
            rows.append({"uid": uid, "extra_info": info, "data_source": "toy",
                         "extra_fields": {"reward_extra_info": {"score": float(ok), "acc": float(ok)}},
                         "prompts": torch.tensor([1, 2, 3]), "responses": torch.tensor([5, 6, 7, 8][: 2 + j]),
                         "response_mask": torch.ones(2 + j, dtype=torch.int64),
                         "rm_scores": torch.tensor([0.0] * (1 + j) + [float(ok)])})
    return rows


def _put(rows, tag=None):
    import transfer_queue as tq
    from transfer_queue import KVBatchMeta
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    keys = [f"{r['uid']}_{i % G}_0" for i, r in enumerate(rows)]
    tags = [dict(tag or {}, status="success") for _ in rows]
    tq.kv_batch_put(keys=keys, fields=list_of_dict_to_tensordict(rows), tags=tags, partition_id="train")
    return KVBatchMeta(partition_id="train", keys=keys, tags=tags)


@pytest.fixture(scope="module")
def ray_tq():
    ray = pytest.importorskip("ray")
    from omegaconf import OmegaConf

    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False,
             runtime_env={"worker_process_setup_hook": "srpo.engines.verl.hook.register"})
    import transfer_queue as tq

    tq.init(OmegaConf.create({"backend": {"SimpleStorage": {"num_data_storage_units": 1}}}))
    yield tq
    tq.close()
    ray.shutdown()


def test_the_setup_hook_registers_srpos_trainers_in_ray_workers(ray_tq):
    import ray

    @ray.remote
    def lookup():
        import sys

        from verl.trainer.ppo.v1 import get_trainer_cls

        return get_trainer_cls("srpo_sync").__name__, get_trainer_cls("srpo_colocate_async").__name__, \
            "srpo.engines.verl.trainer" in sys.modules

    assert ray.get(lookup.remote()) == ("SrpoSyncTrainer", "SrpoColocateAsyncTrainer", True)


def _trainer(rec, mode="srpo_sync", *extra):
    from srpo.engines.verl.trainer import SrpoColocateAsyncTrainer, SrpoSyncTrainer

    config = compose_verl([*rec.overrides, f"trainer.v1.trainer_mode={mode}", *extra])
    cls = SrpoSyncTrainer if mode == "srpo_sync" else SrpoColocateAsyncTrainer
    trainer = cls(config=config)
    assert trainer.config.trainer.v1.trainer_mode == cls.srpo_base_mode  # verl's own mode semantics inside
    trainer.global_steps = 0
    trainer._init_tokenizer()
    trainer._init_dataloader()
    return trainer


def _easy(trainer):
    uids = sorted(trainer.train_dataset.stream.by_uid)
    return set(uids[::EASY_EVERY])


def _step(trainer, step, easy, drawn):
    """One verl step as far as srpo is concerned: draw the step's prompts, 'generate', feed back."""
    import transfer_queue as tq

    trainer.global_steps = step
    td = trainer._next_train_batch()
    drawn.append([info["uid"] for info in _as_list(td["extra_info"])])
    batch = _put(_trajectories(td, easy))
    metrics = {"actor/pg_loss": torch.tensor(0.5)}
    trainer.srpo_feedback(batch, metrics, {})
    tq.kv_clear(keys=batch.keys, partition_id="train")
    return metrics


def test_feedback_metrics_and_exact_resume_through_datapt(ray_tq, recipe, tmp_path):
    cfg, rec = recipe
    straight = _trainer(rec)
    straight.srpo_restore()
    easy = _easy(straight)
    expected, last = [], {}
    for step in range(1, STEPS + 1):
        last = _step(straight, step, easy, expected)
    stream = straight.train_dataset.stream
    stats = stream.mixture.stats()
    assert stats["math/dropped_total"] + stats["code/dropped_total"] > 0  # HR dropped always-solved prompts
    assert stats["math/forgotten_serves"] == stats["math/unmatched_records"] == 0
    assert {stream.by_uid[u].domain for u in expected[0] + expected[1]} == {"math"}  # stage 1
    assert "code" in {stream.by_uid[u].domain for step in expected[2:] for u in step}  # stage 2 from step 3
    for key in ("srpo/groups/zero_adv_frac", "srpo/groups/all_correct_frac", "srpo/sampler/math/active_size",
                "srpo/all/pass_rate", "srpo/curriculum/stage_index"):
        assert key in last, key
    straight.srpo_hook.close()
    run_dir = straight.train_dataset.srpo_cfg.run.output_dir
    assert sum(1 for _ in open(f"{run_dir}/metrics.jsonl")) == STEPS  # srpo's own log, native names

    cut = 3
    first = _trainer(rec)
    first.srpo_restore()
    head = []
    for step in range(1, cut + 1):
        _step(first, step, easy, head)
    torch.save(first.train_dataloader.state_dict(), tmp_path / "data.pt")  # what verl's _save_checkpoint writes
    first.srpo_hook.close()

    resumed = _trainer(rec)
    resumed.global_steps = cut  # what verl's _load_checkpoint does, then the dataloader state
    resumed.train_dataloader.load_state_dict(torch.load(tmp_path / "data.pt", weights_only=False))
    resumed.srpo_restore()
    tail = []
    for step in range(cut + 1, STEPS + 1):
        _step(resumed, step, easy, tail)
    assert head + tail == expected
    assert resumed.train_dataset.stream.state_dict() == stream.state_dict()
    resumed.srpo_hook.close()


def test_async_draws_ahead_within_the_declared_lookahead(ray_tq, recipe):
    """colocate_async: verl fetches prompts one at a time (gen_batch_size=1) and a batch ahead of training."""
    cfg, rec = recipe
    trainer = _trainer(rec, "srpo_colocate_async", "trainer.v1.colocate_async.num_warmup_batches=1")
    stream = trainer.train_dataset.stream
    assert trainer.config.data.gen_batch_size == 1 and stream.lookahead == 0  # the recipe was written for sync
    stream.lookahead = 2
    stream.mixture.set_lookahead(2)
    trainer.srpo_restore()
    easy = _easy(trainer)
    import transfer_queue as tq

    pending = []
    for step in range(1, STEPS + 1):
        trainer.global_steps = step
        pending.append(trainer._next_train_batch())  # drawn a step ahead of what is trained
        if len(pending) > 1:
            batch = _put(_trajectories(pending.pop(0), easy))
            trainer.srpo_feedback(batch, {}, {})
            tq.kv_clear(keys=batch.keys, partition_id="train")
    stats = stream.mixture.stats()
    assert stats["math/forgotten_serves"] == stats["math/unmatched_records"] == 0
    assert stream.lookahead_seen == 1 and stats["math/dropped_total"] + stats["code/dropped_total"] > 0
    trainer.srpo_hook.close()


def test_padding_rows_are_skipped_and_a_missing_acc_is_an_error(recipe):
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    from srpo.engines.verl.trainer import verdicts_from_batch

    info = {"uid": "u1", "index": 0}
    rows = [{"uid": "g", "extra_info": info, "extra_fields": {"reward_extra_info": {"acc": 1.0, "score": 1.0}},
             "responses": torch.tensor([3, 4, 5]), "rm_scores": torch.tensor([0.0, 0.0, 1.0])}] * 3
    td = list_of_dict_to_tensordict(rows)
    out = verdicts_from_batch(td, [{}, {"is_padding": True}, {}], eos_ids=5)
    assert [(v.uid, v.correct, v.reward, v.length, v.truncated) for v in out] == [("u1", True, 1.0, 3, False)] * 2
    out = verdicts_from_batch(td, None, eos_ids=[2, 7], penalty=lambda n: -0.25 * n)
    assert [(v.truncated, v.penalty) for v in out] == [(True, -0.75)] * 3  # 5 is not in this EOS set
    logged = [dict(r, extra_fields={"reward_extra_info": {"acc": 1.0, "score": 1.0, "overlong_reward": -0.5}})
              for r in rows]
    out = verdicts_from_batch(list_of_dict_to_tensordict(logged), None, eos_ids=[5, 7],
                              penalty=lambda n: -1.0)
    assert [(v.truncated, v.penalty) for v in out] == [(False, -0.5)] * 3  # verl's own logged penalty wins
    rows[0] = dict(rows[0], extra_fields={"reward_extra_info": {"score": 1.0}})
    with pytest.raises(RuntimeError, match="acc"):
        verdicts_from_batch(list_of_dict_to_tensordict(rows), None)


def test_the_dataset_refuses_a_shuffled_or_multi_worker_loader(recipe):
    cfg, rec = recipe
    from srpo.engines.verl.trainer import SrpoSyncTrainer

    for extra in (["data.shuffle=true"], ["data.dataloader_num_workers=2"]):
        trainer = SrpoSyncTrainer(config=compose_verl([*rec.overrides, *extra]))
        trainer._init_tokenizer()
        with pytest.raises(ValueError, match=extra[0].split("=")[0]):
            trainer._init_dataloader()
    assert P == cfg.rollout.prompts_per_step


class _ValAgentLoop:
    """Stand-in for verl's agent loop in validation: `n` responses per row into TransferQueue's ``val`` partition,
    keyed and shaped as the agent loop writes them, scored as srpo's reward function would (`verdict`)."""

    def __init__(self, n, verdict):
        self.n, self.verdict, self.last = n, verdict, None

    def generate_sequences(self, batch):
        import transfer_queue as tq
        from transfer_queue import KVBatchMeta
        from verl.utils.tensordict_utils import list_of_dict_to_tensordict

        rows, keys = [], []
        for uid, info, source, gold in zip(_as_list(batch["uid"]), _as_list(batch["extra_info"]),
                                           _as_list(batch["data_source"]), _as_list(batch["reward_model"])):
            for j in range(self.n):
                ok = self.verdict(info["uid"], j)
                rows.append({"uid": uid, "extra_info": info, "data_source": source, "reward_model": gold,
                             "extra_fields": {"reward_extra_info": {"score": float(ok), "acc": float(ok)}},
                             "prompts": torch.tensor([1, 2, 3][: 2 + j % 2]),
                             "responses": torch.tensor([5, 6, 7, 1][: 3 + j % 2]),
                             "response_mask": torch.ones(3 + j % 2, dtype=torch.int64),
                             "rm_scores": torch.tensor([0.0] * (2 + j % 2) + [float(ok)]),
                             "num_turns": torch.tensor(2)})
                keys.append(f"{uid}_{j}_0")
        tags = [{"status": "success"} for _ in keys]
        tq.kv_batch_put(keys=keys, fields=list_of_dict_to_tensordict(rows), tags=tags, partition_id="val")
        self.last = KVBatchMeta(partition_id="val", keys=keys, tags=tags)


def test_verls_validation_logs_srpos_eval_names_in_the_steps_line(ray_tq, verl_model_dir, tmp_path):
    """verl's own ``_validate`` (with stand-ins for the agent loop and the replay buffer, which need GPUs) gives
    srpo's ``eval/*`` metrics, equal to srpo's evaluation on the same verdicts, in metrics.jsonl as the native
    engine writes them: a line of its own at step 0, merged into the line of a step it follows."""
    import json
    from types import SimpleNamespace

    from conftest import toy_recipe

    from srpo.engines.data import load_run_data
    from srpo.report.headline import summarize_run
    from srpo.report.runs import read_metrics
    from test_verl_eval import srpo_evaluation

    n, ks = 4, [1, 2, 4]
    cfg, rec = toy_recipe(verl_model_dir, tmp_path / "run", "run.eval_every=2", f"eval.samples={n}",
                          f"eval.ks={json.dumps(ks)}")
    assert {"trainer.test_freq=2", "trainer.val_before_train=true", f"actor_rollout_ref.rollout.val_kwargs.n={n}",
            f"data.val_files={rec.folder / 'heldout.parquet'}"} <= set(rec.overrides)
    _, heldout = load_run_data(cfg)
    trainer = _trainer(rec)
    trainer.srpo_restore()
    solved = {p.uid: i for i, p in enumerate(heldout)}
    loop = _ValAgentLoop(n, lambda uid, j: j < solved[uid])  # problem i: i of n responses right
    trainer.agent_loop_manager = loop
    trainer.replay_buffer = SimpleNamespace(sample=lambda **kw: (loop.last, {}))
    trainer.reward_loop_manager = SimpleNamespace(reward_loop_worker_handles=[object()])  # scores come with it
    verdicts = {p.uid: [j < solved[p.uid] for j in range(n)] for p in heldout}
    expected = srpo_evaluation(heldout, verdicts, n, ks)

    before = trainer._validate()  # verl's val_before_train
    source = heldout[0].source
    assert before[f"val-core/{source}/acc/mean@{n}"] == pytest.approx(expected[f"eval/all/avg@{n}"])  # verl's own
    assert {k: v for k, v in before.items() if k.startswith("srpo/eval/")} == {f"srpo/{k}": v
                                                                             for k, v in expected.items()}
    trainer.on_train_begin()
    easy = _easy(trainer)
    for step in (1, 2):
        trainer.on_step_begin()
        _step(trainer, step, easy, [])
        if step == 2:  # test_freq=2: verl's fit validates after the step, before it logs
            trainer._validate()
    trainer.srpo_hook.close()
    run_dir = tmp_path / "run"
    lines = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    assert [line["step"] for line in lines] == [0, 1, 2]  # as the native engine: no line of its own at step 2
    assert {k: v for k, v in lines[0].items() if k != "step"} == expected
    assert not any(k.startswith("eval/") for k in lines[1])
    assert {k: v for k, v in lines[2].items() if k.startswith("eval/")} == expected and "all/pass_rate" in lines[2]
    assert read_metrics(run_dir / "metrics.jsonl")[2]["eval/math/pass@1"] == expected["eval/math/pass@1"]
    summary = summarize_run(run_dir)
    assert summary["steps"] == 2 and summary["math/pass@1_before"] == expected["eval/math/pass@1"]


def test_a_steps_line_waiting_for_a_validation_that_died_is_written_on_resume(ray_tq, verl_model_dir, tmp_path):
    """verl saves step s's checkpoint before it validates; if the process dies in that validation, the resumed run
    (which starts at s + 1) still gets step s's line, kept on disk while it waited."""
    import json

    from conftest import toy_recipe

    from srpo.engines.verl.trainer import PENDING_LINE

    cfg, rec = toy_recipe(verl_model_dir, tmp_path / "run", "run.eval_every=1")
    run_dir = tmp_path / "run"
    first = _trainer(rec)
    first.srpo_restore()
    first.on_train_begin()
    _step(first, 1, _easy(first), [])  # a validation is due after every step: the line waits
    assert (run_dir / PENDING_LINE).exists() and not (run_dir / "metrics.jsonl").read_text().strip()
    first.srpo_hook.pending = None  # the process dies in the validation

    resumed = _trainer(rec)
    resumed.global_steps = 1  # verl resumes from global_step_1
    resumed.srpo_restore()
    lines = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    assert [line["step"] for line in lines] == [1] and "all/pass_rate" in lines[0]
    assert not (run_dir / PENDING_LINE).exists()
    resumed.srpo_hook.close()
    first.srpo_hook.close()
    assert sum(1 for _ in open(run_dir / "metrics.jsonl")) == 1

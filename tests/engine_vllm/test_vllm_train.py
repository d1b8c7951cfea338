"""A few steps of `srpo train`'s Trainer with rollout.engine=vllm on the toy model: it trains, and after the
run vLLM samples from the trained weights (they were pushed after every update). vLLM runs compiled here
(rollout.vllm.enforce_eager=false, the default), so pushed weights reach its torch.compile'd graph too."""

from __future__ import annotations

import torch

from srpo.config import load_config
from srpo.engines.native.trainer import Trainer
from srpo.tracking import read_jsonl


def test_train_with_vllm_rollouts_pushes_each_update(tmp_path, toy_policy, prompts, gap, logprob_tol):
    _, initial, _ = toy_policy
    cfg = load_config("demo", [
        "rollout.engine=vllm", "rollout.temperature=0.7", f"run.output_dir={tmp_path / 'run'}",
        "run.total_steps=2", "run.save_every=0", "run.progress=false", "rollout.prompts_per_step=4",
        "rollout.group_size=4", "rollout.max_new_tokens=24", "optim.lr=1e-3", "optim.warmup_steps=0",
        'data.train=["toy:math?n=16&levels=3-4&seed=1"]', 'data.heldout=["toy:math?n=2&levels=2&split=heldout"]',
        "eval.samples=1", "curriculum.preset=math_only"])
    trainer = Trainer(cfg)
    last = trainer.train()
    assert torch.isfinite(torch.tensor(last["train/loss"]))
    assert [r["step"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl")] == [0, 1, 2]
    assert type(trainer.engine).__name__ == "VLLMEngine"

    moved = max(float((a.detach() - b).abs().max()) for a, b in zip(trainer.model.parameters(), initial.parameters()))
    assert moved > 1e-4, "no update happened (every group had equal rewards?): the test shows nothing"
    from srpo.core.generation import SamplingParams

    batch = trainer.engine.generate(prompts, SamplingParams(2, 0.7, 1.0, 24))
    assert gap(trainer.model, batch) < logprob_tol  # vLLM holds the trained weights...
    assert gap(initial, batch) > 10 * logprob_tol  # ...which differ from the ones it started from

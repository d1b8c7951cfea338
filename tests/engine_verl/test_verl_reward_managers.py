"""srpo's reward function through verl's own reward path: RewardLoopWorker -> load_reward_manager ->
get_custom_reward_fn (with reward_kwargs) -> the naive and dapo reward managers, on verl's DataProto."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("verl")

import torch  # noqa: E402

from conftest import build_char_tokenizer, compose_verl, toy_recipe  # noqa: E402


@pytest.fixture(autouse=True)
def _char_tokenizer(monkeypatch):
    """transformers 5 loads the tiny model's tokenizer as the model type's (Qwen2's, which drops the char
    tokenizer's whitespace); hand verl's reward worker the char tokenizer itself."""
    import verl.experimental.reward_loop.reward_loop as reward_loop

    monkeypatch.setattr(reward_loop, "hf_tokenizer", lambda *a, **k: build_char_tokenizer())


def _batch(tokenizer, rows, texts):
    from verl import DataProto

    prompt_len, resp_len = 4, 192
    prompts = torch.zeros(len(texts), prompt_len, dtype=torch.long)
    responses = torch.full((len(texts), resp_len), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros(len(texts), prompt_len + resp_len, dtype=torch.long)
    mask[:, :prompt_len] = 1
    for i, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:resp_len]
        responses[i, :len(ids)] = torch.tensor(ids)
        mask[i, prompt_len:prompt_len + len(ids)] = 1
    non_tensor = {"data_source": np.array([r["data_source"] for r in rows], dtype=object),
                  "reward_model": np.array([r["reward_model"] for r in rows], dtype=object),
                  "extra_info": np.array([dict(r["extra_info"]) for r in rows], dtype=object)}
    return DataProto.from_dict(tensors={"prompts": prompts, "responses": responses, "attention_mask": mask},
                               non_tensors=non_tensor)


def _score(config, rows, texts):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    async def go():
        worker = RewardLoopWorker(config)
        data = _batch(worker.input_tokenizer, rows, texts)
        return await worker.compute_score_batch(data)

    return asyncio.run(go())


def _rows_and_answers(folder):
    import pyarrow.parquet as pq

    from srpo.data.loaders import load_problems

    rows = pq.read_table(folder / "train.parquet").to_pylist()
    problems = {p.uid: p for p in load_problems(str(folder / "train.parquet"))}
    math = next(r for r in rows if r["extra_info"]["domain"] == "math")
    code = next(r for r in rows if r["extra_info"]["domain"] == "code")
    return [math, math, code, code], [problems[math["extra_info"]["uid"]].metadata["solution"],
                                      "<answer>-1</answer>",
                                      problems[code["extra_info"]["uid"]].metadata["solution"],
                                      "<answer>```python\ndef f(x):\n    return 0\n```</answer>"]


def test_naive_manager_returns_srpos_score_and_acc(recipe):
    cfg, rec = recipe
    rows, texts = _rows_and_answers(rec.folder)
    out = _score(compose_verl(rec.overrides), rows, texts)
    assert [o["reward_extra_info"]["acc"] for o in out] == [1.0, 0.0, 1.0, 0.0]
    assert [o["reward_score"] for o in out] == [1.0, 0.0, 1.0, 0.0]
    assert all(set(o["reward_extra_info"]) == {"score", "acc"} for o in out)


def test_dapo_manager_adds_the_overlong_penalty_but_acc_stays_binary(verl_model_dir, tmp_path):
    cfg, rec = toy_recipe(verl_model_dir, tmp_path / "run", "algorithm.truncation=soft_penalty",
                          "algorithm.overlong_window=64", "rollout.max_new_tokens=128")
    rows, texts = _rows_and_answers(rec.folder)
    texts[0] = texts[0] + " " * 90  # a right answer that runs into the last 64 tokens of the 128-token budget
    out = _score(compose_verl(rec.overrides), rows, texts)
    first = out[0]
    assert first["reward_extra_info"]["acc"] == 1.0 and first["reward_score"] < 1.0
    assert first["reward_extra_info"]["overlong_reward"] < 0
    assert [o["reward_extra_info"]["acc"] for o in out[1:]] == [0.0, 1.0, 0.0]

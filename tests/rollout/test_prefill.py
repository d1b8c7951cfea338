"""Shared-prompt prefill in the kv_cache decode loop: each distinct prompt runs once and its keys/values feed
every row that repeats it, with the tokens and log-probs of a prefill over every row (float64 model)."""

import copy

import pytest
import torch
from transformers import StaticCache

from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout import KVCacheEngine
from srpo.engines.native.rollout import decode as decode_mod
from srpo.engines.native.rollout.base import left_pad
from srpo.engines.native.rollout.decode import DecodeSpec, PreallocatedCache, decode, distinct_rows

EOS_CHARS = "eaont 1"  # frequent characters: rows end at different steps, so compaction happens


def _every_row_distinct(ids_bp, mask_bp):
    """The unshared reference: every row is its own prompt, so prefill runs on the whole batch."""
    rows = torch.arange(len(ids_bp))
    return rows, rows


def test_distinct_rows_groups_identical_token_lists_only():
    pad = 0
    prompts = [[5, 6, 7], [6, 7], [5, 6, 7], [0, 6, 7], [6, 7], [7], [0, 6, 7]]
    ids, mask = left_pad(prompts, pad)
    first, inverse = distinct_rows(ids, mask)
    # [6, 7] and [0, 6, 7] pad to the same ids ([0, 6, 7]) but differ in the mask: different prompts.
    assert first[inverse].tolist() == [0, 1, 0, 3, 1, 5, 3]
    assert sorted(first.tolist()) == [0, 1, 3, 5]
    for row, prompt in enumerate(prompts):
        assert prompts[int(first[inverse[row]])] == prompt


def test_distinct_rows_of_all_different_prompts_is_every_row():
    ids, mask = left_pad([[1], [2, 3], [4, 5, 6]], 0)
    first, inverse = distinct_rows(ids, mask)
    assert len(first) == 3 and torch.equal(first[inverse], torch.arange(3))


def _float64_model(tiny_policy):
    model, tokenizer = tiny_policy
    return copy.deepcopy(model).double(), tokenizer


def _repeated_batch(tokenizer, n):
    texts = ["Q: 1+2=?", "Q: 12*3-4=?", "7", "Q: 1+2=?", "Q: (8-3)*2=?"]  # prompt 0 also comes back as prompt 3
    return left_pad([tokenizer(t)["input_ids"] for t in texts for _ in range(n)], tokenizer.pad_token_id)


def _prefill_batches(monkeypatch):
    """Record the batch size of every multi-token (prefill) forward."""
    sizes, original = [], decode_mod.forward_fn

    def forward_fn(model):
        forward = original(model)

        def recorded(cache, **inputs):
            if inputs["input_ids"].shape[1] > 1:
                sizes.append(inputs["input_ids"].shape[0])
            return forward(cache, **inputs)
        return recorded

    monkeypatch.setattr(decode_mod, "forward_fn", forward_fn)
    return sizes


@pytest.mark.parametrize("compact,check_every", [(True, 1), (True, 3), (False, 1)])
def test_shared_prefill_samples_what_the_unshared_prefill_samples(tiny_policy, monkeypatch, compact, check_every):
    model, tokenizer = _float64_model(tiny_policy)
    ids, mask = _repeated_batch(tokenizer, n=6)
    spec = DecodeSpec(1.0, 1.0, torch.tensor(tokenizer.convert_tokens_to_ids(list(EOS_CHARS))),
                      tokenizer.pad_token_id, check_every=check_every, compact=compact)
    compacted = []
    original = PreallocatedCache.batch_select_indices
    monkeypatch.setattr(PreallocatedCache, "batch_select_indices",
                        lambda self, idx: (compacted.append(len(idx)), original(self, idx))[1])
    sizes = _prefill_batches(monkeypatch)
    shared = decode(model, ids, mask, 40, torch.Generator().manual_seed(7), spec)
    assert sizes == [4], "4 distinct prompts among 30 rows: one prefill over 4 rows"
    assert bool(compacted) == compact
    monkeypatch.setattr(decode_mod, "distinct_rows", _every_row_distinct)
    unshared = decode(model, ids, mask, 40, torch.Generator().manual_seed(7), spec)
    assert sizes == [4, 30]
    assert shared.tokens_bt.shape[1] > 3
    assert torch.equal(shared.tokens_bt, unshared.tokens_bt)
    torch.testing.assert_close(shared.logprobs_bt, unshared.logprobs_bt, atol=1e-12, rtol=0)


def test_shared_prefill_fills_the_static_cache_like_the_unshared_one(tiny_policy, monkeypatch):
    """The StaticCache (compiled) path takes the same expanded prefill; its step runs eagerly here."""
    model, tokenizer = _float64_model(tiny_policy)
    ids, mask = _repeated_batch(tokenizer, n=3)
    spec = DecodeSpec(0.9, 0.95, torch.tensor(tokenizer.convert_tokens_to_ids(list(EOS_CHARS))),
                      tokenizer.pad_token_id, compact=False)

    def step(input_ids, attention_mask, position_ids, cache):
        return model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                     cache=cache, use_cache=True).logits[:, -1]

    cache = StaticCache(config=model.config, max_cache_len=64)
    outs = []
    for grouping in (distinct_rows, _every_row_distinct):
        monkeypatch.setattr(decode_mod, "distinct_rows", grouping)
        outs.append(decode(model, ids, mask, 30, torch.Generator().manual_seed(1), spec, step_fn=step,
                           static_cache=cache))
    assert torch.equal(outs[0].tokens_bt, outs[1].tokens_bt)
    torch.testing.assert_close(outs[0].logprobs_bt, outs[1].logprobs_bt, atol=1e-12, rtol=0)


def test_engine_with_repeated_prompts_prefills_each_once(tiny_policy, monkeypatch):
    """Through `KVCacheEngine.generate` (P prompts, n samples each), a repeated prompt included."""
    model, tokenizer = _float64_model(tiny_policy)
    prompts = [tokenizer(t)["input_ids"] for t in ("Q: 1+2=?", "Q: 12*3-4=?", "Q: 1+2=?")]
    params = SamplingParams(n=4, temperature=0.8, top_p=0.9, max_new_tokens=16)
    sizes = _prefill_batches(monkeypatch)
    shared = KVCacheEngine(model, tokenizer, seed=3).generate(prompts, params)
    monkeypatch.setattr(decode_mod, "distinct_rows", _every_row_distinct)
    unshared = KVCacheEngine(model, tokenizer, seed=3).generate(prompts, params)
    assert sizes == [2, 12]
    assert shared.texts == unshared.texts
    assert torch.equal(shared.response_ids_bt, unshared.response_ids_bt)
    torch.testing.assert_close(shared.logprobs_bt, unshared.logprobs_bt, atol=1e-12, rtol=0)

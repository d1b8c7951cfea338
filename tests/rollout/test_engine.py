import pytest
import torch

from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout import HFEngine, KVCacheEngine
from srpo.engines.native.rollout.base import left_pad, response_mask_from_eos
from srpo.engines.native.rollout.hf import top_p_filter


def test_left_pad_and_eos_mask():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    resp = torch.tensor([[3, 4, 1, 9, 1], [3, 3, 3, 3, 3]])
    assert response_mask_from_eos(resp, [1]).tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]


def test_top_p_filter_against_reference():
    torch.manual_seed(0)
    logits = torch.randn(6, 11, dtype=torch.float64)
    for top_p in (0.3, 0.75, 0.999):
        got = top_p_filter(logits, top_p)
        for row in range(logits.shape[0]):
            probs = logits[row].softmax(-1)
            order = sorted(range(11), key=lambda i: -probs[i].item())
            kept, mass = set(), 0.0
            for i in order:
                kept.add(i)
                mass += probs[i].item()
                if mass >= top_p:
                    break
            assert {i for i in range(11) if got[row, i] > float("-inf")} == kept


def _prompts(tokenizer):
    return [tokenizer("Q: 1+2=?")["input_ids"], tokenizer("Q: 12*3-4=?")["input_ids"]]


@pytest.mark.parametrize("engine_cls", [KVCacheEngine, HFEngine])
def test_layout_masks_and_behaviour_logprobs(tiny_policy, engine_cls):
    model, tokenizer = tiny_policy
    engine = engine_cls(model, tokenizer, seed=3)
    params = SamplingParams(n=3, temperature=0.7, max_new_tokens=12)
    batch = engine.generate(_prompts(tokenizer), params)
    assert batch.prompt_index_b.tolist() == [0, 0, 0, 1, 1, 1]
    assert batch.response_ids_bt.shape[0] == 6 and len(batch.texts) == 6
    # Recompute the log-probs with one full forward pass: they must equal the behaviour log-probs.
    ids = torch.cat([batch.prompt_ids_bp, batch.response_ids_bt], 1)
    mask = torch.cat([batch.prompt_mask_bp, batch.response_mask_bt], 1)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits.float()
    width = batch.prompt_ids_bp.shape[1]
    logits = logits[:, width - 1 : -1] / params.temperature
    ref = logits.log_softmax(-1).gather(-1, batch.response_ids_bt[..., None]).squeeze(-1)
    ref = ref * batch.response_mask_bt
    torch.testing.assert_close(batch.logprobs_bt, ref, atol=2e-5, rtol=1e-4)
    # After EOS everything is padding; a row without EOS is truncated at max_new_tokens.
    for row in range(6):
        n = int(batch.response_mask_bt[row].sum())
        assert (batch.response_ids_bt[row, n:] == tokenizer.pad_token_id).all()
        if not batch.truncated_b[row]:
            assert batch.response_ids_bt[row, n - 1] == tokenizer.eos_token_id
        else:
            assert n == params.max_new_tokens


@pytest.mark.parametrize("engine_cls", [KVCacheEngine, HFEngine])
def test_seeded_engines_reproduce_and_resume(tiny_policy, engine_cls):
    model, tokenizer = tiny_policy
    params = SamplingParams(n=4, max_new_tokens=10)
    a = engine_cls(model, tokenizer, seed=11)
    first = a.generate(_prompts(tokenizer), params)
    state = a.state_dict()
    second = a.generate(_prompts(tokenizer), params)
    b = engine_cls(model, tokenizer, seed=11)
    assert b.generate(_prompts(tokenizer), params).texts == first.texts
    b.load_state_dict(state)
    assert b.generate(_prompts(tokenizer), params).texts == second.texts


def test_kv_cache_engine_matches_hf_generate_greedy_limit(tiny_policy):
    """At a tiny temperature both engines sample the argmax path, so their tokens agree."""
    model, tokenizer = tiny_policy
    params = SamplingParams(n=1, temperature=1e-4, max_new_tokens=15)
    ours = KVCacheEngine(model, tokenizer).generate(_prompts(tokenizer), params)
    theirs = HFEngine(model, tokenizer).generate(_prompts(tokenizer), params)
    assert ours.texts == theirs.texts

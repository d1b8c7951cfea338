"""Rollout tokens/s of each rollout engine and update MFU, for two model sizes side by side, in one run.

Models: random Llamas of Qwen2.5-0.5B's shape (24 layers, hidden 896, 14 query / 2 key-value heads,
intermediate 4864; 0.36B parameters without the embedding) and of Qwen2.5-1.5B's (28 layers, hidden 1536,
12/2 heads, intermediate 8960), tied embeddings, vocabulary = the embedded toy tokenizer's (107 ids), so
the LM head costs almost nothing. Workload: `--prompts` random prompts of `--prompt-len` tokens x
`--samples` responses of exactly `--new-tokens` tokens (EOS is made unreachable, so every response runs to
the cap).

Rollout: each registered rollout engine (kv_cache, hf, and vllm when one is registered and importable)
generates the batch from a bfloat16 copy of the model; tokens/s counts response tokens.

Update: one optimizer step over the whole batch (float32 parameters, bfloat16 autocast), three ways on the
same tokens: srpo's `Actor.update` (length-sorted micro-batches, prompts shared by their responses), the
same without prompt sharing, and a plain Hugging Face loop (padded micro-batches in rollout order,
``model(input_ids, attention_mask, labels).loss``, backward, AdamW). Micro-batches hold `--micro-rows` rows
(srpo also takes `--micro-tokens`). Model FLOPs of the update, the same for all three:

    FLOPs = sum over rows r of  6 * N * S_r  +  6 * n_layers * d_q * S_r**2

with S_r = prompt + response tokens of row r, N = parameters of every matmul (attention, MLP, LM head;
not the embedding lookup), d_q = query heads x head dim; 6 = 2 (multiply-add) x 3 (forward + two backward
matmuls); the attention term counts QK^T and AV with the causal half. MFU = FLOPs / seconds / peak, where
peak is the card's dense bf16 spec-sheet figure (`--peak-tflops` overrides; printed with the card name).
srpo's shared prompts do fewer FLOPs than counted, so its MFU reads as "task FLOPs per second".

    python bench/gpu_throughput.py [--models 0.5b 1.5b] [--engines kv_cache hf vllm] [--json out.json]
    python bench/gpu_throughput.py --cpu-smoke     # tiny shapes on CPU, well under a minute: it works
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import dataclass

import torch

SHAPES = {
    "0.5b": dict(layers=24, hidden=896, heads=14, kv_heads=2, intermediate=4864, label="0.36B (Qwen2.5-0.5B shape)"),
    "1.5b": dict(layers=28, hidden=1536, heads=12, kv_heads=2, intermediate=8960, label="1.3B (Qwen2.5-1.5B shape)"),
    "tiny-a": dict(layers=2, hidden=64, heads=4, kv_heads=2, intermediate=128, label="tiny-a (smoke)"),
    "tiny-b": dict(layers=2, hidden=96, heads=6, kv_heads=2, intermediate=192, label="tiny-b (smoke)"),
}
# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's spec sheets; the first name found in the card's wins.
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("H200", 989.0),
                    ("GH200", 989.0), ("A100", 312.0), ("L40S", 362.0))


@dataclass
class Setup:
    device: torch.device
    prompts: int
    samples: int
    prompt_len: int
    new_tokens: int
    micro_rows: int
    micro_tokens: int | None
    autocast: bool


def build_model(shape: dict, vocab: int, max_len: int, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=shape["hidden"], intermediate_size=shape["intermediate"],
                      num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
                      num_key_value_heads=shape["kv_heads"], max_position_embeddings=max_len,
                      tie_word_embeddings=True, pad_token_id=0, eos_token_id=1)
    return LlamaForCausalLM(cfg)


def matmul_params(model) -> int:
    """Weights of every nn.Linear (the LM head included, even when tied to the embedding)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def update_flops(model, lengths: list[int]) -> float:
    """sum_r 6 N S_r + 6 n_layers d_q S_r^2 (see the module docstring)."""
    cfg = model.config
    n, d_q = matmul_params(model), cfg.num_attention_heads * (cfg.hidden_size // cfg.num_attention_heads)
    return float(sum(6 * n * s + 6 * cfg.num_hidden_layers * d_q * s * s for s in lengths))


def peak_tflops(device: torch.device, override: float | None) -> tuple[float | None, str]:
    if override:
        return override, f"{override:g} TFLOP/s (--peak-tflops)"
    if device.type != "cuda":
        return None, "unknown on CPU (MFU not computed; give --peak-tflops)"
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_TFLOPS:
        if key in name:
            return value, f"{value:g} TFLOP/s dense bf16 (spec sheet for {key})"
    return None, f"unknown for {name} (give --peak-tflops)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_prompts(setup: Setup, vocab: int, seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (setup.prompts, setup.prompt_len), generator=g).tolist()


def make_unstoppable(model) -> None:
    """EOS = an id past the vocabulary: never sampled, so every response runs to max_new_tokens."""
    model.generation_config.eos_token_id = [model.config.vocab_size]


def time_rollout(engine_name: str, model, tokenizer, setup: Setup, prompts):
    """(response tokens/s, RolloutBatch) for one engine; a warm-up call on a small slice first."""
    from srpo.core.generation import SamplingParams
    from srpo.engines.native.rollout import ROLLOUT_ENGINES

    engine = ROLLOUT_ENGINES.get(engine_name)(model, tokenizer, seed=0)
    engine.generate(prompts[:2], SamplingParams(2, 1.0, 1.0, 4))
    sync(setup.device)
    start = time.perf_counter()
    batch = engine.generate(prompts, SamplingParams(setup.samples, 1.0, 1.0, setup.new_tokens))
    sync(setup.device)
    seconds = time.perf_counter() - start
    return float(batch.response_mask_bt.sum()) / seconds, batch


def experience_from(batch, setup: Setup):
    from srpo.algo import ADVANTAGE_ESTIMATORS
    from srpo.core.problem import Problem
    from srpo.engines.native.experience import Experience
    from srpo.rewards import RewardResult

    problems = [Problem.create("math", f"prompt {i}", "0") for i in range(setup.prompts)]
    g = torch.Generator().manual_seed(1)
    results = [RewardResult(float(r), bool(r)) for r in torch.randint(0, 2, (len(batch.texts),), generator=g)]
    exp = Experience.from_rollout(batch, problems, results)
    exp.advantages_b = ADVANTAGE_ESTIMATORS.get("grpo")(exp.rewards_b, exp.group_ids_b)
    return exp


def time_srpo_update(model, exp, setup: Setup, share: bool) -> float:
    from srpo.config.algorithm import AlgorithmConfig, OptimConfig
    from srpo.engines.native.actor import Actor

    algo = AlgorithmConfig(micro_batch_size=setup.micro_rows, micro_batch_tokens=setup.micro_tokens,
                           share_prompts=share)
    actor = Actor(model, algo, OptimConfig(lr=1e-7), temperature=1.0, norm_len=setup.new_tokens,
                  total_optimizer_steps=10, autocast=setup.autocast)
    actor.update(exp.select(list(range(min(len(exp), setup.micro_rows)))))  # warm-up
    sync(setup.device)
    start = time.perf_counter()
    actor.update(exp)
    sync(setup.device)
    return time.perf_counter() - start


def _plain_step(model, optimizer, exp, setup: Setup) -> None:
    total = float(exp.response_mask_bt.sum())
    ctx = torch.autocast(setup.device.type, dtype=torch.bfloat16, enabled=setup.autocast)
    for start in range(0, len(exp), setup.micro_rows):
        mb = exp.select(list(range(start, min(start + setup.micro_rows, len(exp)))))
        ids = torch.cat([mb.prompt_ids_bp, mb.response_ids_bt], 1).to(setup.device)
        mask = torch.cat([mb.prompt_mask_bp, mb.response_mask_bt], 1).to(setup.device)
        labels = ids.masked_fill(mask == 0, -100)
        labels[:, : mb.prompt_ids_bp.shape[1]] = -100
        with ctx:
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        (loss * float(mb.response_mask_bt.sum()) / total).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def time_plain_update(model, exp, setup: Setup) -> float:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-7)
    _plain_step(model, optimizer, exp.select(list(range(min(len(exp), setup.micro_rows)))), setup)  # warm-up
    sync(setup.device)
    start = time.perf_counter()
    _plain_step(model, optimizer, exp, setup)
    sync(setup.device)
    model.eval()
    return time.perf_counter() - start


def measure(name: str, setup: Setup, engines: list[str], tokenizer) -> dict:
    shape = SHAPES[name]
    vocab = len(tokenizer)
    model = build_model(shape, vocab, setup.prompt_len + setup.new_tokens + 8).to(setup.device)
    make_unstoppable(model)
    prompts = random_prompts(setup, vocab, seed=0)
    result = {"model": shape["label"], "matmul_params": matmul_params(model), "rollout_tok_s": {}}
    generator = copy.deepcopy(model).to(torch.bfloat16).eval()
    batch = None
    for engine in engines:
        try:
            result["rollout_tok_s"][engine], out = time_rollout(engine, generator, tokenizer, setup, prompts)
            batch = batch or out
        except ModuleNotFoundError as err:  # an optional engine (vllm) this Python lacks
            result["rollout_tok_s"][engine] = f"not installed ({err.name})"
        except Exception as err:  # an engine that cannot run here is a row of the table, not a crash
            result["rollout_tok_s"][engine] = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:60]}"
    del generator
    if batch is None:
        return result
    exp = experience_from(batch, setup)
    lengths = (exp.prompt_lengths_b + exp.response_lengths_b).tolist()
    result["update_tokens"] = int(sum(lengths))
    result["update_flops"] = update_flops(model, lengths)
    result["update_s"] = {"srpo": time_srpo_update(model, exp, setup, share=True),
                          "srpo, no prompt sharing": time_srpo_update(model, exp, setup, share=False),
                          "plain HF fwd+bwd+AdamW": time_plain_update(model, exp, setup)}
    return result


def registered_engines(wanted: list[str] | None) -> list[str]:
    from srpo.engines.native.rollout import ROLLOUT_ENGINES

    names = list(ROLLOUT_ENGINES.names())
    if wanted:
        return [n for n in wanted if n in names] + [f"{n} (not registered)" for n in wanted if n not in names]
    return names


def print_table(results: list[dict], setup: Setup, device_line: str, peak, peak_line: str) -> None:
    print(f"\ndevice: {device_line}; peak: {peak_line}")
    print(f"{setup.prompts} prompts x {setup.samples} samples x {setup.new_tokens} new tokens, prompts "
          f"{setup.prompt_len} tokens; update: one optimizer step, micro-batches of {setup.micro_rows} rows"
          + (f" / {setup.micro_tokens} tokens (srpo)" if setup.micro_tokens else "")
          + f", {'bf16 autocast over fp32 params' if setup.autocast else 'fp32'}")
    width = 34
    print("".ljust(40) + "".join(r["model"].ljust(width) for r in results))
    engines = list(dict.fromkeys(e for r in results for e in r["rollout_tok_s"]))
    for engine in engines:
        cells = []
        for r in results:
            v = r["rollout_tok_s"].get(engine, "-")
            cells.append(f"{v:,.0f} tok/s" if isinstance(v, float) else str(v)[:width - 2])
        print(f"rollout {engine}".ljust(40) + "".join(c.ljust(width) for c in cells))
    for key in (results[0].get("update_s") or {}):
        cells = []
        for r in results:
            s = r["update_s"][key]
            tflops = r["update_flops"] / s / 1e12
            rate = f"{tflops:.1f} TFLOP/s" if tflops >= 1 else f"{1e3 * tflops:.2f} GFLOP/s"
            mfu = f", MFU {100 * tflops / peak:.1f}%" if peak else ""
            cells.append(f"{s:.3f} s, {rate}{mfu}")
        print(f"update {key}".ljust(40) + "".join(c.ljust(width) for c in cells))
    for r in results:
        if "update_tokens" in r:
            print(f"  {r['model']}: {r['matmul_params'] / 1e6:.1f}M matmul params, {r['update_tokens']:,} "
                  f"tokens, {r['update_flops'] / 1e12:.2f} TFLOP per update")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["0.5b", "1.5b"], choices=sorted(SHAPES))
    parser.add_argument("--engines", nargs="+", default=None, help="default: every registered rollout engine")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--prompt-len", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--micro-rows", type=int, default=32)
    parser.add_argument("--micro-tokens", type=int, default=None)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--no-autocast", action="store_true")
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny shapes and batch on CPU (< 1 min)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    if args.cpu_smoke:
        torch.set_num_threads(1)
        args.models, args.prompts, args.samples, args.prompt_len, args.new_tokens, args.micro_rows = (
            ["tiny-a", "tiny-b"], 4, 2, 8, 12, 4)
    device = torch.device("cpu" if args.cpu_smoke or not torch.cuda.is_available() else "cuda")
    setup = Setup(device, args.prompts, args.samples, args.prompt_len, args.new_tokens, args.micro_rows,
                  args.micro_tokens, not args.no_autocast)
    from transformers import AutoTokenizer

    from srpo.toy.weights import default_model_dir

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    engines = registered_engines(args.engines)
    runnable = [e for e in engines if not e.endswith("(not registered)")]
    results = [measure(name, setup, runnable, tokenizer) for name in args.models]
    for r in results:
        r["rollout_tok_s"].update({e: "not registered" for e in engines if e not in runnable})
    device_line = (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else f"CPU, {torch.get_num_threads()} threads")
    peak, peak_line = peak_tflops(device, args.peak_tflops)
    print_table(results, setup, f"{device_line}, torch {torch.__version__}", peak, peak_line)
    if args.json:
        with open(args.json, "w") as f:
            setup_json = {k: str(v) for k, v in vars(setup).items()}
            json.dump({"device": device_line, "peak_tflops": peak, "setup": setup_json, "results": results}, f,
                      indent=2)


if __name__ == "__main__":
    main()

"""Memory and time of one update micro-batch with the LM head fused into the log-probs, against the logits path.

    PYTHONPATH=src python bench/head_memory.py [--vocab 32000 152064] [--prompts 4] [--group 4]
                                               [--prompt-len 32] [--response-len 128] [--hidden 256] [--layers 2]
                                               [--autocast] [--block 33554432]

A random Llama (tied embeddings, `--hidden` wide, `--layers` deep) with a real vocabulary size runs one
`Actor.update` over one micro-batch of `--prompts` x `--group` rows (GRPO groups: prompts shared by their
responses) of `--prompt-len` prompt and `--response-len` response tokens: forward, backward and AdamW, in
float32 or with `--autocast` in bf16 autocast. Each (vocabulary, mode) runs in its own process with one
thread, after a one-row warm-up update (which allocates AdamW's state). Per row of the table:

- logits: the [B, T, V] tensor the logits path materialises (the fused path never does), in the autocast
  dtype or float32; its gradient is as large again;
- peak RSS: the process's resident high-water mark during the timed update (VmHWM, reset just before it:
  Python, torch, the model, AdamW's state and what the update allocates); above base: that minus the
  resident size just before the update;
- update: wall seconds of the timed `Actor.update`; ratios are fused / logits path;
- loss, entropy: the update's loss and mean token entropy, the same up to float rounding for both paths.

`--block` sets the fused head's block size (logits per block): larger blocks hold more memory and re-read
and re-accumulate the [V, H] head weight and its gradient fewer times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _reset_peak_rss() -> None:
    """Start the high-water mark (VmHWM) afresh (Linux >= 4.0), so it covers only what follows."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def measure(vocab: int, fused: bool, args) -> dict:
    """One run in this process; returns its figures."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    import srpo.algo.fused_head as fused_head_module
    from srpo.algo import ADVANTAGE_ESTIMATORS
    from srpo.config.algorithm import AlgorithmConfig, OptimConfig
    from srpo.engines.native.actor import Actor, policy_forward
    from srpo.engines.native.experience import Experience
    from srpo.engines.native.head import fused_head

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.block:
        fused_head_module.HEAD_BLOCK_ELEMENTS = args.block
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=args.hidden, intermediate_size=2 * args.hidden,
                      num_hidden_layers=args.layers, num_attention_heads=args.hidden // 64,
                      num_key_value_heads=max(1, args.hidden // 128), tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    assert fused_head(model) is not None
    rows, g = args.prompts * args.group, torch.Generator().manual_seed(1)
    prompts = torch.randint(0, vocab, (args.prompts, args.prompt_len), generator=g)
    exp = Experience(
        prompt_ids_bp=prompts.repeat_interleave(args.group, 0),
        prompt_mask_bp=torch.ones(rows, args.prompt_len, dtype=torch.long),
        response_ids_bt=torch.randint(0, vocab, (rows, args.response_len), generator=g),
        response_mask_bt=torch.ones(rows, args.response_len, dtype=torch.long),
        old_logprobs_bt=torch.zeros(rows, args.response_len), rewards_b=torch.randint(0, 2, (rows,)).float(),
        corrects_b=torch.zeros(rows, dtype=torch.bool), group_ids_b=torch.arange(rows) // args.group,
        truncated_b=torch.zeros(rows, dtype=torch.bool), length_penalty_b=torch.zeros(rows),
        in_loss_b=torch.ones(rows, dtype=torch.bool), problems=[None] * rows, texts=[""] * rows)
    exp.advantages_b = ADVANTAGE_ESTIMATORS.get("grpo")(exp.rewards_b, exp.group_ids_b)
    with torch.no_grad():
        exp.old_logprobs_bt = policy_forward(model, exp, 1.0, args.autocast, fuse_head=True)[0]
    algo = AlgorithmConfig(micro_batch_size=rows, fused_head=fused)
    # lr so small that the warm-up step leaves the model as it was: both paths then update the same weights
    actor = Actor(model, algo, OptimConfig(lr=1e-12), temperature=1.0, norm_len=args.response_len,
                  total_optimizer_steps=2, autocast=args.autocast)
    actor.update(exp.select([0]))  # warm-up; allocates AdamW's state
    _reset_peak_rss()
    base = _rss_bytes()
    start = time.perf_counter()
    stats = actor.update(exp)
    seconds = time.perf_counter() - start
    peak = _peak_rss_bytes()
    logits_bytes = rows * args.response_len * vocab * (2 if args.autocast else 4)
    return {"vocab": vocab, "mode": "fused" if fused else "logits", "tokens": rows * args.response_len,
            "logits_bytes": logits_bytes, "peak_rss_bytes": peak,
            "base_rss_bytes": base, "update_s": seconds, "loss": stats["train/loss"],
            "entropy": stats["actor/entropy"]}


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", type=int, nargs="+", default=[32000, 152064])
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--response-len", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--autocast", action="store_true", help="bf16 autocast (float32 master weights)")
    parser.add_argument("--block", type=int, help="logits per block of the fused head (default: "
                        "srpo.algo.fused_head.HEAD_BLOCK_ELEMENTS)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: "VOCAB:fused|logits"
    args = parser.parse_args()
    if args.one:
        vocab, mode = args.one.split(":")
        print(json.dumps(measure(int(vocab), mode == "fused", args)))
        return
    shared = [f"--prompts={args.prompts}", f"--group={args.group}", f"--prompt-len={args.prompt_len}",
              f"--response-len={args.response_len}", f"--hidden={args.hidden}", f"--layers={args.layers}"]
    shared += (["--autocast"] if args.autocast else []) + ([f"--block={args.block}"] if args.block else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows = []
    for vocab in args.vocab:
        for mode in ("logits", "fused"):
            out = subprocess.run([sys.executable, __file__, *shared, f"--one={vocab}:{mode}"], check=True,
                                 capture_output=True, text=True, env=env).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    from srpo.algo.fused_head import HEAD_BLOCK_ELEMENTS

    print(f"Llama hidden={args.hidden} layers={args.layers} tied; one micro-batch of {args.prompts}x{args.group} rows, "
          f"prompt {args.prompt_len} + response {args.response_len} tokens; "
          f"{'bf16 autocast' if args.autocast else 'float32'}; fused blocks of {args.block or HEAD_BLOCK_ELEMENTS} "
          "logits; 1 thread, one process per row")
    print(f"{'vocab':>7} {'mode':6} {'logits':>10} {'peak RSS':>10} {'above base':>11} {'update':>8} "
          f"{'RSS ratio':>9} {'time ratio':>10} {'loss':>12} {'entropy':>9}")
    for row in rows:
        ref = next(r for r in rows if r["vocab"] == row["vocab"] and r["mode"] == "logits")
        above = row["peak_rss_bytes"] - row["base_rss_bytes"]
        print(f"{row['vocab']:>7} {row['mode']:6} {_gib(row['logits_bytes']):>10} {_gib(row['peak_rss_bytes']):>10} "
              f"{_gib(above):>11} {row['update_s']:>7.2f}s {row['peak_rss_bytes'] / ref['peak_rss_bytes']:>9.2f} "
              f"{row['update_s'] / ref['update_s']:>10.2f} {row['loss']:>12.4e} {row['entropy']:>9.6f}")


if __name__ == "__main__":
    main()

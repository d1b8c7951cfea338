"""Memory of the KL reference with LoRA (adapters disabled, no copy) against the full model's second copy.

    PYTHONPATH=src python bench/lora_memory.py [--model toy] [--steps 2] [--r 16]

Runs the same short native training (KL on, kl_coef=0.05) twice, each in its own process: full fine-tuning
(policy + a reference copy) and LoRA (one model, the reference is the policy with adapters disabled). Prints
per run: parameters held in memory (policy + reference), trainable parameters, AdamW state, checkpoint size
on disk, and the process's peak resident set size (ru_maxrss, which includes Python, torch and the data).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def measure(model: str, steps: int, r: int, lora: bool, out: Path) -> dict:
    """One run in this process; returns its figures."""
    import torch

    from srpo.config import load_config
    from srpo.engines.native.trainer import Trainer

    torch.set_num_threads(1)
    cfg = load_config("demo", [
        f"model.path={model}", f"run.output_dir={out}", f"run.total_steps={steps}", f"run.save_every={steps}",
        "run.eval_every=0", "run.progress=false", "rollout.prompts_per_step=4", "rollout.group_size=4",
        "rollout.max_new_tokens=32", 'data.train=["toy:math?n=16&levels=2&seed=5"]', "data.heldout=[]",
        "curriculum.preset=math_only", "algorithm.kl_coef=0.05", f"model.lora.enabled={str(lora).lower()}",
        f"model.lora.r={r}", f"model.lora.alpha={2 * r}"])
    trainer = Trainer(cfg)
    trainer.train()
    models = [trainer.model] + ([trainer.actor.ref_model] if trainer.actor.ref_model is not None else [])
    held = {id(p): p for m in models for p in m.parameters()}  # a tensor shared by both counts once
    opt_bytes = sum(t.numel() * t.element_size() for s in trainer.actor.optimizer.state.values()
                    for t in s.values() if torch.is_tensor(t))
    ckpt = out / "checkpoints" / f"step_{steps:06d}"
    return {"mode": "lora" if lora else "full", "models_in_memory": len(models),
            "params_in_memory": sum(p.numel() for p in held.values()),
            "param_bytes_in_memory": sum(p.numel() * p.element_size() for p in held.values()),
            "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
            "optimizer_state_bytes": opt_bytes,
            "checkpoint_model_bytes": sum(f.stat().st_size for f in ckpt.iterdir()
                                          if f.suffix == ".safetensors"),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="toy")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--r", type=int, default=16)
    parser.add_argument("--one", choices=["full", "lora"], help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure(args.model, args.steps, args.r, args.one == "lora", Path(tmp) / "run")))
        return
    rows = []
    for mode in ("full", "lora"):
        cmd = [sys.executable, __file__, "--model", args.model, "--steps", str(args.steps), "--r", str(args.r),
               "--one", mode]
        rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                               .strip().splitlines()[-1]))
    print(f"model={args.model} steps={args.steps} r={args.r} (alpha=2r), KL on; one process per row")
    print(f"{'mode':5} {'models':>6} {'params held':>12} {'param mem':>11} {'trainable':>10} {'AdamW state':>12} "
          f"{'ckpt weights':>13} {'peak RSS':>11}")
    for row in rows:
        print(f"{row['mode']:5} {row['models_in_memory']:>6} {row['params_in_memory']:>12,} "
              f"{_mib(row['param_bytes_in_memory']):>11} {row['trainable_params']:>10,} "
              f"{_mib(row['optimizer_state_bytes']):>12} {_mib(row['checkpoint_model_bytes']):>13} "
              f"{_mib(row['peak_rss_bytes']):>11}")


if __name__ == "__main__":
    main()

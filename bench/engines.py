"""The same SRPO config on both engines: srpo's native loop and TRL's GRPOTrainer (``engine=trl``).

Each run trains the embedded toy model on the built-in math suite (levels 2-4, 300-prompt pool) with
history resampling, for `--steps` steps of 8 prompts x 8 responses, and measures held-out math pass@1
(`--heldout` problems x `--eval-samples` samples) before and after. Every run is its own process
(``srpo train``), one after the other, one process each. Prints the pass@1 table per engine and seed and
the mean time per training step side by side (``timing/step_s``, evaluation excluded, step 1 left out as
warm-up).

    python bench/engines.py [--seeds 0 1 2] [--steps 100] [--out runs/bench-engines]

Needs the trl extra (``pip install -e '.[trl]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENGINES = ("native", "trl")


def config(args: argparse.Namespace, engine: str, seed: int, run_dir: Path) -> list[str]:
    return [
        f"engine={engine}", f"run.output_dir={run_dir}", f"run.seed={seed}", "run.progress=false",
        f"run.total_steps={args.steps}", "run.save_every=0", "run.keep_checkpoints=1", "run.resume=never",
        "curriculum.preset=math_only", "sampling.name=history_resampling",
        'data.train=["toy:math?n=300&levels=2-4&seed=1"]',
        f'data.heldout=["toy:math?n={args.heldout}&levels=2-4&split=heldout"]',
        f"eval.samples={args.eval_samples}", f"rollout.max_new_tokens={args.max_new_tokens}",
    ]


def run_one(args: argparse.Namespace, engine: str, seed: int) -> dict:
    run_dir = Path(args.out) / f"{engine}-seed{seed}"
    if not (run_dir / "metrics.jsonl").exists() or args.fresh:
        subprocess.run(["rm", "-rf", str(run_dir)], check=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "srpo.cli", "train", "demo", *config(args, engine, seed, run_dir)],
                              env=env, capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{engine} seed {seed} failed:\n{proc.stderr[-4000:]}")
        (run_dir / "wall_s.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r["eval/math/pass@1"] for r in rows if "eval/math/pass@1" in r]
    steps = [r["timing/step_s"] for r in rows if "timing/step_s" in r and r["step"] > 1]
    return {"engine": engine, "seed": seed, "before": evals[0], "after": evals[-1],
            "step_s": statistics.mean(steps), "wall_s": float((run_dir / "wall_s.txt").read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--heldout", type=int, default=201)
    parser.add_argument("--eval-samples", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (OMP_NUM_THREADS)")
    parser.add_argument("--out", default="runs/bench-engines")
    parser.add_argument("--fresh", action="store_true", help="rerun even where a run directory exists")
    args = parser.parse_args()
    results = [run_one(args, engine, seed) for seed in args.seeds for engine in ENGINES]
    print(f"\nheld-out math pass@1 ({args.heldout} problems x {args.eval_samples} samples), "
          f"{args.steps} steps of 8 x 8, SRPO config (history resampling, clip-higher, token-mean)\n")
    print("| seed | native before -> after | trl before -> after |")
    print("|---:|---|---|")
    for seed in args.seeds:
        cells = []
        for engine in ENGINES:
            r = next(x for x in results if x["engine"] == engine and x["seed"] == seed)
            cells.append(f"{r['before']:.3f} -> {r['after']:.3f} ({100 * (r['after'] - r['before']):+.1f})")
        print(f"| {seed} | {cells[0]} | {cells[1]} |")
    print("\n| engine | mean gain (points) | s/step (mean over seeds) | wall per run |")
    print("|---|---:|---:|---:|")
    for engine in ENGINES:
        rs = [x for x in results if x["engine"] == engine]
        gain = statistics.mean(100 * (r["after"] - r["before"]) for r in rs)
        print(f"| {engine} | {gain:+.1f} | {statistics.mean(r['step_s'] for r in rs):.3f} | "
              f"{statistics.mean(r['wall_s'] for r in rs):.0f} s |")


if __name__ == "__main__":
    main()

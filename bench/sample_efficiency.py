"""Uniform GRPO vs dynamic sampling (DAPO) vs history resampling (SRPO) at one rollout budget.

All three train the embedded toy model on the built-in math suite (levels 2-4) with the same config apart
from the sampler, for several seeds, each stopped at the same number of generated rollouts
(`run.max_rollouts`). Held-out pass@1 (avg over `--eval-samples`) is measured every `--eval-every`
steps. Printed per method (mean over seeds): rollouts and steps until held-out pass@1 first reaches the
target, final pass@1, and the mean zero-advantage fraction over the second half of training.

    python bench/sample_efficiency.py [--seeds 0 1 2] [--budget 6400] [--target 0.30]

The zero-advantage fraction for dynamic sampling is measured on the groups it trains on (after its
filter) and, in brackets, on everything it generated.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

METHODS = {"uniform": "uniform", "dynamic": "dynamic_sampling", "hr": "history_resampling"}


def run_one(method: str, seed: int, args: argparse.Namespace, out: Path) -> list[dict]:
    from srpo.config import load_config
    from srpo.tracking import read_jsonl
    from srpo.engines.native.trainer import Trainer

    run_dir = out / f"{method}-{seed}"
    cfg = load_config("demo", [
        f"run.output_dir={run_dir}", f"run.seed={seed}", "run.progress=false", "run.save_every=0",
        "run.total_steps=100000", f"run.max_rollouts={args.budget}", f"run.eval_every={args.eval_every}",
        "curriculum.preset=math_only", f"sampling.name={METHODS[method]}",
        'data.train=["toy:math?n=300&levels=2-4&seed=1"]',
        f'data.heldout=["toy:math?n={args.heldout}&levels=2-4&split=heldout"]',
        f"eval.samples={args.eval_samples}",
    ])
    Trainer(cfg).train()
    return read_jsonl(run_dir / "metrics.jsonl")


def summarize(rows: list[dict], target: float) -> dict:
    evals = [(r["step"], r.get("sampler/rollouts_total", 0.0), r["eval/math/pass@1"])
             for r in rows if "eval/math/pass@1" in r]
    hit = next(((s, n) for s, n, p in evals if p >= target), None)
    train = [r for r in rows if r["step"] > 0]
    late = train[len(train) // 2:]
    generated_zero = [1.0 - r["dynamic/keep_rate"] for r in late if "dynamic/keep_rate" in r]
    return {"start": evals[0][2], "final": evals[-1][2], "steps": train[-1]["step"],
            "steps_to_target": hit[0] if hit else None, "rollouts_to_target": hit[1] if hit else None,
            "late_zero_adv": statistics.mean(r["groups/zero_adv_frac"] for r in late),
            "late_zero_generated": statistics.mean(generated_zero) if generated_zero else None}


def _mean(values: list) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "not reached"
    text = f"{statistics.mean(got):.0f}" if max(got) > 2 else f"{statistics.mean(got):.3f}"
    return text + (f" ({len(got)}/{len(values)})" if len(got) < len(values) else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=6400, help="rollouts per run")
    parser.add_argument("--target", type=float, default=0.30, help="held-out pass@1 to reach")
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--eval-samples", type=int, default=2)
    parser.add_argument("--heldout", type=int, default=201)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    results: dict[str, list[dict]] = {m: [] for m in args.methods}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for method in args.methods:
                summary = summarize(run_one(method, seed, args, Path(tmp)), args.target)
                results[method].append(summary)
                print(f"{method:<8} seed {seed}: {summary}", flush=True)
    print(f"\nbudget {args.budget} rollouts, target held-out pass@1 {args.target}, seeds {args.seeds}; "
          "means over seeds ('(k/n)': reached in k of n seeds)")
    header = f"{'method':<9}{'start':>7}{'final':>7}{'steps':>7}{'steps→tgt':>13}{'rollouts→tgt':>15}{'late 0-adv [generated]':>24}"
    print(header)
    for method, runs in results.items():
        late = _mean([r["late_zero_adv"] for r in runs])
        generated = _mean([r["late_zero_generated"] for r in runs])
        late += f" [{generated}]" if generated != "not reached" else ""
        print(f"{method:<9}{_mean([r['start'] for r in runs]):>7}{_mean([r['final'] for r in runs]):>7}"
              f"{_mean([r['steps'] for r in runs]):>7}{_mean([r['steps_to_target'] for r in runs]):>13}"
              f"{_mean([r['rollouts_to_target'] for r in runs]):>15}{late:>24}")


if __name__ == "__main__":
    main()

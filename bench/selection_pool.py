"""Build the "mixed pool" of issue 26's sampler comparison: too-easy, learnable and never-solvable math
prompts in known proportions, for `srpo compare selection-mixed`.

    python bench/selection_pool.py [--out runs/selection/pool.jsonl] [--per-class 32] [--k 8] [--seed 7]

1. `srpo label-difficulty` runs the shipped toy model on ``toy:math?n=N&levels=1-2&seed=S`` with k samples per
   prompt (the demo's sampling; 48 new tokens) and records each prompt's correct count c.
2. too easy: c = k (solved by every sample of the warm start); learnable: 2 <= c <= k - 2 (mixed groups from
   the start). `--per-class` of each, drawn with a seeded RNG from the uid-sorted candidates.
3. never solvable: `--per-class` further prompts whose reference answer is replaced by a negative number
   (every toy intermediate and result is >= 0, so no response can match it); uids are recomputed.

The pool is written shuffled (seeded) with its class in ``metadata["pool_class"]``, and a summary with the
counts per class and the measured pass rates goes to stdout and ``<out>.summary.json``. Deterministic for a
given model, seed and machine (generation runs on one thread).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from srpo.core.problem import Problem
from srpo.data.loaders import export_jsonl


def label(n: int, k: int, seed: int, workdir: Path) -> list[dict]:
    """Rows of `srpo label-difficulty` over n toy math problems of levels 1-2."""
    srpo = Path(sys.executable).with_name("srpo")
    cmd = [str(srpo), "label-difficulty", f"toy:math?n={n}&levels=1-2&seed={seed}", "--config", "demo",
           "--set", f"eval.samples={k}", "--set", "rollout.max_new_tokens=48", "--model", "toy",
           "--out", str(workdir), "--no-progress"]
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return [json.loads(line) for line in (workdir / "labelled.jsonl").read_text().splitlines() if line.strip()]


def problem(row: dict, pool_class: str, answer: str | None = None) -> Problem:
    meta = {"pool_class": pool_class, "warm_start_correct": row["metadata"]["difficulty_stats"]["correct"]}
    if answer is None:
        meta.update(solution=row["metadata"]["solution"], terse=row["metadata"]["terse"])
    return Problem.create("math", row["prompt"], answer if answer is not None else row["answer"],
                          source="toy/math-mixed", difficulty=row["difficulty"], metadata=meta)


def build(rows: list[dict], k: int, per_class: int, seed: int) -> list[Problem]:
    rng = random.Random(f"selection-pool-{seed}")
    rows = sorted(rows, key=lambda r: r["uid"])
    correct = {r["uid"]: r["metadata"]["difficulty_stats"]["correct"] for r in rows}
    easy = [r for r in rows if correct[r["uid"]] == k]
    learnable = [r for r in rows if 2 <= correct[r["uid"]] <= k - 2]
    if len(easy) < per_class or len(learnable) < per_class:
        raise SystemExit(f"selection_pool: only {len(easy)} too-easy and {len(learnable)} learnable prompts; "
                         f"raise --n or lower --per-class ({per_class})")
    chosen_easy, chosen_learnable = rng.sample(easy, per_class), rng.sample(learnable, per_class)
    taken = {r["uid"] for r in chosen_easy + chosen_learnable}
    rest = [r for r in rows if r["uid"] not in taken]
    chosen_never = rng.sample(rest, per_class)
    pool = ([problem(r, "too_easy") for r in chosen_easy] + [problem(r, "learnable") for r in chosen_learnable]
            + [problem(r, "never", answer=str(-(9000 + i))) for i, r in enumerate(chosen_never)])
    rng.shuffle(pool)
    return pool


def summary(pool: list[Problem], k: int) -> dict:
    out: dict[str, dict] = {}
    for p in pool:
        entry = out.setdefault(p.metadata["pool_class"], {"prompts": 0, "warm_start_pass_rate": 0.0})
        entry["prompts"] += 1
        entry["warm_start_pass_rate"] += p.metadata["warm_start_correct"] / k
    for entry in out.values():
        entry["warm_start_pass_rate"] = round(entry["warm_start_pass_rate"] / entry["prompts"], 4)
    out["never"]["warm_start_pass_rate"] = 0.0  # its original answers were solvable; the new ones are not
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/selection/pool.jsonl"))
    ap.add_argument("--n", type=int, default=600, help="toy problems labelled (levels 1-2)")
    ap.add_argument("--k", type=int, default=8, help="samples per problem for the labels")
    ap.add_argument("--per-class", type=int, default=32)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = label(args.n, args.k, args.seed, Path(tmp))
    pool = build(rows, args.k, args.per_class, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_jsonl(pool, args.out)
    stats = summary(pool, args.k)
    Path(f"{args.out}.summary.json").write_text(json.dumps(stats, indent=2) + "\n")
    print("| class | prompts | warm-start pass rate (k=%d) |\n|---|---|---|" % args.k)
    for name, entry in stats.items():
        print(f"| {name} | {entry['prompts']} | {entry['warm_start_pass_rate']:.3f} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Steps per second of the native loop at rollout.max_staleness = 0, 1, 2 on the demo setting, side by side.

The demo preset (toy model, 8 prompts x 8 samples x 96 tokens, history resampling, the staged curriculum, srpo's
own verifiers), no held-out evaluation, no checkpoints. Each round runs every k once, in order, for
``--steps`` steps after ``--warmup``; rounds repeat the sequence so a neighbour's load on a shared machine spreads
over all of them. Prints, per k: steps/s (measured steps over their wall time), its ratio to k = 0, the median
step, and where the time goes (generation+scoring on the rollout thread, the update, and how long each side
waited for the other: ``timing/generation_wait_s`` is the rollout thread waiting for weights,
``timing/update_wait_s`` the update waiting for data; ``cores_busy``: the process's CPU seconds per wall second,
all threads, which shows whether the two threads really ran side by side). torch's thread count is the process default (all cores)
unless ``--threads`` sets it; at k > 0 the trainer gives half to the rollout thread. A variant ``K@T`` in
``--ks`` runs k = K with T torch threads (``0@1``: the synchronous loop on one core's worth of threads, the
baseline that shows what the overlap itself gains when each side has one thread).

    python bench/async.py [--steps 10] [--warmup 2] [--rounds 1] [--ks 0,0@1,1,2] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch


def run(variant: str, steps: int, warmup: int, out: Path) -> dict[str, float]:
    k, _, threads = variant.partition("@")
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _run(int(k), steps, warmup, out)
    finally:
        torch.set_num_threads(before)


def _run(k: int, steps: int, warmup: int, out: Path) -> dict[str, float]:
    from srpo.config import load_config
    from srpo.engines.native.trainer import Trainer
    from srpo.tracking import read_jsonl

    total = steps + warmup
    cfg = load_config("demo", [f"run.output_dir={out}", f"run.total_steps={total}", "run.save_every=0",
                               "run.eval_every=0", "run.progress=false", "data.heldout=[]",
                               f"rollout.max_staleness={k}"])
    trainer = Trainer(cfg)
    ends: list[float] = []
    log = trainer.tracker.log

    cpu: list[float] = []

    def timed_log(metrics, step):  # the moment each step is done, from the trainer's side
        ends.append(time.perf_counter())
        cpu.append(time.process_time())  # this process's CPU seconds, all threads
        return log(metrics, step=step)

    trainer.tracker.log = timed_log
    trainer.train()
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if r["step"] > warmup]
    wall = ends[-1] - ends[warmup - 1] if warmup else ends[-1] - ends[0]
    measured = steps if warmup else steps - 1

    def med(key: str) -> float:
        return statistics.median(r.get(key, 0.0) for r in rows)

    cpu_s = cpu[-1] - cpu[warmup - 1] if warmup else cpu[-1] - cpu[0]
    return {"steps_per_s": measured / wall, "cores_busy": cpu_s / wall, "step_s": med("timing/step_s"),
            "generate_s": med("timing/generate_s"), "score_s": med("timing/score_s"),
            "update_s": med("timing/update_s"), "generation_wait_s": med("timing/generation_wait_s"),
            "update_wait_s": med("timing/update_wait_s"), "weight_sync_s": med("timing/weight_publish_s")
            + med("timing/weight_load_s"), "staleness": med("rollout/staleness_mean")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--ks", default="0,0@1,1,2")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ks = args.ks.split(",")
    results: dict[str, list[dict[str, float]]] = {k: [] for k in ks}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for k in ks:
                results[k].append(run(k, args.steps, args.warmup, Path(tmp) / f"k{k.replace('@', 't')}-r{r}"))
    print(f"demo setting, {args.steps} measured steps after {args.warmup} warm-up, {args.rounds} round(s), "
          f"torch threads {torch.get_num_threads()}")
    base = statistics.median(x["steps_per_s"] for x in results[ks[0]])
    cols = ("steps_per_s", "cores_busy", "step_s", "generate_s", "score_s", "update_s", "generation_wait_s", "update_wait_s",
            "weight_sync_s", "staleness")
    print(f"{'k':>5} {'ratio':>6} " + " ".join(f"{c:>17}" for c in cols))
    for k in ks:
        med = {c: statistics.median(x[c] for x in results[k]) for c in cols}
        print(f"{k:>5} {med['steps_per_s'] / base:>6.2f} " + " ".join(f"{med[c]:>17.3f}" for c in cols))
    if args.rounds > 1:
        for k in ks:
            print(f"k={k} steps/s per round: " + ", ".join(f"{x['steps_per_s']:.3f}" for x in results[k]))


if __name__ == "__main__":
    main()

"""Run every (variant, seed) of a `CompareSpec` on the native engine, skipping runs already complete.

Layout under the output directory::

    OUT/runs/<variant>-s<seed>/     an ordinary run directory (config.yaml, metrics.jsonl, checkpoints, ...)
                                    plus ``compare.json`` once the run has finished (the completion marker)
    OUT/configs/<variant>-s<seed>.yaml   the resolved config each run trains from

A run without ``compare.json`` is started again with the same config; ``run.resume=auto`` continues it
from its latest checkpoint, so an interrupted comparison resumes where it stopped.

Parallelism: ``jobs=1`` trains the runs one after another in this process with ``threads`` torch
threads. ``jobs=N`` keeps N child processes (``python -m srpo.cli train <config>``) busy, each with
``threads`` threads (OMP/MKL variables and ``torch.set_num_threads``) and, where ``taskset`` exists, pinned to
its own cores, so N runs never oversubscribe the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from srpo.config.compare import CompareSpec
from srpo.config.tree import TrainConfig, save_config
from srpo.core.configlib import ConfigError
from srpo.core.files import write_atomic

DONE = "compare.json"


@dataclass(frozen=True)
class PlannedRun:
    variant: str
    seed: int
    run_dir: Path
    config_path: Path
    cfg: TrainConfig

    @property
    def name(self) -> str:
        return self.run_dir.name


def plan(spec: CompareSpec, out_dir: Path) -> list[PlannedRun]:
    """One run per (seed, variant), seeds outermost so a partial comparison has every variant of seed 0."""
    out = []
    for seed in spec.seeds:
        for variant in spec.variants:
            name = spec.run_name(variant, seed)
            run_dir = Path(out_dir) / "runs" / name
            out.append(PlannedRun(variant, seed, run_dir, Path(out_dir) / "configs" / f"{name}.yaml",
                                  spec.config(variant, seed, run_dir)))
    return out


def run_is_complete(run: PlannedRun) -> bool:
    return (run.run_dir / DONE).is_file()


def run_all(spec: CompareSpec, out_dir: Path, jobs: int = 1, threads: int = 1, log=print) -> list[PlannedRun]:
    """Train every planned run that is not complete; returns the plan. A failed child run raises at the end."""
    if jobs < 1 or threads < 1:
        raise ConfigError(f"--jobs and --threads must be >= 1, got {jobs} and {threads}")
    runs = plan(spec, out_dir)
    todo = [r for r in runs if not run_is_complete(r)]
    log(f"compare {spec.name}: {len(runs)} runs ({len(runs) - len(todo)} already complete), budget {spec.budget} "
        f"rollouts each, {jobs} at a time x {threads} thread(s)")
    for run in todo:
        run.config_path.parent.mkdir(parents=True, exist_ok=True)
        save_config(run.cfg, run.config_path)
    if jobs == 1:
        for i, run in enumerate(todo, 1):
            _train_here(run, threads, log, f"[{i}/{len(todo)}]")
    else:
        _train_children(todo, jobs, threads, log)
    return runs


def _train_here(run: PlannedRun, threads: int, log, tag: str) -> None:
    import torch

    from srpo.engines.native.trainer import Trainer

    torch.set_num_threads(threads)
    log(f"{tag} {run.name}: training in this process")
    start = time.perf_counter()
    Trainer(run.cfg).train()
    _finish(run, time.perf_counter() - start, log, tag)


def _train_children(todo: list[PlannedRun], jobs: int, threads: int, log) -> None:
    slots = [list(range(i * threads, (i + 1) * threads)) for i in range(jobs)]
    free, running, failed = list(range(jobs)), {}, []
    queue = list(todo)
    while queue or running:
        while queue and free:
            slot, run = free.pop(0), queue.pop(0)
            running[slot] = (run, _spawn(run, slots[slot], threads), time.perf_counter())
            log(f"started {run.name} on core(s) {slots[slot]} (log: {run.run_dir / 'train.log'})")
        time.sleep(0.5)
        for slot, (run, proc, start) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[slot]
            free.append(slot)
            if proc.returncode == 0:
                _finish(run, time.perf_counter() - start, log, "done")
            else:
                failed.append(run.name)
                log(f"FAILED {run.name} (exit {proc.returncode}); see {run.run_dir / 'train.log'}")
    if failed:
        raise ConfigError(f"compare: {len(failed)} run(s) failed: {', '.join(failed)}; run the same command again "
                          "to retry them (complete runs are skipped)")


def _spawn(run: PlannedRun, cores: list[int], threads: int) -> subprocess.Popen:
    cmd, env = child_command(run.config_path, cores, threads)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    with (run.run_dir / "train.log").open("ab") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)


def child_command(config_path: Path, cores: list[int], threads: int) -> tuple[list[str], dict[str, str]]:
    """The command and environment of one child run: `threads` threads, pinned to `cores` (taken modulo the
    cores this process may use) when ``taskset`` exists."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               SRPO_TORCH_THREADS=str(threads))
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = sorted({usable[c % len(usable)] for c in cores}) if usable else []
    cmd = [sys.executable, "-c", CHILD, str(config_path)]
    if pin and shutil.which("taskset"):
        cmd = ["taskset", "-c", ",".join(map(str, pin))] + cmd
    return cmd, env


# The child: `srpo train CONFIG` with torch's intra-op threads set first (OMP_NUM_THREADS alone does not
# bind torch's own pool on every build).
CHILD = ("import os, sys, torch; torch.set_num_threads(int(os.environ['SRPO_TORCH_THREADS'])); "
         "from srpo.cli import main; sys.exit(main(['train', sys.argv[1], '--no-report']))")


def _finish(run: PlannedRun, wall_s: float, log, tag: str) -> None:
    """Write the completion marker with what the report needs: held-out problems per domain, samples each."""
    marker = {"variant": run.variant, "seed": run.seed, "wall_s": round(wall_s, 1),
              "heldout_problems": heldout_counts(run.cfg), "eval_samples": run.cfg.eval.samples}
    write_atomic(run.run_dir / DONE, json.dumps(marker, indent=2) + "\n", "the comparison marker")
    log(f"{tag} {run.name}: complete in {wall_s:.0f} s")


def heldout_counts(cfg: TrainConfig) -> dict[str, int]:
    """Held-out problems per domain (the report's per-run binomial interval needs the trial count)."""
    from srpo.data.pool import load_pool

    data = cfg.data
    problems, _ = load_pool(data.heldout, split="heldout", mapping=data.column_mapping or None,
                            format=data.format, on_unusable=data.on_unusable)
    return dict(sorted(Counter(p.domain for p in problems).items()))

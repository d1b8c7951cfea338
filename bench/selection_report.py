"""Pool coverage of `srpo compare selection` / `selection-mixed` runs: how much of the pool each selection rule
trained on, and (mixed pool) where its trained rollouts went, from every run's ``samples.jsonl``.

    python bench/selection_report.py runs/compare-selection [--pool runs/selection/pool.jsonl]

Per variant, mean over seeds: ``coverage`` = distinct prompts trained on / pool size; ``late coverage`` the same
over the second half of the steps; with ``--pool`` (whose rows carry ``metadata.pool_class``), the share of
trained rollouts on each class, early (first half of the steps) -> late (second half). The specs log every
trained rollout (``logging.samples.share=1.0``); rollouts dynamic sampling generated and discarded are not in
samples.jsonl and so not counted here.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from statistics import mean


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_figures(samples: list[dict], pool_size: int, classes: dict[str, str]) -> dict[str, float]:
    steps = sorted({r["step"] for r in samples})
    half = steps[len(steps) // 2] if steps else 0
    early = [r for r in samples if r["step"] < half]
    late = [r for r in samples if r["step"] >= half]
    out = {"coverage": len({r["uid"] for r in samples}) / pool_size,
           "late_coverage": len({r["uid"] for r in late}) / pool_size}
    for name in sorted(set(classes.values())):
        for label, rows in (("early", early), ("late", late)):
            out[f"{name}_{label}"] = sum(classes.get(r["uid"]) == name for r in rows) / max(1, len(rows))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("compare_dir", type=Path)
    ap.add_argument("--pool", type=Path, help="the mixed pool (metadata.pool_class per uid)")
    ap.add_argument("--pool-size", type=int, default=64, help="prompts in the pool when --pool is not given")
    args = ap.parse_args()
    pool = read_jsonl(args.pool) if args.pool else []
    classes = {r["uid"]: r["metadata"]["pool_class"] for r in pool}
    size = len(pool) or args.pool_size
    by_variant: dict[str, list[dict[str, float]]] = defaultdict(list)
    for run in sorted((args.compare_dir / "runs").iterdir()):
        samples_file = run / "samples.jsonl"
        if samples_file.exists():
            by_variant[run.name.rsplit("-s", 1)[0]].append(run_figures(read_jsonl(samples_file), size, classes))
    names = sorted(set(classes.values()))
    head = ["variant", "seeds", "coverage", "late coverage"] + [f"{n} early -> late" for n in names]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for variant, runs in by_variant.items():
        cells = [variant, str(len(runs)), f"{mean(r['coverage'] for r in runs):.2f}",
                 f"{mean(r['late_coverage'] for r in runs):.2f}"]
        cells += [f"{mean(r[n + '_early'] for r in runs):.2f} -> {mean(r[n + '_late'] for r in runs):.2f}" for n in names]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

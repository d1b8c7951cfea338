"""``srpo demo``: the demo preset on the embedded tiny model, then a summary table and the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

from srpo.config import load_config
from srpo.report.headline import format_summary, summarize_run


def run_demo(seed: int = 0, overrides: list[str] | None = None) -> int:
    overrides = [f"run.seed={seed}", f"run.output_dir=runs/demo-seed{seed}", f"run.name=demo-seed{seed}",
                 *(overrides or [])]
    cfg = load_config("demo", overrides)
    from srpo.engines.native.trainer import Trainer

    start = time.perf_counter()
    Trainer(cfg).train()
    elapsed = time.perf_counter() - start
    run_dir = Path(cfg.run.output_dir)
    summary = summarize_run(run_dir)
    summary["wall_s"] = elapsed
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print()
    print(format_summary(summary))
    print(f"wall time: {elapsed:.0f} s")
    from srpo.report import build_report

    print(f"report: {build_report([run_dir], run_dir / 'report')}")
    return 0

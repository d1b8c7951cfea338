"""``srpo demo``: the demo preset on the embedded tiny model, then a summary table and the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

from srpo.config import load_config
from srpo.report.headline import format_summary, summarize_run


def run_demo(seed: int = 0, overrides: list[str] | None = None, out: str | None = None) -> int:
    """Train the demo preset into `out` (default ``runs/demo-seed<S>``), then print its summary and report.

    The default directory may hold a demo run that this srpo cannot continue (made by another version, whose
    settings or toy data differ): the demo then starts afresh in the first free ``runs/demo-seed<S>.<n>`` and
    says so, keeping the old run. A directory the user names (`out` or a ``run.output_dir`` override) is never swapped: its refusal is the user's to resolve.
    """
    from srpo.config.resume import RunMismatch

    overrides = overrides or []
    explicit = out is not None or any(o.startswith("run.output_dir=") for o in overrides)
    run_dir = Path(out or f"runs/demo-seed{seed}")
    try:
        return _train_and_report(seed, overrides, run_dir)
    except RunMismatch:
        if explicit:
            raise
        fresh = _unused_sibling(run_dir)
        print(f"srpo demo: {run_dir} holds a demo run made with other settings or data (an older srpo?), which "
              f"cannot be continued; keeping it and starting a new run in {fresh}", flush=True)
        return _train_and_report(seed, overrides, fresh)


def _unused_sibling(run_dir: Path) -> Path:
    """The first of ``<run_dir>.2``, ``<run_dir>.3``, ... that does not exist."""
    n = 2
    while run_dir.with_name(f"{run_dir.name}.{n}").exists():
        n += 1
    return run_dir.with_name(f"{run_dir.name}.{n}")


def _train_and_report(seed: int, overrides: list[str], run_dir: Path) -> int:
    cfg = load_config("demo", [f"run.seed={seed}", f"run.output_dir={run_dir}", f"run.name=demo-seed{seed}",
                               *overrides])
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
    from srpo.cli.finish import write_report

    print(f"report: {write_report(run_dir)}")
    return 0

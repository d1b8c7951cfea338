"""`build_report`: run directories in, ``report.html`` plus one PNG per figure out."""

from __future__ import annotations

from pathlib import Path

from srpo.report.figures import figure_specs
from srpo.report.htmlpage import page, summary_table
from srpo.report.plots import figure_png, render_figure
from srpo.report.runs import load_runs
from srpo.report.summary import summarize, summary_domains


def build_report(run_dirs: list[Path], out_dir: Path) -> Path:
    """Plot the runs in `run_dirs` (overlaid) into `out_dir`; returns the path of ``report.html``.

    `out_dir` receives ``<figure>.png`` for every figure and ``report.html`` with the same PNGs embedded.
    Errors: a missing directory or metrics.jsonl, or a malformed metrics line, raise with the file
    (and line) named.
    """
    if not run_dirs:
        raise ValueError("build_report: no run directories given")
    runs = load_runs([Path(d) for d in run_dirs])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    for spec in figure_specs(runs):
        png = figure_png(render_figure(spec, runs))
        (out_dir / f"{spec.name}.png").write_bytes(png)
        sections.append((spec, png))
    reward_doms, eval_doms = summary_domains(runs)
    table = summary_table([summarize(r, reward_doms, eval_doms) for r in runs], reward_doms, eval_doms)
    out = out_dir / "report.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page([r.label for r in runs], table, sections), encoding="utf-8")
    tmp.replace(out)  # a browser that has the old report open never sees half a file
    return out

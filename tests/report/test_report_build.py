import argparse
import base64
import doctest
import re

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import srpo.report.figures
import srpo.report.plots
import srpo.report.runs
from srpo.cli.report import add_cli
from srpo.report import build_report, load_runs
from srpo.report.figures import figure_specs
from srpo.report.plots import Line, Panel, draw_panel, render_figure, run_colour, smooth

FIGURES = ["reward", "length", "zero_adv", "hr_active", "policy", "reflection", "reflect_length",
           "code_in_math", "eval", "training"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("module", [srpo.report.plots, srpo.report.runs, srpo.report.figures])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_smooth_matches_a_slow_reference():
    rng = np.random.default_rng(0)
    values = rng.normal(size=37)
    for window in (1, 3, 7):
        half = window // 2
        ref = []
        for i in range(len(values)):
            lo = min(max(0, i - half), len(values) - window)
            hi = lo + window
            if window == 1:
                ref.append(values[i])
                continue
            slope, icpt = np.polyfit(np.arange(lo, hi), values[lo:hi], 1)
            ref.append(icpt + slope * i)
        assert smooth(values, window) == pytest.approx(ref)
    # interior points are the centred moving average; a straight line passes unchanged, ends included
    assert smooth(values, 5)[2:-2] == pytest.approx(np.convolve(values, np.ones(5) / 5, mode="valid"))
    line = 0.5 * np.arange(20) + 3
    assert smooth(line, 7) == pytest.approx(line)


def test_report_has_every_figure_embedded_and_as_png(two_run_report):
    _, _, html_path = two_run_report
    out = html_path.parent
    page = html_path.read_text()
    assert [spec.name for spec in figure_specs(load_runs(two_run_report[:2]))] == FIGURES
    for name in FIGURES:
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(PNG_MAGIC)
        m = re.search(rf'<img class="plot" id="plot-{name}" [^>]*src="data:image/png;base64,([^"]+)"', page)
        assert m, name
        assert base64.b64decode(m.group(1)) == png


def test_report_is_self_contained(two_run_report):
    page = two_run_report[2].read_text()
    assert not re.search(r'(src|href)="(?!data:|#)', page)  # only data URIs and in-page anchors
    assert "<link" not in page and "@import" not in page and "url(" not in page


def test_summary_table(two_run_report):
    page = two_run_report[2].read_text()
    table = page[page.index('<table class="summary">'): page.index("</table>")]
    assert "srpo-staged" in table and "srpo-mixed" in table
    assert "stage 2 @ 40" in table
    assert "(80)" in table  # last held-out pass@1 was at step 80
    assert "final reward" in table and "zero-adv" in table


def test_runs_overlay_with_consistent_colours_and_legend(two_run_report):
    runs = load_runs(two_run_report[:2])
    for spec in figure_specs(runs)[:3]:
        fig = render_figure(spec, runs)
        assert [t.get_text() for t in fig.legends[0].get_texts()][:2] == ["srpo-staged", "srpo-mixed"]
        ax = fig.axes[0]
        colours = {to_hex(line.get_color()) for line in ax.get_lines() if line.get_linestyle() != ":"}
        assert colours == {run_colour(0), run_colour(1)}, spec.name


def test_stage_boundary_is_marked(two_run_report):
    runs = load_runs(two_run_report[:2])
    spec = next(s for s in figure_specs(runs) if s.name == "length")
    ax = render_figure(spec, runs).axes[0]
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert [ln.get_xdata()[0] for ln in vlines] == [40]
    assert any(t.get_text().strip() == "stage 2" for t in ax.texts)


def test_missing_data_says_no_data(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text('{"step": 1, "math/reward_mean": 0.5}\n')
    html_path = build_report([run_dir], tmp_path / "out")
    assert all((tmp_path / "out" / f"{n}.png").is_file() for n in FIGURES)
    ax = Figure().subplots()
    panel = Panel("x", "y", (Line("code/reward_mean"),))
    assert draw_panel(ax, panel, load_runs([run_dir]), x_label=True) is False
    assert [t.get_text() for t in ax.texts] == ["no data"]
    assert html_path.read_text().count('class="plot"') == len(FIGURES)


def test_empty_metrics_file_still_renders(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text("")
    assert build_report([tmp_path / "run"], tmp_path / "out").is_file()


def _parser():
    parser = argparse.ArgumentParser(prog="srpo")
    add_cli(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_default_out_and_prints_path(tmp_path, capsys):
    staged, mixed = tmp_path / "staged", tmp_path / "mixed"
    for run_dir in (staged, mixed):  # tiny runs: this test is about paths, not plots
        run_dir.mkdir()
        (run_dir / "metrics.jsonl").write_text('{"step": 1, "math/reward_mean": 0.5}\n')
    args = _parser().parse_args(["report", str(staged)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(staged / "report" / "report.html")
    args = _parser().parse_args(["report", str(staged), str(mixed), "--out", str(tmp_path / "o")])
    assert args.func(args) == 0 and (tmp_path / "o" / "report.html").is_file()


def test_cli_error_names_file_and_line(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.jsonl").write_text('{"step": 1}\nnot json\n')
    from srpo.cli import main

    assert main(["report", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.startswith(f"srpo: {tmp_path / 'r' / 'metrics.jsonl'}:2: not valid JSON")


def test_trainer_shaped_logging_fills_the_analysis_figures(tmp_path):
    # What the trainer does each step: rollout_metrics -> Tracker.log; the report then finds every panel.
    from srpo.analysis import rollout_metrics
    from srpo.tracking import Tracker

    texts = {"math": ["Wait, let me check. 4", "```python\nprint(4)\n```", "Alternatively 4", "4"],
             "code": ["def f():\n    return 1", "Hmm, perhaps a loop instead", "x", "y"]}
    with Tracker(tmp_path) as tracker:
        for step in range(1, 13):
            stage = 1 if step <= 6 else 2
            doms = ["math"] if stage == 1 else ["math", "code"]
            responses = [t for d in doms for t in texts[d]]
            domains = [d for d in doms for _ in texts[d]]
            tracker.log({"stage": stage, **rollout_metrics(responses, domains, [len(t) for t in responses])}, step)
    runs = load_runs([tmp_path])
    assert runs[0].stage_starts == [(7, 2)]
    for spec in figure_specs(runs):
        if spec.name not in ("reflection", "reflect_length", "code_in_math"):
            continue
        fig = Figure()
        for panel in (p for row in spec.grid for p in row if p is not None):
            assert draw_panel(fig.add_subplot(), panel, runs, x_label=True), (spec.name, panel.title)
    reflection = next(s for s in figure_specs(runs) if s.name == "reflection")
    assert [row[0].title for row in reflection.grid] == ["math: recheck", "code: recheck", "all: recheck"]

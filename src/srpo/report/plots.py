"""Drawing: one matplotlib figure per topic, panels in a grid, runs overlaid in fixed colours.

Figures are built with `matplotlib.figure.Figure` directly (never pyplot), so rendering a report neither
needs a display nor changes the caller's matplotlib backend; PNGs come out of the Agg renderer.

Conventions a reader can rely on across the whole report:
- a run has the same colour in every figure (tab10, in the order the run directories were given);
- noisy per-step metrics are drawn raw (faint) with a centred moving average on top (solid);
- sparse metrics (held-out evaluation) are drawn as points joined by lines, never smoothed;
- a dotted vertical line in the run's colour marks where its ``stage`` changes, labelled "stage k";
- a panel with nothing to show says "no data".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import blended_transform_factory

from srpo.report.runs import Run

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
    "#bcbd22",
)
PANEL_W, PANEL_H, HEADER_H, DPI = 3.9, 2.7, 0.95, 110


@dataclass(frozen=True)
class Line:
    """One metric drawn in a panel for every run; `dash` and `name` tell lines of the same run apart."""

    key: str
    dash: str = "-"
    name: str = ""


@dataclass(frozen=True)
class Panel:
    """One subplot: title, y label, lines. `sparse`: points, no smoothing; `percent`: fractions shown as %;
    `zero_based`: the y axis starts at 0."""

    title: str
    ylabel: str
    lines: tuple[Line, ...]
    sparse: bool = False
    percent: bool = False
    zero_based: bool = True
    scientific: bool = False  # tick labels like 1.0e-06 (learning rates), instead of an offset label


@dataclass(frozen=True)
class FigureSpec:
    """A figure: file stem `name`, a title, a caption for the HTML page and a grid of panels (None = blank)."""

    name: str
    title: str
    caption: str
    grid: tuple[tuple[Panel | None, ...], ...]
    line_legend: tuple[Line, ...] = field(default=())  # explains dash styles when a panel has several


def run_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def smoothing_window(n: int) -> int:
    """Odd moving-average window for `n` points: about n/15, at least 3, at most 51; 1 (none) below 8 points.

    >>> smoothing_window(5), smoothing_window(30), smoothing_window(200), smoothing_window(5000)
    (1, 3, 13, 51)
    """
    if n < 8:
        return 1
    w = min(51, max(3, n // 15))
    return w if w % 2 else w + 1


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average; near the ends the window shrinks to the points that exist (no padding).

    >>> smooth(np.array([0.0, 3.0, 6.0, 3.0]), 3).tolist()
    [1.5, 3.0, 4.0, 4.5]
    """
    if window <= 1 or len(values) < 2:
        return values.astype(float)
    half = window // 2
    csum = np.concatenate([[0.0], np.cumsum(values, dtype=float)])
    idx = np.arange(len(values))
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, len(values))
    return (csum[hi] - csum[lo]) / (hi - lo)


def percent_label(value: float, _pos: object = None) -> str:
    """A fraction as a percent tick label without trailing zeros.

    >>> percent_label(0.25), percent_label(0.0125), percent_label(0.1)
    ('25%', '1.25%', '10%')
    """
    return f"{100 * value:.2f}".rstrip("0").rstrip(".") + "%"


def smooth_segments(steps: np.ndarray, values: np.ndarray, breaks: list[int]) -> np.ndarray:
    """Smooth each stretch between `breaks` (steps where a new stage starts) on its own.

    A stage switch changes the data mix, so a jump there is real: averaging across it would blur it.

    >>> smooth_segments(np.arange(1, 21), np.r_[np.zeros(10), np.ones(10)], [11]).tolist() == [0.0] * 10 + [1.0] * 10
    True
    """
    cuts = [0, *np.searchsorted(steps, sorted(breaks)).tolist(), len(steps)]
    parts = [values[a:b] for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    return np.concatenate([smooth(p, smoothing_window(len(p))) for p in parts]) if parts else values


def _draw_series(ax, steps: np.ndarray, values: np.ndarray, colour: str, dash: str, sparse: bool,
                 breaks: list[int]) -> None:
    if sparse:
        ax.plot(steps, values, dash, color=colour, lw=1.4, marker="o", ms=3.5)
        return
    if smoothing_window(len(values)) > 1:
        ax.plot(steps, values, dash, color=colour, lw=0.8, alpha=0.22)
    ax.plot(steps, smooth_segments(steps, values, breaks), dash, color=colour, lw=1.6)


def _mark_stages(ax, runs: list[Run]) -> None:
    """Dotted line per stage change in the run's colour, labelled once per (step, stage) in this panel."""
    labelled = set()
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for i, run in enumerate(runs):
        for step, stage in run.stage_starts:
            ax.axvline(step, color=run_colour(i), ls=":", lw=1.3, alpha=0.9)
            if (step, stage) not in labelled:
                labelled.add((step, stage))
                ax.text(step, 0.98, f" stage {stage}", transform=trans, va="top", ha="left",
                        fontsize=7, color="#444444",
                        bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})


def _no_data(ax, title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#999999",
            fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#dddddd")


def draw_panel(ax, panel: Panel, runs: list[Run], x_label: bool) -> bool:
    """Draw `panel` on `ax` for all runs; returns False (and writes "no data") when nothing exists."""
    drawn = False
    for i, run in enumerate(runs):
        for line in panel.lines:
            series = run.get(line.key)
            if series is not None and len(series[0]):
                breaks = [step for step, _ in run.stage_starts]
                _draw_series(ax, series[0], series[1], run_colour(i), line.dash, panel.sparse, breaks)
                drawn = True
    if not drawn:
        _no_data(ax, panel.title)
        return False
    _mark_stages(ax, runs)
    ax.set_title(panel.title, fontsize=10)
    ax.set_ylabel(panel.ylabel, fontsize=9)
    if x_label:
        ax.set_xlabel("step", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    if panel.percent:
        ax.yaxis.set_major_formatter(FuncFormatter(percent_label))
    if panel.scientific:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.1e}" if v else "0"))
    if panel.zero_based:
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return True


def render_figure(spec: FigureSpec, runs: list[Run]) -> Figure:
    """One figure for `spec`: the panel grid, a title and a legend of run colours (and dash styles)."""
    n_rows, n_cols = len(spec.grid), max(len(row) for row in spec.grid)
    fig = Figure(figsize=(PANEL_W * n_cols, PANEL_H * n_rows + HEADER_H), dpi=DPI, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(spec.grid):
        for c in range(n_cols):
            panel = row[c] if c < len(row) else None
            if panel is None:
                axes[r][c].set_axis_off()
            else:
                draw_panel(axes[r][c], panel, runs, x_label=r == n_rows - 1)
    fig.suptitle(spec.title, fontsize=13, fontweight="bold")
    handles = [Line2D([], [], color=run_colour(i), lw=2.2) for i in range(len(runs))]
    labels = [run.label for run in runs]
    for line in spec.line_legend:
        handles.append(Line2D([], [], color="#555555", ls=line.dash, lw=1.6))
        labels.append(line.name)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6), frameon=False,
               fontsize=9)
    return fig


def figure_png(fig: Figure) -> bytes:
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()

"""Drawing: one matplotlib figure per topic, panels in a grid, runs overlaid in fixed colours.

Figures are built with `matplotlib.figure.Figure` directly (never pyplot), so rendering a report neither
needs a display nor changes the caller's matplotlib backend; PNGs come out of the Agg renderer.

Conventions a reader can rely on across the whole report:
- a run has the same colour in every figure (tab10, in the order the run directories were given);
- noisy per-step metrics are drawn raw (faint) with a smoothed line on top (solid), smoothed within each
  stage so that a real jump at a stage switch stays a jump;
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
MIN_FIG_W = 6.5  # inches: a one-panel figure still leaves room for a legend of several runs


@dataclass(frozen=True)
class Line:
    """One metric drawn in a panel for every run; `dash` and `name` tell lines of the same run apart."""

    key: str
    dash: str = "-"
    name: str = ""


@dataclass(frozen=True)
class Panel:
    """One subplot: title, y label, lines. `sparse`: points, no smoothing; `percent`: fractions shown as %;
    `zero_based`: the y axis starts at 0; `smooth`: raw faint + smoothed line (else the raw line only)."""

    title: str
    ylabel: str
    lines: tuple[Line, ...]
    sparse: bool = False
    percent: bool = False
    zero_based: bool = True
    scientific: bool = False  # tick labels like 1.0e-06 (learning rates), instead of an offset label
    smooth: bool = True  # False for counters and schedules, which have no noise to average out


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
    """Local linear smoothing: at each point, the least-squares line through `window` points around it,
    evaluated there. The window is centred where it can be and shifted inwards near the ends (kept full
    width, so the end points stay as smooth as the rest).

    In the interior this equals the centred moving average; at the ends, unlike a moving average, it does
    not bend a trend towards older values (the final reward is not understated while it still rises).
    O(n) through cumulative sums of x, y, xy, x^2 with x = point index.

    >>> smooth(np.array([0.0, 3.0, 6.0, 3.0]), 3).tolist()
    [0.0, 3.0, 4.0, 4.0]
    """
    n = len(values)
    if window <= 1 or n < 3:
        return values.astype(float)
    half = window // 2
    x = np.arange(n, dtype=float)
    y = values.astype(float)

    def csum(a: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(a)])

    cx, cy, cxx, cxy = csum(x), csum(y), csum(x * x), csum(x * y)
    window = min(window, n)
    lo = np.clip(np.arange(n) - half, 0, n - window)
    hi = lo + window
    m = (hi - lo).astype(float)
    sx, sy, sxx, sxy = cx[hi] - cx[lo], cy[hi] - cy[lo], cxx[hi] - cxx[lo], cxy[hi] - cxy[lo]
    denom = m * sxx - sx * sx
    slope = np.divide(m * sxy - sx * sy, denom, out=np.zeros(n), where=denom > 1e-12)
    return (sy - slope * sx) / m + slope * x


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


def _draw_series(ax, steps: np.ndarray, values: np.ndarray, colour: str, dash: str, panel: "Panel",
                 breaks: list[int], raw_alpha: float) -> None:
    if panel.sparse:
        ax.plot(steps, values, dash, color=colour, lw=1.4, marker="o", ms=3.5)
        return
    if not panel.smooth:
        ax.plot(steps, values, dash, color=colour, lw=1.6)
        return
    if smoothing_window(len(values)) > 1:
        ax.plot(steps, values, dash, color=colour, lw=0.8, alpha=raw_alpha)
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
    raw_alpha = 0.22 if len(runs) <= 2 else 0.12  # raw traces of many runs would drown the smoothed lines
    for i, run in enumerate(runs):
        for line in panel.lines:
            series = run.get(line.key)
            if series is not None and len(series[0]):
                breaks = [step for step, _ in run.stage_starts]
                _draw_series(ax, series[0], series[1], run_colour(i), line.dash, panel, breaks, raw_alpha)
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
    width = max(PANEL_W * n_cols, MIN_FIG_W)
    fig = Figure(figsize=(width, PANEL_H * n_rows + HEADER_H), dpi=DPI, layout="constrained")
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
    fig.legend(handles, labels, loc="outside lower center", ncol=legend_columns(labels, width), frameon=False,
               fontsize=9)
    return fig


def legend_columns(labels: list[str], width_in: float) -> int:
    """Legend entries per row that fit `width_in` inches (9 pt text is ~0.075 in per character).

    >>> legend_columns(["staged", "mixed"], 6.5), legend_columns(["a-rather-long-run-name"] * 4, 6.5)
    (2, 2)
    """
    entry = max(len(label) for label in labels) * 0.075 + 0.8  # text + line sample + padding
    return max(1, min(len(labels), int(width_in // entry)))


def figure_png(fig: Figure) -> bytes:
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()

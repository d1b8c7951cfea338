"""The comparison report: variants x seeds overlaid (mean and spread over seeds) and one table.

Input: ``{variant: [run_dir, ...]}`` (one directory per seed, each with ``metrics.jsonl`` and the
``compare.json`` marker that `srpo.cli.compare_runs` writes). Output in `out_dir`: ``compare.html``, one PNG
per figure, ``table.md`` and ``summary.json``.

What the table measures (per run, then mean over seeds):

- **final pass@1** per domain: the run's last held-out evaluation. Across seeds: mean ± the half-width of the
  Student-t 95% interval, ``t_{0.975, n-1} * s / sqrt(n)`` (s with Bessel's correction, n seeds; none for
  one seed). Within a run: the Wilson 95% interval of ``k`` correct out of ``N = problems * samples``
  held-out responses (``k = pass@1 * N``); it treats the N responses as independent trials, so it is the
  sampling noise of one evaluation, not the seed-to-seed spread. The table shows its mean half-width.
- **rollouts to target**: ``sampler/rollouts_total`` at the first evaluation whose pass@1 of the target
  domain is >= the target (0 if the initial evaluation already is); "not reached" otherwise. The mean is
  over the seeds that reached it, with the count.
- **zero-advantage split**, early (steps <= last/2) and late (steps > last/2), as ratios of sums over the
  groups *generated* in that half: zero = groups whose rewards were all equal, all-correct, all-wrong. For
  dynamic sampling the generated groups include those it discarded (``dynamic/groups_filtered``), so its
  zero-advantage share is comparable with the other samplers'; the groups it *trains* on are by construction
  almost all informative.
- **effective ratio**: 1 - zero share, of the groups trained on (late half).
- **reward at the stage switch** (runs whose ``stage`` changes), of math and of the whole batch: mean
  ``math/reward_mean`` (``all/reward_mean``) over the 20 steps
  before the first switch, the lowest 20-step trailing mean after it, and the mean over the last 20 steps.
- **response length** per domain and **reflection** (share of responses with a reflective keyword,
  ``reflect/<domain>/any_frac``, `srpo.analysis.reflection`): means over the early and the late half.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Callable

import numpy as np

from srpo.core.problem import DOMAINS
from srpo.eval.metrics import Z95
from srpo.report.runs import read_metrics

# Two-sided 95% Student-t quantiles t_{0.975, df}, df = 1..30 (standard tables); beyond 30 the normal 1.96
# is within 2.2% of the true quantile.
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
DIP_KEYS = ("math/reward_mean", "all/reward_mean")  # stage 1's domain, and the whole batch


# ------------------------------------------------------------------------------------------ table math
def t_interval(values: list[float]) -> tuple[float, float | None]:
    """(mean, half-width of the 95% Student-t interval over `values`); no interval for fewer than two.

    >>> t_interval([0.3, 0.5])  # mean 0.4, s = 0.1414, t_{0.975,1} = 12.706: 12.706 * 0.1414 / sqrt(2)
    (0.4, 1.2706)
    """
    n = len(values)
    if n == 0:
        return float("nan"), None
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    s = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    t = T975[n - 2] if n - 1 <= len(T975) else Z95
    return mean, round(t * s / math.sqrt(n), 12)


def wilson(k: float, n: int) -> tuple[float, float]:
    """Wilson score 95% interval for k successes in n trials:
    ``(p + z^2/2n ± z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with p = k/n.

    >>> [round(x, 4) for x in wilson(5, 10)]
    [0.2366, 0.7634]
    """
    if n <= 0:
        raise ValueError(f"wilson: need n > 0 trials, got {n}")
    p, z2 = k / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rollouts_to_target(evals: list[tuple[float, float]], target: float) -> float | None:
    """Rollouts at the first ``(rollouts, pass@1)`` evaluation (in order) with pass@1 >= target, else None.

    >>> rollouts_to_target([(0, 0.2), (640, 0.29), (1280, 0.31), (1920, 0.28)], 0.3)
    1280
    """
    return next((r for r, p in evals if p >= target), None)


def halves(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Training rows (step > 0) split into steps <= last/2 and steps > last/2."""
    train = [r for r in rows if r["step"] > 0]
    if not train:
        return [], []
    mid = train[-1]["step"] / 2
    return [r for r in train if r["step"] <= mid], [r for r in train if r["step"] > mid]


def group_counts(row: dict) -> dict[str, float]:
    """Groups generated in one step and how many were zero-advantage / all-correct / all-wrong, and the
    groups trained on and how many of those were zero-advantage (see the module docstring)."""
    trained = row.get("groups/count", 0.0)
    return {
        "generated": row.get("dynamic/groups_generated", trained),
        "zero": row.get("groups/zero_adv_frac", 0.0) * trained + row.get("dynamic/groups_filtered", 0.0),
        "all_correct": row.get("groups/all_correct_frac", 0.0) * trained + row.get("dynamic/filtered_all_correct", 0.0),
        "all_wrong": row.get("groups/all_wrong_frac", 0.0) * trained + row.get("dynamic/filtered_all_wrong", 0.0),
        "trained": trained, "trained_zero": row.get("groups/zero_adv_frac", 0.0) * trained,
    }


def group_split(rows: list[dict]) -> dict[str, float | None]:
    """Ratios of sums over `rows`: zero / all_correct / all_wrong per generated group, effective per trained.

    >>> group_split([{"groups/count": 8, "groups/zero_adv_frac": 0.5, "groups/all_correct_frac": 0.25,
    ...               "groups/all_wrong_frac": 0.25}, {"groups/count": 8, "groups/zero_adv_frac": 0.0}])
    {'zero': 0.25, 'all_correct': 0.125, 'all_wrong': 0.125, 'effective': 0.75}
    """
    total = {k: math.fsum(group_counts(r)[k] for r in rows) for k in group_counts({})}
    if not total["generated"]:
        return dict.fromkeys(("zero", "all_correct", "all_wrong", "effective"))
    out = {k: total[k] / total["generated"] for k in ("zero", "all_correct", "all_wrong")}
    out["effective"] = 1 - total["trained_zero"] / total["trained"] if total["trained"] else None
    return out


def switch_dip(rows: list[dict], key: str = "all/reward_mean", window: int = 20) -> tuple[float, float, float] | None:
    """Around the first change of ``stage``: (mean of `key` over the `window` steps before it, the lowest
    `window`-step trailing mean after it, the mean over the last `window` steps); None without a change.

    >>> rows = [{"step": s, "stage": 1 + (s > 4), "r": [.5, .6, .7, .8, .4, .5, .6, .9][s - 1]} for s in range(1, 9)]
    >>> [round(x, 3) for x in switch_dip(rows, "r", window=2)]
    [0.75, 0.45, 0.75]
    """
    train = [r for r in rows if r["step"] > 0 and isinstance(r.get(key), (int, float))]
    change = next((i for i in range(1, len(train)) if train[i].get("stage") != train[i - 1].get("stage")), None)
    if change is None:
        return None
    values = [r[key] for r in train]
    before = values[max(0, change - window):change]
    after = [float(np.mean(values[max(change, i - window + 1):i + 1])) for i in range(change + window - 1, len(values))]
    if not before or not after:
        return None
    return float(np.mean(before)), min(after), float(np.mean(values[-window:]))


def mean_of(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    return math.fsum(values) / len(values) if values else None


# ------------------------------------------------------------------------------------------ per run
@dataclass
class RunData:
    variant: str
    path: Path
    rows: list[dict]  # merged metrics per step, in step order
    marker: dict[str, Any]

    def evals(self, domain: str) -> list[tuple[float, float]]:
        key = f"eval/{domain}/pass@1"
        return [(r.get("sampler/rollouts_total", 0.0) if r["step"] else 0.0, r[key]) for r in self.rows if key in r]


def load_compared_run(variant: str, run_dir: Path) -> RunData:
    run_dir = Path(run_dir)
    if not (run_dir / "metrics.jsonl").is_file():
        raise FileNotFoundError(f"{run_dir}: no metrics.jsonl (has this run started?)")
    by_step = read_metrics(run_dir / "metrics.jsonl")
    marker_path = run_dir / "compare.json"
    marker = json.loads(marker_path.read_text(encoding="utf-8")) if marker_path.is_file() else {}
    return RunData(variant, run_dir, [by_step[s] | {"step": s} for s in sorted(by_step)], marker)


def domains_of(runs: list[RunData], pattern: str) -> list[str]:
    """Domains d (of `srpo.core.problem.DOMAINS`, in that order) for which some run logs ``pattern.format(d)``.

    >>> domains_of([RunData("v", Path("."), [{"step": 0, "eval/code/pass@1": 1.0, "eval/all/pass@1": 1.0}], {})],
    ...            "eval/{}/pass@1")
    ['code']
    """
    keys = {k for run in runs for r in run.rows for k in r}
    return [d for d in DOMAINS if pattern.format(d) in keys]


def summarize_compared_run(run: RunData, domains: list[str], target: tuple[str, float] | None) -> dict[str, Any]:
    """Everything the table shows for one run (see the module docstring)."""
    early, late = halves(run.rows)
    last = (early + late)[-1] if early or late else {"step": 0}
    out: dict[str, Any] = {"steps": last["step"], "rollouts": last.get("sampler/rollouts_total"),
                           "early": group_split(early), "late": group_split(late)}
    for d in domains:
        evals = run.evals(d)
        out[f"{d}/pass@1"] = evals[-1][1] if evals else None
        out[f"{d}/pass@1_start"] = evals[0][1] if evals else None
        trials = run.marker.get("heldout_problems", {}).get(d, 0) * run.marker.get("eval_samples", 0)
        if evals and trials:
            lo, hi = wilson(evals[-1][1] * trials, trials)
            out[f"{d}/wilson_half"] = (hi - lo) / 2
        for key, name in ((f"{d}/response_len_mean", "len"), (f"reflect/{d}/any_frac", "reflect")):
            out[f"{d}/{name}_early"], out[f"{d}/{name}_late"] = mean_of(early, key), mean_of(late, key)
    if target:
        out["to_target"] = rollouts_to_target(run.evals(target[0]), target[1])
    for key in DIP_KEYS:
        out[f"switch_dip/{key}"] = switch_dip(run.rows, key)
    return out


# ------------------------------------------------------------------------------------------ the table
def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _pm(values: list[float | None], digits: int = 3) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    mean, half = t_interval(got)
    return _fmt(mean, digits) + (f" ± {_fmt(half, digits)}" if half is not None else "")


def _arrow(summaries: list[dict], early: Callable, late: Callable, digits: int = 2) -> str:
    e = [early(s) for s in summaries if early(s) is not None]
    lt = [late(s) for s in summaries if late(s) is not None]
    return f"{_fmt(np.mean(e) if e else None, digits)} → {_fmt(np.mean(lt) if lt else None, digits)}"


def table_rows(by_variant: dict[str, list[dict]], domains: list[str], target: tuple[str, float] | None,
               len_domains: list[str], reflect_domains: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and one row per variant, every cell a string (means over seeds, see the module docstring)."""
    header = ["variant", "seeds"]
    header += [f"{d} pass@1 start → final (± t95 over seeds) [run Wilson ±]" for d in domains]
    if target:
        header.append(f"rollouts to {target[0]} pass@1 ≥ {target[1]:g}")
    header += ["zero-adv early → late", "all-correct early → late", "all-wrong early → late",
               "effective ratio late (trained)"]
    header += [f"{d} length early → late" for d in len_domains]
    header += [f"{d} reflective early → late" for d in reflect_domains]
    dips = [k for k in DIP_KEYS if any(s.get(f"switch_dip/{k}") for sums in by_variant.values() for s in sums)]
    header += [f"{k.split('/')[0]} reward at the stage switch: before → lowest after → end" for k in dips]
    header.append("steps (mean)")
    rows = []
    for variant, sums in by_variant.items():
        row = [variant, str(len(sums))]
        for d in domains:
            wil = [s.get(f"{d}/wilson_half") for s in sums if s.get(f"{d}/wilson_half") is not None]
            start = [s[f"{d}/pass@1_start"] for s in sums if s.get(f"{d}/pass@1_start") is not None]
            row.append(f"{_fmt(np.mean(start) if start else None)} → {_pm([s.get(f'{d}/pass@1') for s in sums])}"
                       + (f" [±{_fmt(float(np.mean(wil)))}]" if wil else ""))
        if target:
            hits = [s["to_target"] for s in sums if s.get("to_target") is not None]
            row.append("not reached" if not hits else
                       f"{np.mean(hits):.0f}" + (f" ({len(hits)}/{len(sums)} seeds)" if len(hits) < len(sums) else ""))
        for part in ("zero", "all_correct", "all_wrong"):
            row.append(_arrow(sums, lambda s, p=part: s["early"][p], lambda s, p=part: s["late"][p]))
        row.append(_pm([s["late"]["effective"] for s in sums], 2))
        row += [_arrow(sums, lambda s, d=d: s[f"{d}/len_early"], lambda s, d=d: s[f"{d}/len_late"], 1)
                for d in len_domains]
        row += [_arrow(sums, lambda s, d=d: s[f"{d}/reflect_early"], lambda s, d=d: s[f"{d}/reflect_late"], 3)
                for d in reflect_domains]
        for key in dips:
            got = [s[f"switch_dip/{key}"] for s in sums if s.get(f"switch_dip/{key}")]
            row.append(" → ".join(f"{np.mean([g[i] for g in got]):.3f}" for i in range(3)) if got else "-")
        row.append(f"{np.mean([s['steps'] for s in sums]):.0f}")
        rows.append(row)
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


# ------------------------------------------------------------------------------------------ curves
def curve(run: RunData, key: str | Callable[[dict], float | None], sparse: bool = False
          ) -> tuple[np.ndarray, np.ndarray]:
    """(rollouts, value) of one metric; per-step metrics smoothed by a trailing mean over ~1/30 of the run."""
    pts = []
    for r in run.rows:
        value = key(r) if callable(key) else r.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value) and (sparse or r["step"] > 0):
            pts.append((r.get("sampler/rollouts_total", 0.0) if r["step"] else 0.0, float(value)))
    if not pts:
        return np.zeros(0), np.zeros(0)
    x, y = np.array(pts).T
    if not sparse and len(y) > 30:
        w = len(y) // 30
        y = np.array([y[max(0, i - w + 1):i + 1].mean() for i in range(len(y))])
    return x, y


def band(runs: list[RunData], key, sparse: bool = False, points: int = 60):
    """Common rollout grid, mean, min and max over the runs (each interpolated onto the grid)."""
    curves = [c for c in (curve(r, key, sparse) for r in runs) if len(c[0])]
    if not curves:
        return None
    hi_x = min(c[0][-1] for c in curves)
    lo_x = max(c[0][0] for c in curves)
    if hi_x <= lo_x:
        return None
    grid = np.linspace(lo_x, hi_x, points)
    ys = np.array([np.interp(grid, x, y) for x, y in curves])
    return grid, ys.mean(0), ys.min(0), ys.max(0)


def generated_frac(part: str) -> Callable[[dict], float | None]:
    def get(row: dict) -> float | None:
        c = group_counts(row)
        return c[part] / c["generated"] if c["generated"] else None
    return get


def variant_figure_png(title: str, panels: list[tuple[str, Any, bool]], groups: dict[str, list[RunData]],
               hline: float | None = None) -> bytes:
    """One row of panels (title, key, sparse); each variant's mean line with its min-max band over seeds."""
    from matplotlib.figure import Figure

    from srpo.report.plots import PALETTE

    fig = Figure(figsize=(max(4.2 * len(panels), 6.0), 3.4), dpi=100)
    for i, (ptitle, key, sparse) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for j, (variant, runs) in enumerate(groups.items()):
            got = band(runs, key, sparse)
            if got is None:
                continue
            grid, mean, lo, hi = got
            colour = PALETTE[j % len(PALETTE)]
            ax.plot(grid, mean, color=colour, label=f"{variant} (n={len(runs)})")
            ax.fill_between(grid, lo, hi, color=colour, alpha=0.18, linewidth=0)
        if hline is not None and sparse:
            ax.axhline(hline, color="grey", linestyle=":", linewidth=1)
        ax.set_title(ptitle, fontsize=9)
        ax.set_xlabel("rollouts", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    seen: dict[str, Any] = {}  # a variant may have data only in some panels: legend from all of them
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    handles, labels = list(seen.values()), list(seen)
    fig.suptitle(title + " (line: mean over seeds; band: min-max)", fontsize=10)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8)
    fig.tight_layout(rect=(0, 0.1, 1, 0.93))
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def figures(groups: dict[str, list[RunData]], domains: list[str], target) -> list[tuple[str, str, bytes]]:
    runs = [r for rs in groups.values() for r in rs]
    reward_doms = domains_of(runs, "{}/reward_mean")
    len_doms = domains_of(runs, "{}/response_len_mean")
    refl_doms = domains_of(runs, "reflect/{}/any_frac")
    active = domains_of(runs, "sampler/{}/active_size")
    specs = [
        ("eval", "Held-out pass@1", [(f"{d} pass@1", f"eval/{d}/pass@1", True) for d in domains],
         target[1] if target else None),
        ("zero_adv", "Zero-advantage groups (share of generated groups)",
         [("zero advantage", generated_frac("zero"), False), ("all correct", generated_frac("all_correct"), False),
          ("all wrong", generated_frac("all_wrong"), False)], None),
        ("reward", "Training reward", [(f"{d} reward", f"{d}/reward_mean", False) for d in reward_doms], None),
        ("length", "Response length (tokens)", [(f"{d} length", f"{d}/response_len_mean", False) for d in len_doms],
         None),
        ("reflection", "Responses with a reflective keyword",
         [(f"{d} reflective", f"reflect/{d}/any_frac", False) for d in refl_doms], None),
        ("active_set", "Sampler active set (prompts)",
         [(f"{d} active", f"sampler/{d}/active_size", False) for d in active], None),
    ]
    return [(name, title, variant_figure_png(title, panels, groups, hline)) for name, title, panels, hline in specs if panels]


# ------------------------------------------------------------------------------------------ the report
def build_compare_report(groups: dict[str, list[Path]], out_dir: Path, target: tuple[str, float] | None = None,
                         title: str = "comparison", notes: str = "") -> Path:
    """Write compare.html, the PNGs, table.md and summary.json into `out_dir`; returns the HTML path."""
    if not groups or not all(groups.values()):
        raise ValueError("build_compare_report: every variant needs at least one run directory")
    data = {v: [load_compared_run(v, d) for d in dirs] for v, dirs in groups.items()}
    runs = [r for rs in data.values() for r in rs]
    domains = domains_of(runs, "eval/{}/pass@1")
    sums = {v: [summarize_compared_run(r, domains, target) for r in rs] for v, rs in data.items()}
    header, rows = table_rows(sums, domains, target, domains_of(runs, "{}/response_len_mean"),
                              domains_of(runs, "reflect/{}/any_frac"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = markdown(header, rows)
    (out_dir / "table.md").write_text(table, encoding="utf-8")
    (out_dir / "summary.json").write_text(json.dumps(
        {"title": title, "target": list(target) if target else None, "variants": sums,
         "runs": {v: [str(r.path) for r in rs] for v, rs in data.items()}}, indent=2, default=float), encoding="utf-8")
    figs = figures(data, domains, target)
    for name, _, png in figs:
        (out_dir / f"{name}.png").write_bytes(png)
    page = _html(title, notes, header, rows, figs)
    out = out_dir / "compare.html"
    out.write_text(page, encoding="utf-8")
    return out


def _html(title: str, notes: str, header: list[str], rows: list[list[str]], figs) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    imgs = "".join(f"<h2>{html.escape(t)}</h2><img alt='{html.escape(t)}' src='data:image/png;base64,"
                   f"{base64.b64encode(png).decode()}'>" for _, t, png in figs)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ccc;padding:3px 6px}img{max-width:100%}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(notes)}</p><table><tr>{cells}</tr>{body}</table>"
            f"{imgs}</body></html>")

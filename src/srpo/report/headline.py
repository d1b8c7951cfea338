"""A run's headline numbers from its metrics.jsonl, and a plain-text table of them."""

from __future__ import annotations

from pathlib import Path
from statistics import mean

from srpo.report.summary import TAIL
from srpo.tracking import read_jsonl


def _series(rows: list[dict], key: str) -> list[tuple[int, float]]:
    return [(r["step"], r[key]) for r in rows if r.get(key) is not None]


def _window_mean(values: list[float], first: bool) -> float | None:
    """Mean of the first or last `TAIL` logged values: the same window as the report's "final reward"."""
    if not values:
        return None
    return mean(values[:TAIL] if first else values[-TAIL:])


def summarize_run(run_dir: str | Path) -> dict:
    """Held-out pass@1 before/after, reward start/end, zero-advantage split per stage, HR active set."""
    rows = read_jsonl(Path(run_dir) / "metrics.jsonl")
    train = [r for r in rows if r["step"] > 0]
    domains = sorted({k.split("/")[0] for r in train for k in r if k.endswith("/reward_mean")} - {"all"})
    out: dict = {"steps": len(train), "domains": domains}
    for domain in domains + ["all"]:
        rewards = [v for _, v in _series(train, f"{domain}/reward_mean")]
        out[f"{domain}/reward_start"] = _window_mean(rewards, first=True)
        out[f"{domain}/reward_end"] = _window_mean(rewards, first=False)
        evals = _series(rows, f"eval/{domain}/pass@1")
        if evals:
            out[f"{domain}/pass@1_before"], out[f"{domain}/pass@1_after"] = evals[0][1], evals[-1][1]
    out["stages"] = _stage_summary(train)
    out["active_set"] = _active_set_per_epoch(train, domains)
    step_times = [v for _, v in _series(train, "timing/step_s")]
    out["steps_per_s"] = len(step_times) / sum(step_times) if step_times else None
    out["rollouts_total"] = train[-1].get("sampler/rollouts_total") if train else None
    return out


def _stage_summary(rows: list[dict]) -> list[dict]:
    stages: dict[int, list[dict]] = {}
    for r in rows:
        stages.setdefault(int(r.get("stage", 1)), []).append(r)
    keys = {"zero_adv_frac": "groups/zero_adv_frac", "all_correct_frac": "groups/all_correct_frac",
            "all_wrong_frac": "groups/all_wrong_frac"}
    return [{"stage": stage, "steps": len(stage_rows), **{name: _mean_of(stage_rows, key) for name, key in keys.items()}}
            for stage, stage_rows in sorted(stages.items())]


def _mean_of(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return mean(values) if values else None


def _active_set_per_epoch(rows: list[dict], domains: list[str]) -> dict[str, list[int]]:
    """Active-set size at the first step of each sampler epoch, per domain (HR shrinks it)."""
    result = {}
    for domain in domains:
        sizes: dict[int, int] = {}
        for r in rows:
            epoch, size = r.get(f"sampler/{domain}/epoch"), r.get(f"sampler/{domain}/active_size")
            if epoch is not None and size is not None:
                sizes.setdefault(int(epoch), int(size))
        if sizes:
            result[domain] = [sizes[e] for e in sorted(sizes)]
    return result


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _count(value: float | None) -> int | None:
    """A count that metrics.jsonl holds as a float (every metric is one), shown as the integer it is."""
    return None if value is None else int(value)


def format_summary(summary: dict) -> str:
    """The summary as an aligned plain-text table."""
    lines = [f"{'':<22}{'before/start':>14}{'after/end':>12}"]
    for domain in summary["domains"] + ["all"]:
        if f"{domain}/pass@1_before" in summary:
            lines.append(f"{domain + ' held-out pass@1':<22}{_fmt(summary[domain + '/pass@1_before']):>14}"
                         f"{_fmt(summary[domain + '/pass@1_after']):>12}")
        lines.append(f"{domain + ' train reward':<22}{_fmt(summary[domain + '/reward_start']):>14}"
                     f"{_fmt(summary[domain + '/reward_end']):>12}")
    lines.append(f"(train reward: mean over the first / last {TAIL} steps, as the report's final reward)")
    lines.append("")
    lines.append(f"{'stage':<8}{'steps':>7}{'zero-adv':>10}{'all-correct':>13}{'all-wrong':>11}")
    for s in summary["stages"]:
        lines.append(f"{s['stage']:<8}{s['steps']:>7}{_fmt(s['zero_adv_frac']):>10}"
                     f"{_fmt(s['all_correct_frac']):>13}{_fmt(s['all_wrong_frac']):>11}")
    for domain, sizes in summary["active_set"].items():
        lines.append(f"active set per epoch ({domain}): {' -> '.join(map(str, sizes))}")
    lines.append(f"steps: {summary['steps']}   steps/s: {_fmt(summary['steps_per_s'])}   "
                 f"rollouts: {_fmt(_count(summary['rollouts_total']))}")
    return "\n".join(lines)

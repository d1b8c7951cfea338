"""Synthetic run directories shaped like the trainer's output (metrics.jsonl, samples.jsonl, config.yaml)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import yaml


def _step_metrics(step: int, rng, stage_switch: int | None, regime: str, n_steps: int) -> dict:
    t = step / n_steps
    stage = 1 if stage_switch is None or step < stage_switch else 2
    domains = {"staged": ["math"] if stage == 1 else ["math", "code"], "mixed": ["math", "code"],
               "math-only": ["math"], "code-only": ["code"]}[regime]
    m: dict = {"stage": stage, "train/loss": float(rng.normal(0, 0.05)), "train/lr": 1e-6,
               "train/grad_norm": float(abs(rng.normal(0.5, 0.15)))}
    m["actor/entropy"] = 0.9 - 0.4 * t + float(rng.normal(0, 0.03))
    for k in ("low", "high", "dual"):
        m[f"actor/clipfrac_{k}"] = max(0.0, {"low": 0.02, "high": 0.04, "dual": 0.003}[k] + float(rng.normal(0, 0.005)))
    m["actor/approx_kl"] = abs(float(rng.normal(0.002, 0.001)))
    rewards, lens, counts = [], [], []
    for d in domains:
        p = min(0.95, 0.2 + 0.6 * t + (0.05 if d == "math" else -0.05)) + float(rng.normal(0, 0.04))
        p = float(np.clip(p, 0, 1))
        n = 64
        m[f"{d}/pass_rate"] = p
        m[f"{d}/reward_mean"] = 2 * p - 1 + float(rng.normal(0, 0.02))
        m[f"{d}/response_len_mean"] = 120 + 300 * t + (80 if d == "math" else 0) + float(rng.normal(0, 15))
        m[f"{d}/num_samples"] = n
        rewards.append(m[f"{d}/reward_mean"])
        lens.append(m[f"{d}/response_len_mean"])
        counts.append(n)
        m[f"sampler/{d}/active_size"] = int(400 - 150 * t * (1 if d == "math" else 0.6))
        m[f"sampler/{d}/epoch"] = int(1 + 4 * t)
        m[f"sampler/{d}/dropped_total"] = int(150 * t)
        base = 0.05 + 0.3 * t
        for fam, scale in (("recheck", 1.0), ("hesitation", 1.4), ("exploration", 0.6)):
            m[f"reflect/{d}/{fam}_frac"] = float(np.clip(base * scale + rng.normal(0, 0.02), 0, 1))
            m[f"reflect/{d}/{fam}_count_mean"] = m[f"reflect/{d}/{fam}_frac"] * 1.5
        m[f"reflect/{d}/any_frac"] = float(np.clip(base * 1.8, 0, 1))
        m[f"reflect/{d}/len_with"] = m[f"{d}/response_len_mean"] * 1.3
        m[f"reflect/{d}/len_without"] = m[f"{d}/response_len_mean"] * 0.8
        if step % 20 == 0:
            m[f"eval/{d}/pass@1"] = min(1.0, 0.15 + 0.5 * t)
    m["all/reward_mean"] = float(np.average(rewards, weights=counts))
    m["all/response_len_mean"] = float(np.average(lens, weights=counts))
    m["all/pass_rate"] = float(np.mean([m[f"{d}/pass_rate"] for d in domains]))
    if "math" in domains:
        m["code_in_math/frac"] = float(np.clip((0.12 if stage == 2 else 0.01) + rng.normal(0, 0.01), 0, 1))
    zero = float(np.clip(0.35 + 0.3 * t + rng.normal(0, 0.03), 0, 1))
    m["groups/zero_adv_frac"] = zero
    m["groups/all_correct_frac"] = zero * (0.3 + 0.5 * t)
    m["groups/all_wrong_frac"] = zero - m["groups/all_correct_frac"]
    m["groups/effective_ratio"] = 1 - zero
    m["curriculum/weight_code"] = 0.0 if stage == 1 else min(0.5, 0.05 * (step - stage_switch + 1))
    m["timing/step_s"] = 1.2
    if step == 7:
        m["train/grad_norm"] = math.nan  # the trainer's Tracker writes NaN as null
    return m


def make_run(run_dir: Path, name: str | None, n_steps: int = 120, regime: str = "staged",
             stage_switch: int | None = 60, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = {"algorithm": {"name": "srpo"}, "trainer": {"steps": n_steps}}
    if name is not None:
        cfg["run"] = {"name": name}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg))
    with (run_dir / "metrics.jsonl").open("w") as fh:
        for step in range(1, n_steps + 1):
            m = _step_metrics(step, rng, stage_switch, regime, n_steps)
            m = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in m.items()}
            fh.write(json.dumps({"step": step, **m}) + "\n")
    with (run_dir / "samples.jsonl").open("w") as fh:
        for step in range(1, n_steps + 1, 10):
            fh.write(json.dumps({"step": step, "uid": "p1", "stage": 1, "domain": "math",
                                 "response": "Wait, 4", "reward": 1.0, "correct": True, "length": 3}) + "\n")
    return run_dir

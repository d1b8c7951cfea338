"""`srpo verl-recipe`: from a srpo config to a verl run in one step.

`write_recipe` checks the config (`setup.check_config`), loads the training and held-out data exactly as every
srpo engine does, and writes into ``verl.data_dir`` (default ``<run.output_dir>/verl``):

    train.parquet     verl's RL layout (`srpo.data.loaders.verl_row`) plus ``extra_info.domain``
    heldout.parquet   the held-out problems (without any: one training row that verl loads and never runs)
    srpo.yaml         the frozen srpo config the dataset, the reward function and the trainer hook read
    overrides.txt     verl's Hydra overrides, one a line
    run.sh            ``python3 -m verl.trainer.main_ppo <overrides>`` (run it on the Ray head node)

and records the run in ``run.output_dir`` as every srpo engine does (`srpo.engines.run_dir`): config.yaml,
data.json and, when verl will resume, a line in resumes.jsonl. A recipe for a run that has a verl checkpoint
(``<run.output_dir>/checkpoints/global_step_N``, the one ``run.resume`` picks: verl's latest with ``auto``, the
named one with a path) sets up a resume, so it is checked before anything is written: a setting the run may not
change (`srpo.config.resume.RESUMABLE`) or other training / held-out problems are refused, and
``run.resume=never`` refuses to set up a fresh run over the checkpoints. The resume is recorded when the recipe
is written (verl has not started yet), with the checkpoint and step verl will load.

Nothing here imports verl.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srpo.config import TrainConfig, save_config
from srpo.core.problem import Problem
from srpo.engines import checkpoint_layout as layout
from srpo.engines.run_dir import Resume, check_data, pick_resume, record_start, resume_changes
from srpo.engines.verl.setup import (Layout, check_config, differences, launch_command, lookahead, trainer_mode,
                                     verl_overrides)


@dataclass
class Recipe:
    """What `write_recipe` wrote and the command that starts verl."""

    folder: Path
    overrides: list[str]
    command: str
    train_rows: int
    heldout_rows: int
    notes: list[str]
    resume: Resume | None = None  # the checkpoint verl will resume from, None for a fresh run


def verl_rows(problems: list[Problem], system_prompt: str | None = None) -> list[dict[str, Any]]:
    """verl's RL rows for `problems` (srpo's `verl_row`), with ``extra_info.domain`` for the reward routing and
    the config's system prompt where a problem has none of its own."""
    from srpo.data.loaders import verl_row

    rows = []
    for i, problem in enumerate(problems):
        row = verl_row(problem, i)
        if system_prompt and row["prompt"][0]["role"] != "system":
            row["prompt"].insert(0, {"role": "system", "content": system_prompt})
        row["extra_info"]["domain"] = problem.domain
        rows.append(row)
    return rows


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    os.replace(tmp, path)


def recipe_folder(cfg: TrainConfig) -> Path:
    return Path(cfg.verl.data_dir or Path(cfg.run.output_dir) / "verl").absolute()


def resume_checkpoint(cfg: TrainConfig) -> Path | None:
    """The checkpoint the recipe's verl run will resume from, as ``run.resume`` says (None: from scratch)."""
    run_dir = Path(cfg.run.output_dir)
    return pick_resume(cfg.run.resume, run_dir, layout.latest_checkpoint(run_dir, "verl"), lambda p: layout.is_complete(p, "verl"),
                       "a verl checkpoint folder (global_step_N)")


def checkpoint_step(path: Path) -> int:
    """The step a ``global_step_<N>`` folder was saved after (verl reads N from the name the same way)."""
    return int(str(path).split("global_step_")[-1])


def write_recipe(cfg: TrainConfig, python: str = "python3") -> Recipe:
    """Export the data and write the launch files for `cfg`; check and record the run (see the module
    docstring)."""
    from srpo.engines.data import data_fingerprint, load_run_data

    plan = check_config(cfg)
    run_dir = Path(cfg.run.output_dir)
    checkpoint = resume_checkpoint(cfg)
    changes = resume_changes(cfg, run_dir) if checkpoint else []  # refused before the data is loaded
    train, heldout = load_run_data(cfg)
    if len(train) < cfg.rollout.prompts_per_step:
        raise ValueError(f"data.train: {len(train)} problems, fewer than rollout.prompts_per_step="
                         f"{cfg.rollout.prompts_per_step}")
    fingerprint = data_fingerprint(train, heldout)
    if checkpoint:
        check_data(run_dir, fingerprint)
    resume = Resume(checkpoint, checkpoint_step(checkpoint), changes) if checkpoint else None
    folder = recipe_folder(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    layout = Layout.under(folder, has_heldout=bool(heldout))
    write_parquet(verl_rows(train, cfg.model.system_prompt), Path(layout.train))
    write_parquet(verl_rows(heldout or train[:1], cfg.model.system_prompt), Path(layout.heldout))
    save_config(cfg, Path(layout.config))
    overrides = verl_overrides(cfg, layout)
    (folder / "overrides.txt").write_text("\n".join(overrides) + "\n")
    command = launch_command(overrides, python)
    script = folder / "run.sh"
    script.write_text("#!/usr/bin/env bash\n# Written by `srpo verl-recipe`; run on the Ray head node (docs/verl.md).\n"
                      "set -euo pipefail\n" + command + ' "$@"\n')
    script.chmod(0o755)
    notes = [f"{plan.updates_per_step} optimizer step(s) per training step, ppo_mini_batch_size "
             f"{plan.mini_prompts} prompts, {plan.ranks} data-parallel ranks",
             f"history resampling lookahead: {lookahead(cfg)} step(s) ({trainer_mode(cfg)[0]})"]
    notes += [f"differs from the native engine: {d}" for d in differences(cfg)]
    (folder / "recipe.json").write_text(json.dumps({"train_rows": len(train), "heldout_rows": len(heldout),
                                                    "notes": notes}, indent=2) + "\n")
    record_start(cfg, run_dir, fingerprint, resume)
    return Recipe(folder, overrides, command, len(train), len(heldout), notes, resume)

"""`srpo label-difficulty`: label each problem easy/medium/hard from a model's pass rate over k samples.

For each problem: sample k = ``eval.samples`` responses, count the correct ones c, pass rate = c / k, and

    easy    if pass_rate >= difficulty.easy_min_pass_rate
    hard    if pass_rate <= difficulty.hard_max_pass_rate
    medium  otherwise

The label goes to ``Problem.difficulty``; ``metadata["difficulty_stats"]`` keeps k, c, the pass rate,
unbiased pass@j for each j in ``eval.ks`` and the model. Problems are sampled in the batches `srpo eval`
uses (``eval.batch_size`` problems of one domain) and appended to the output JSONL after every batch
(flushed and fsynced), so an interrupted run resumes where it stopped: uids already in the output are not
sampled again, their labels follow the current thresholds, and labels measured with another k or model are
refused. A half-written last line (a crash mid-write) is discarded on resume.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from srpo.core.configlib import ConfigError, option
from srpo.core.problem import Problem
from srpo.data.rows import DataError
from srpo.core.generation import GenerateFn
from srpo.core.results import ScoreFn
from srpo.eval.config import EvalConfig
from srpo.eval.evaluate import count_correct, domain_batches
from srpo.eval.metrics import pass_at_k


@dataclass(frozen=True)
class DifficultyConfig:
    """Pass-rate thresholds of the difficulty labels (section ``difficulty``, used by srpo label-difficulty)."""

    easy_min_pass_rate: float = option(0.75, "pass rate (c / k) at or above which a problem is easy.")
    hard_max_pass_rate: float = option(0.25, "pass rate at or below which a problem is hard (in between: "
                                             "medium).")

    def validate(self) -> None:
        if not 0 <= self.hard_max_pass_rate < self.easy_min_pass_rate <= 1:
            raise ConfigError(f"easy_min_pass_rate: need 0 <= hard_max_pass_rate ({self.hard_max_pass_rate}) "
                              f"< easy_min_pass_rate ({self.easy_min_pass_rate}) <= 1")


def assign_label(pass_rate: float, cfg: DifficultyConfig) -> str:
    """The label for a pass rate under the config's thresholds.

    >>> assign_label(0.5, DifficultyConfig())
    'medium'
    """
    if pass_rate >= cfg.easy_min_pass_rate:
        return "easy"
    if pass_rate <= cfg.hard_max_pass_rate:
        return "hard"
    return "medium"


def labelled(problem: Problem, correct: int, ev: EvalConfig, thresholds: DifficultyConfig, model: str) -> Problem:
    """A copy of `problem` with its label and statistics (k = ``ev.samples``)."""
    k = ev.samples
    rate = correct / k
    stats = {"k": k, "correct": correct, "pass_rate": rate, "model": model,
             **{f"pass@{j}": pass_at_k(k, correct, j) for j in sorted(set(ev.ks))}}
    return Problem(problem.uid, problem.domain, problem.prompt, problem.answer, problem.tests, problem.source,
                   assign_label(rate, thresholds), {**problem.metadata, "difficulty_stats": stats})


def relabelled(problem: Problem, ev: EvalConfig, thresholds: DifficultyConfig, model: str,
               out_path: Path) -> Problem:
    """A label read back from `out_path`, under the current thresholds; refused when it was measured with another
    k or model, since one file would then mix two measurements."""
    stats = problem.metadata.get("difficulty_stats") or {}
    if (stats.get("k"), stats.get("model")) != (ev.samples, model):
        raise DataError(f"{out_path}: problem {problem.uid} was labelled with k={stats.get('k')} samples of model "
                        f"{stats.get('model')!r}, this run asks for k={ev.samples} (eval.samples) of {model!r}; "
                        f"give another --out, or delete {out_path} to label again")
    return dataclasses.replace(problem, difficulty=assign_label(stats["pass_rate"], thresholds))


def read_done(out_path: Path) -> dict[str, Problem]:
    """Problems already labelled in `out_path`; drops a torn last line so appends stay valid JSONL."""
    done: dict[str, Problem] = {}
    if not out_path.exists():
        return done
    lines = out_path.read_text(encoding="utf-8").splitlines(keepends=True)
    good = 0
    for lineno, line in enumerate(lines, start=1):
        try:
            problem = Problem.from_dict(json.loads(line))
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            if lineno == len(lines):  # interrupted mid-write: redo that problem
                with out_path.open("r+", encoding="utf-8") as fh:
                    fh.truncate(good)
                break
            raise DataError(f"{out_path}:line {lineno}: not a labelled problem ({err}); give another --out") from None
        done[problem.uid] = problem
        good += len(line.encode("utf-8"))
    return done


def label_difficulty(problems: list[Problem], generate_fn: GenerateFn, score_fn: ScoreFn, ev: EvalConfig,
                     thresholds: DifficultyConfig, out_path: str | Path, model: str = "",
                     progress: bool = True) -> list[Problem]:
    """Label every problem (resuming from `out_path`); returns them labelled, in input order."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = {uid: relabelled(p, ev, thresholds, model, out_path) for uid, p in read_done(out_path).items()}
    pending, seen = [], set(done)
    for p in problems:
        if p.uid not in seen:
            pending.append(p)
            seen.add(p.uid)
    bar = _bar(len(seen), len(done), progress)
    with out_path.open("a", encoding="utf-8") as fh:
        for rows in domain_batches(pending, ev.batch_size):
            chunk = [pending[i] for i in rows]
            counts = count_correct(chunk, generate_fn(chunk, ev.samples), score_fn, ev.samples)
            for p, c in zip(chunk, counts):
                done[p.uid] = labelled(p, c, ev, thresholds, model)
                fh.write(json.dumps(done[p.uid].to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return [done[p.uid] for p in problems]


def label_counts(problems: list[Problem]) -> dict[str, dict[str, int]]:
    """Label counts per source: ``{source: {easy: .., medium: .., hard: ..}}``."""
    out: dict[str, dict[str, int]] = {}
    for p in problems:
        row = out.setdefault(p.source, {"easy": 0, "medium": 0, "hard": 0})
        row[str(p.difficulty)] = row.get(str(p.difficulty), 0) + 1
    return out


def _bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="label-difficulty", unit="problem")

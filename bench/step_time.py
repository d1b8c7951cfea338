"""Seconds per GRPO step: srpo's trainer against TRL's GRPOTrainer, side by side in one run.

Same tiny model (the embedded default), same batch (8 prompts x 8 samples), same completion cap
(32 tokens), same dtype, same reward function (exact match of the <answer> tag), beta = 0, one
optimizer step per generation batch in both, the same torch thread count (``--threads``, default 1, set
before either runs). Prints seconds per step for each (median over the measured steps, after warm-up), the
ratio, and where srpo's time goes (generation, scoring, pi_old/reference log-prob passes, the update's
forward/backward and optimizer step, the rest).

    python bench/step_time.py [--steps 8] [--warmup 2] [--dtype float32|bfloat16] [--rounds 2] [--threads 1]

Needs the ``bench`` extra (``pip install -e '.[bench]'``) for TRL.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import torch

PROMPTS, GROUP, MAX_NEW = 8, 8, 32
ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def exact_answer(text: str, gold: str) -> float:
    found = ANSWER.findall(text)
    return float(bool(found) and found[-1].strip() == gold)


def problems(count: int):
    from srpo.toy.tasks import math_problems

    return math_problems(count, difficulty=2, seed=123)


class ExactScorer:
    """srpo side of the shared reward: the same exact-match function TRL gets."""

    def score(self, texts, probs):
        from srpo.rewards import RewardResult

        return [RewardResult(exact_answer(t, p.answer), bool(exact_answer(t, p.answer)), {})
                for t, p in zip(texts, probs)]


def run_srpo(model_dir: Path, steps: int, warmup: int, dtype: str, out: Path) -> dict[str, list[float]]:
    from srpo.config import load_config
    from srpo.data.loaders import export_jsonl
    from srpo.engines.native.trainer import Trainer
    from srpo.tracking import read_jsonl

    data = out / "train.jsonl"
    export_jsonl(problems(PROMPTS * (steps + warmup)), data)
    cfg = load_config("grpo", [
        f"model.path={model_dir}", f"model.autocast_bf16={dtype == 'bfloat16'}",
        f"data.train=[{data}]", "data.heldout=[]", f"run.output_dir={out / 'srpo'}",
        f"run.total_steps={steps + warmup}", "run.save_every=0", "run.progress=false",
        f"rollout.group_size={GROUP}", f"rollout.prompts_per_step={PROMPTS}", f"rollout.max_new_tokens={MAX_NEW}",
        f"algorithm.micro_batch_size={PROMPTS * GROUP}", "optim.lr=1e-5", "curriculum.preset=math_only",
    ])
    trainer = Trainer(cfg, scorer=ExactScorer())
    cpu_times = []
    train_step = trainer.train_step

    def timed_step(step: int) -> dict[str, float]:
        start = time.process_time()
        metrics = train_step(step)
        cpu_times.append(time.process_time() - start)
        return metrics

    trainer.train_step = timed_step
    trainer.train()
    rows = [r for r in read_jsonl(out / "srpo" / "metrics.jsonl") if r["step"] > warmup]
    keys = ("timing/step_s", "timing/generate_s", "timing/score_s", "timing/update_s", "timing/logprobs_s")
    return {**{k: [r.get(k, 0.0) for r in rows] for k in keys}, "cpu_s": cpu_times[warmup:]}


def run_trl(model_dir: Path, steps: int, warmup: int, dtype: str, out: Path) -> dict[str, list[float]]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    rows = [{"prompt": [{"role": "user", "content": p.prompt}], "gold": p.answer}
            for p in problems(PROMPTS * (steps + warmup))]

    def reward(completions, gold, **_):
        return [exact_answer(c[0]["content"] if isinstance(c, list) else c, g) for c, g in zip(completions, gold)]

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.times, self.cpu_times, self.start = [], [], None

        def on_step_begin(self, args, state, control, **kw):
            self.start = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kw):
            self.times.append(time.perf_counter() - self.start[0])
            self.cpu_times.append(time.process_time() - self.start[1])

    args = GRPOConfig(
        output_dir=str(out / "trl"), per_device_train_batch_size=PROMPTS * GROUP, num_generations=GROUP,
        max_completion_length=MAX_NEW, use_cpu=True, bf16=dtype == "bfloat16", gradient_checkpointing=False,
        beta=0.0, loss_type="dapo", epsilon=0.2, epsilon_high=0.28, learning_rate=1e-5,
        max_steps=steps + warmup, logging_steps=1, report_to="none", save_strategy="no", shuffle_dataset=False,
        disable_tqdm=True)
    timer = StepTimes()
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), reward_funcs=[reward],
                          args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=AutoTokenizer.from_pretrained(model_dir), callbacks=[timer])
    trainer.train()
    return {"timing/step_s": timer.times[warmup:], "cpu_s": timer.cpu_times[warmup:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternate srpo/TRL this many times")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both trainers")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from srpo.toy.weights import default_model_dir

    model_dir = Path(default_model_dir())
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            for key, values in run_srpo(model_dir, args.steps, args.warmup, args.dtype, Path(tmp)).items():
                ours.setdefault(key, []).extend(values)
            for key, values in run_trl(model_dir, args.steps, args.warmup, args.dtype, Path(tmp)).items():
                theirs.setdefault(key, []).extend(values)
    med = {k: statistics.median(v) for k, v in ours.items()}
    trl = {k: statistics.median(v) for k, v in theirs.items()}
    print(f"\nGRPO step time, {PROMPTS} prompts x {GROUP} samples, {MAX_NEW} new tokens, {args.dtype}, "
          f"torch threads {torch.get_num_threads()}, median of {len(theirs['cpu_s'])} steps each "
          f"({args.rounds} alternating rounds). Wall time; CPU time (process_time) is the steadier figure "
          "on a shared machine.")
    print(f"{'trainer':<10}{'wall s/step':>13}{'ratio':>8}{'CPU s/step':>13}{'ratio':>8}")
    for name, row in (("trl", trl), ("srpo", med)):
        print(f"{name:<10}{row['timing/step_s']:>13.3f}{row['timing/step_s'] / trl['timing/step_s']:>8.2f}"
              f"{row['cpu_s']:>13.3f}{row['cpu_s'] / trl['cpu_s']:>8.2f}")
    update = med["timing/update_s"] - med["timing/logprobs_s"]
    parts = (("generate", med["timing/generate_s"]), ("score", med["timing/score_s"]),
             ("old/ref log-probs", med["timing/logprobs_s"]), ("forward-backward+optim", update))
    other = med["timing/step_s"] - sum(value for _, value in parts)
    print("\nsrpo breakdown (median wall s/step):")
    for name, value in (*parts, ("other", other)):
        print(f"  {name:<24}{value:>8.3f}  ({100 * value / med['timing/step_s']:.0f}%)")


if __name__ == "__main__":
    main()

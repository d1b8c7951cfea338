"""pass@1 / pass@k of a model directory on a list of problems, with a pluggable judge.

Sampling is plain ancestral sampling (temperature 1.0, top_p 1.0, top_k off), k samples per problem.
With c correct out of k samples, pass@1 is estimated by c/k (the unbiased estimator for n = k) and
pass@k by 1[c > 0]; both are averaged over problems within each (domain, difficulty) cell.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

from srpo.data import Problem

Judge = Callable[[Problem, str], Any]  # returns bool, or anything with a bool `.correct` (RewardResult)


def _verdict(result: Any) -> bool:
    return bool(getattr(result, "correct", result))


def sample_responses(model, tokenizer, problems: Sequence[Problem], k: int, max_new_tokens: int = 96,
                     batch_prompts: int = 32, seed: int = 0) -> list[list[str]]:
    """k sampled responses per problem (outer list follows `problems`), decoded without special tokens."""
    import torch

    torch.manual_seed(seed)
    tokenizer.padding_side = "left"
    out: list[list[str]] = []
    for start in range(0, len(problems), batch_prompts):
        chunk = problems[start:start + batch_prompts]
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": p.prompt}], tokenize=False,
                                               add_generation_prompt=True) for p in chunk]
        enc = tokenizer(texts, return_tensors="pt", padding=True)
        with torch.no_grad():
            gen = model.generate(**enc, do_sample=True, temperature=1.0, top_p=1.0, top_k=0,
                                 max_new_tokens=max_new_tokens, num_return_sequences=k,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        decoded = tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        out.extend(decoded[i * k:(i + 1) * k] for i in range(len(chunk)))
    return out


def measure_pass_rates(model_dir: str | Path, problems: Sequence[Problem], k: int, judge: Judge,
                       seed: int = 0, max_new_tokens: int = 96) -> dict[str, dict[str, float]]:
    """Per ``"<domain>/<difficulty>"`` cell: ``{"n", "pass@1", f"pass@{k}"}``, plus an ``"all"`` cell.

    `judge(problem, response)` returns a bool or a `RewardResult`; identical responses to the same
    problem are judged once.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    responses = sample_responses(model, tokenizer, problems, k, max_new_tokens=max_new_tokens, seed=seed)
    cells: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for problem, group in zip(problems, responses):
        cache: dict[str, bool] = {}
        correct = 0
        for r in group:
            if r not in cache:
                cache[r] = _verdict(judge(problem, r))
            correct += cache[r]
        row = (correct / k, float(correct > 0))
        cells[f"{problem.domain}/{problem.difficulty}"].append(row)
        cells["all"].append(row)
    return {name: {"n": len(rows), "pass@1": sum(r[0] for r in rows) / len(rows),
                   f"pass@{k}": sum(r[1] for r in rows) / len(rows)} for name, rows in sorted(cells.items())}


def format_table(rates: dict[str, dict[str, float]], k: int) -> str:
    """A Markdown table of `measure_pass_rates` output."""
    lines = [f"| cell | n | pass@1 | pass@{k} |", "|---|---:|---:|---:|"]
    for name, r in rates.items():
        lines.append(f"| {name} | {r['n']} | {r['pass@1']:.3f} | {r[f'pass@{k}']:.3f} |")
    return "\n".join(lines)


def heldout_suite(n: int, seed: int = 0, math_levels=range(1, 6), code_levels=range(1, 5)) -> list[Problem]:
    """`n` held-out problems per (domain, level): the measurement set of docs/toy.md."""
    from srpo.toy import tasks

    out: list[Problem] = []
    for level in math_levels:
        out += tasks.heldout("math", n, level, seed)
    for level in code_levels:
        out += tasks.heldout("code", n, level, seed)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m srpo.toy.measure [--model DIR] [--n 200] [--k 8]``: print the pass@1/pass@k table."""
    import argparse
    import json
    import time

    import torch

    from srpo.toy import default_model_dir
    from srpo.toy.judge import judge

    p = argparse.ArgumentParser(prog="python -m srpo.toy.measure", description=main.__doc__)
    p.add_argument("--model", default=None, help="model directory (default: the shipped toy model)")
    p.add_argument("--n", type=int, default=200, help="held-out problems per domain and level")
    p.add_argument("--k", type=int, default=8, help="samples per problem")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the rates as JSON here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    rates = measure_pass_rates(args.model or default_model_dir(), heldout_suite(args.n, args.seed), args.k,
                               judge, seed=args.seed)
    print(format_table(rates, args.k))
    print(f"({time.time() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(rates, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

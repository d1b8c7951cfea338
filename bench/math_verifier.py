"""Math verification throughput: verified (gold, response) pairs per second.

    PYTHONPATH=src python bench/math_verifier.py [--pairs 400] [--workers 2]

Three measurements:
1. the trainer's path on toy responses (``<answer>57</answer>``): RewardScorer on batches of 64, decided
   by the exact fast path;
2. the math-verify path (fractions vs decimals, radicals, expressions, intervals, sets; all pairs distinct so
   no cache helps) through `MathVerifier` worker processes, called from 16 threads like the scorer does;
3. raw math-verify in this process on its main thread, as the reference.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from srpo.data import Problem
from srpo.rewards import MathVerifier, RewardScorer, RewardsConfig, math_accuracy
from srpo.rewards.math_reward import _bare, to_latex


def hard_pairs(n: int, seed: int = 0) -> list[tuple[str, str, bool]]:
    """Distinct (gold, response, equivalent) pairs that need math-verify."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b, k = rng.randint(1, 99), rng.randint(2, 99), rng.randint(2, 9)
        kind, same = i % 5, i % 2 == 0
        if kind == 0:
            gold, resp = rf"\frac{{{a}}}{{{b}}}", rf"\frac{{{a * k}}}{{{b * k + (0 if same else 1)}}}"
        elif kind == 1:
            gold, resp = rf"{k}\sqrt{{{b}}}", rf"\sqrt{{{k * k * b + (0 if same else 1)}}}"
        elif kind == 2:
            gold, resp = f"x^2+{2 * a}x+{a * a}", f"(x+{a if same else a + 1})^2"
        elif kind == 3:
            gold, resp = f"({a},{a + b}]", f"({a}, {a + b}]" if same else f"[{a}, {a + b}]"
        else:
            gold, resp = rf"\{{{a},{b}\}}", rf"\{{{b},{a}\}}" if same else rf"\{{{a},{b + 1}\}}"
        out.append((gold, f"<think>...</think><answer>{resp}</answer>", same))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2, help="math-verify worker processes")
    args = ap.parse_args(argv)

    # 1. Trainer path, toy responses.
    toy = [Problem.create("math", f"toy {i}", answer=str(i % 97)) for i in range(64)]
    responses = [f"<think>{i}+0={i % 97}</think><answer>{(i % 97) + (i % 3 == 0)}</answer>" for i in range(64)]
    with RewardScorer(RewardsConfig(code=[], math_workers=args.workers)) as scorer:
        scorer.score(responses, toy)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            results = scorer.score(responses, toy)
            times.append(time.perf_counter() - start)
    step = statistics.median(times)
    print(f"toy batch of 64 through RewardScorer (math_accuracy + format + language): {step * 1e3:.1f} ms per "
          f"step, {step / 64 * 1e3:.2f} ms per response, {64 / step:.0f} pairs/s "
          f"({sum(r.correct for r in results)}/64 correct)")

    # 2. math-verify path through worker processes.
    pairs = hard_pairs(args.pairs)
    with MathVerifier(workers=args.workers) as verifier:
        verifier.verify("$1$", "$1$")  # start-up (spawn + import) is not throughput
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as ex:
            verdicts = list(ex.map(lambda p: math_accuracy(p[1], Problem.create("math", "q", answer=p[0]),
                                                           math_verifier=verifier).correct, pairs))
        dt = time.perf_counter() - start
    wrong = sum(v != e for v, (_, _, e) in zip(verdicts, pairs))
    print(f"math-verify path, {len(pairs)} distinct pairs, {args.workers} worker processes: "
          f"{len(pairs) / dt:.0f} pairs/s ({dt / len(pairs) * 1e3:.1f} ms each); {wrong} verdicts differ "
          f"from the construction")

    # 3. Raw math-verify in-process (main thread, its own SIGALRM timeouts), the reference.
    from math_verify import parse, verify

    sample = hard_pairs(min(100, args.pairs), seed=1)
    start = time.perf_counter()
    for gold, resp, _ in sample:
        verify(parse(to_latex(gold)), parse(to_latex(_bare(resp.split("<answer>")[1].split("</answer>")[0]))))
    dt = time.perf_counter() - start
    print(f"raw math-verify in-process, one thread: {len(sample) / dt:.0f} pairs/s")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())

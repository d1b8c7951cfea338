"""Host cost of a sandbox's reply: decoding (and comparing) honest data against colliding keys.

Ints that are multiples of 2**61 - 1 all hash to 0 on 64-bit CPython, so a set or dict of them made the
previous reader (which built real sets and dicts) quadratic. This prints, per reply size up to the cap
(`SandboxConfig.max_output_bytes`, 1 MiB), the decode time of the previous reader (git ``HEAD~`` or a file
given with --before) and of the inert reader the host uses now, and the time `values_equal` (a case's
expected value) and ``==`` (a static assert's literal) take on the decoded reply.

    python bench/wire_decode.py                    # sizes 16 KiB .. 1 MiB; previous reader up to 256 KiB
    python bench/wire_decode.py --before-max 1048576   # also the previous reader at the cap (~a minute)
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from srpo.rewards.code_reward import values_equal
from srpo.sandbox.wire import decode, encode

P = 2 ** 61 - 1
ROOT = Path(__file__).resolve().parents[1]


def previous_reader(path: str | None):
    source = Path(path).read_text() if path else subprocess.run(
        ["git", "-C", str(ROOT), "show", "HEAD:src/srpo/sandbox/wire.py"], check=True, capture_output=True,
        text=True).stdout
    if "inert" in source:
        sys.exit("HEAD's wire.py already has the inert reader: pass --before <old wire.py>")
    spec = importlib.util.spec_from_loader("wire_before", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, "wire_before.py", "exec"), module.__dict__)
    return module.decode


def shapes(size: int) -> dict[str, tuple[object, object, object]]:
    """name -> (reply value, expected JSON value, literal for ==), each reply about `size` bytes."""
    n_big = size // 17  # P * k is 15 or 17 bytes of marshal
    n_small = size // 5
    colliding = [P * (k + 1) for k in range(n_big)]
    return {
        "honest set of ints": (set(range(n_small)), list(range(n_small)), set(range(n_small))),
        "honest dict str->int": ({str(k): k for k in range(size // 16)},
                                 {str(k): k for k in range(size // 16)}, {str(k): k for k in range(size // 16)}),
        "colliding set": (set(colliding), sorted(colliding), set(colliding)),
        "colliding dict": ({k: 0 for k in colliding[:size // 22]}, {str(k): 0 for k in colliding[:size // 22]},
                           {k: 0 for k in colliding[:size // 22]}),
    }


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", help="the previous wire.py (default: git HEAD's)")
    ap.add_argument("--before-max", type=int, default=256 << 10, help="largest size to run the previous reader on")
    ap.add_argument("--sizes", default="16384,65536,262144,1048576")
    args = ap.parse_args()
    old = previous_reader(args.before)
    print(f"{'reply':<22}{'bytes':>9}{'before s':>10}{'after s':>10}{'before/after':>13}"
          f"{'values_equal s':>16}{'== s':>8}")
    for size in map(int, args.sizes.split(",")):
        for name, (value, expected, literal) in shapes(size).items():
            data = encode(value)
            after_s = timed(lambda: decode(data, inert=True, deadline=time.monotonic() + 600))
            reply = decode(data, inert=True)
            eq_s = timed(lambda: values_equal(reply, expected))
            lit_s = timed(lambda: reply == literal)
            assert values_equal(reply, expected) and reply == literal, name
            if len(data) <= args.before_max or not name.startswith("colliding"):
                before_s = timed(lambda: old(data))
                before, ratio = f"{before_s:10.3f}", f"{before_s / after_s:13.1f}"
            else:
                before, ratio = f"{'-':>10}", f"{'-':>13}"
            print(f"{name:<22}{len(data):>9}{before}{after_s:10.3f}{ratio}{eq_s:16.3f}{lit_s:8.3f}", flush=True)


if __name__ == "__main__":
    main()

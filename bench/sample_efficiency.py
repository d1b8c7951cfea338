"""Uniform GRPO vs dynamic sampling (DAPO) vs history resampling (SRPO) at one rollout budget.

A thin wrapper over the comparison harness: the setting is the shipped spec ``samplers``
(``src/srpo/config/regimes/samplers.yaml``: toy model, math levels 2-4, a 300-prompt pool, 6400 rollouts per
run, 3 seeds, target held-out pass@1 0.30), and every figure in the printed table is defined in
`srpo.report.compare` and docs/reproduction.md. Extra arguments go to ``srpo compare``:

    python bench/sample_efficiency.py [--jobs 2] [--out runs/compare-samplers]

For the setting where history resampling's premise holds, run ``srpo compare premise``.
"""

from __future__ import annotations

import sys

from srpo.cli import main

if __name__ == "__main__":
    sys.exit(main(["compare", "samplers", *sys.argv[1:]]))

"""The built-in suites' reference responses are judged correct by the real verifiers (sandbox included),
and near misses are not: the demo's reward signal depends on both."""

import pytest

from srpo.data.loaders import load_problems
from srpo.rewards import RewardScorer, RewardsConfig
from srpo.sandbox import SandboxConfig


@pytest.fixture(scope="module")
def scorer():
    with RewardScorer(RewardsConfig(), SandboxConfig(workers=2)) as s:
        yield s


def test_reference_solutions_pass_and_corruptions_fail(scorer):
    problems = (load_problems("toy:math?n=10&levels=1-5&split=heldout")
                + load_problems("toy:code?n=8&levels=1-4&split=heldout"))
    references = [p.metadata["solution"] for p in problems]
    assert all(r.correct for r in scorer.score(references, problems))
    # Change the final answer / the returned expression: every verdict flips.
    broken = [ref.replace("</answer>", "1</answer>") if p.domain == "math" else ref.replace("return ", "return 1+")
              for ref, p in zip(references, problems)]
    assert not any(r.correct for r in scorer.score(broken, problems))

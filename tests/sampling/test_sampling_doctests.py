"""The worked examples in the docstrings are part of the contract: run them."""

import doctest

import pytest

import srpo.curriculum
import srpo.sampling.base
import srpo.sampling.dynamic
import srpo.sampling.history
import srpo.sampling.mixture


@pytest.mark.parametrize("module", [srpo.sampling.base, srpo.sampling.dynamic, srpo.sampling.history,
                                    srpo.sampling.mixture, srpo.curriculum], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0

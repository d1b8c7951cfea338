"""Every verifier's docstring examples run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["srpo.rewards.extract", "srpo.rewards.math_reward", "srpo.rewards.format_reward",
           "srpo.rewards.language", "srpo.rewards.code_reward", "srpo.rewards.scorer"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0

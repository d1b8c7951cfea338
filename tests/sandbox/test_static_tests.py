"""Test code made of asserts on literal calls is asserted by the host itself, with the tester's verdicts."""

from __future__ import annotations

import pytest

import srpo.sandbox.host as host
from srpo.sandbox import SandboxConfig, SandboxJob, SandboxPool
from srpo.sandbox.static_tests import static_assertions

STATIC = [
    "assert f(2) == 4\nassert f(3) == 6\n",
    "def check(candidate):\n    assert candidate(1, b=2) == [3]\n    assert not candidate(0)\n",
    'METADATA = {"author": "x"}\n\n\ndef check(c):\n    """doc"""\n    assert c("x")\n    assert True, "msg"\n',
    "assert [1, 2] == f(-1), 'message ' + str(f(9))\n",
]
DYNAMIC = [
    "import math\nassert f(2) == math.pi\n",
    "for i in range(3):\n    assert f(i) == 2 * i\n",
    "def check(candidate):\n    assert abs(candidate(1.5) - 0.5) < 1e-6\n",
    "def check(candidate):\n    assert candidate(5 * 17) == False\n",
    "assert f(g(1)) == 2\n",
    "f = lambda x: x\nassert f(1) == 1\n",
    "assert f(*[1]) == 1\n",
    "def check(candidate, extra=1):\n    assert candidate(1) == 1\n",
    "def check(candidate):\n    print(candidate(1))\n",
    "assert f(1) == 1 == 1\n",
    "def helper():\n    pass\nassert f(1) == 1\n",
]


@pytest.mark.parametrize("code", STATIC)
def test_recognised(code):
    assert static_assertions(code, "f")


@pytest.mark.parametrize("code", DYNAMIC)
def test_left_to_a_tester(code):
    assert static_assertions(code, "f") is None


# (program, test code) pairs with every kind of outcome; run once asserted by the host, once in a tester
PAIRS = [
    ("def f(x):\n    return 2 * x\n", "assert f(2) == 4\nassert f(3) == 6\n"),
    ("def f(x):\n    return 2 * x\n", "assert f(2) == 4\nassert f(3) == 7\n"),
    ("def f(x):\n    return (1, 2)\n", "assert f(0) == [1, 2]\n"),
    ("def f(x):\n    return 0.1 + 0.2\n", "assert f(0) == 0.3\n"),
    ("def f(x):\n    return []\n", "assert not f(0)\nassert f(0)\n"),
    ("def f(x):\n    raise ValueError('bad')\n", "assert f(1) == 1\n"),
    ("def f(x):\n    raise StopIteration\n", "def check(candidate):\n    assert candidate(1) == 1\n"),
    ("def f(a, b=0):\n    return [a + b]\n", "def check(candidate):\n    assert candidate(1, b=2) == [3]\n"),
    ("def f(x):\n    return {1: {2}}\n",
     'METADATA = {}\ndef check(c):\n    assert True, "m"\n    assert c(0) == {1: {2}}\n'),
    ("def f(x):\n    return object()\n", "assert f(0) == 0\n"),
    ("def f(x):\n    return x\n", "assert False\n"),
    ("def f(x):\n    x.append(1)\n    return x\n", "assert f([]) == [1]\nassert f([2]) == [2, 1]\n"),
]


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxConfig(timeout_s=3.0, workers=4)) as p:
        yield p


@pytest.mark.parametrize("program, test_code", PAIRS)
def test_the_host_gives_the_testers_verdict(program, test_code, pool, monkeypatch):
    assert static_assertions(test_code, "f") is not None
    here = pool.run(SandboxJob("function", program, "f", test_code=test_code)).tests[-1]
    monkeypatch.setattr(host, "static_assertions", lambda code, entry: None)
    tester = pool.run(SandboxJob("function", program, "f", test_code=test_code)).tests[-1]
    assert here["status"] == tester["status"], (here, tester)
    assert here.get("detail", "").split(":")[0] == tester.get("detail", "").split(":")[0]  # the failing line

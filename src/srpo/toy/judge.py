"""A small self-contained judge for measuring the toy model (not the project's sandboxed verifiers).

math: the response is correct iff the content of its last ``<answer>...</answer>`` is an integer equal
to the gold answer. code: the last fenced ```` ```python ```` block is run on the problem's cases in a
separate `python -I` process with a timeout, never in this process. This is a measuring stick for the
warm start, not a sandbox: it limits time, not file or network access. `measure_pass_rates` takes the
judge as a parameter so the real verifiers can replace it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from srpo.data import Problem

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_CODE_RE = re.compile(r"```python\n(.*?)```", re.DOTALL)

# Reads {"code", "entry_point", "cases"} as JSON on stdin; prints "OK" iff every case returns its output.
_HARNESS = """
import json, sys
spec = json.loads(sys.stdin.read())
env = {}
exec(spec["code"], env)
fn = env[spec["entry_point"]]
for case in spec["cases"]:
    got = fn(*case["input"])
    if got != case["output"]:
        print("FAIL", repr(case["input"]), repr(got))
        sys.exit(0)
print("OK")
"""


def extract_answer(response: str) -> str | None:
    """Content of the last ``<answer>`` block, stripped; None if there is none.

    >>> extract_answer("<think>1+1=2</think><answer> 2 </answer>")
    '2'
    """
    found = _ANSWER_RE.findall(response)
    return found[-1].strip() if found else None


def extract_code(response: str) -> str | None:
    """Body of the last fenced ```` ```python ```` block; None if there is none.

    >>> extract_code("<answer>```python\\ndef f(x):\\n    return x\\n```</answer>")
    'def f(x):\\n    return x\\n'
    """
    found = _CODE_RE.findall(response)
    return found[-1] if found else None


def judge_math(problem: Problem, response: str) -> bool:
    """Exact integer match of the ``<answer>`` content with `problem.answer`."""
    got = extract_answer(response)
    if got is None or not re.fullmatch(r"[+-]?\d+", got):
        return False
    return int(got) == int(problem.answer)


def run_function_cases(code: str, tests: dict, timeout_s: float = 5.0) -> bool:
    """True iff `code` defines ``tests["entry_point"]`` and it returns every case's output.

    Runs in a fresh ``python -I`` subprocess (JSON-serialised cases in, verdict out), killed after
    `timeout_s` seconds.
    """
    spec = json.dumps({"code": code, "entry_point": tests["entry_point"], "cases": tests["cases"]})
    try:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", _HARNESS], input=spec, text=True,
                              capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and proc.stdout.strip() == "OK"


def judge_code(problem: Problem, response: str) -> bool:
    """Runs the response's last python block on the problem's hidden cases (see `run_function_cases`)."""
    code = extract_code(response)
    if code is None or not problem.tests or problem.tests.get("kind") != "function":
        return False
    return run_function_cases(code, problem.tests)


def judge(problem: Problem, response: str) -> bool:
    """Dispatch on `problem.domain` to `judge_math` or `judge_code`."""
    return judge_math(problem, response) if problem.domain == "math" else judge_code(problem, response)

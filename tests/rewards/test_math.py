"""Math accuracy: a table of gold/response pairs (equivalent and not), extraction, time limits."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from srpo.data import Problem
from srpo.rewards import MathVerifier, math_accuracy
from srpo.rewards import math_verifier as mv
from srpo.rewards.extract import extract_answer
from srpo.rewards.math_reward import fast_equal, to_latex

# (gold answer, full response, equivalent?) -- fractions, decimals, radicals, expressions, intervals, sets,
# units, percentages, complex numbers, matrices, word answers; answers in <answer>, \boxed{}, "the answer is".
PAIRS = [
    ('57', '<answer>57</answer>', True),
    ('57', '<think>12+7=19, 19*3=57</think><answer> 57 </answer>', True),
    ('0.5', '<answer>\\frac{1}{2}</answer>', True),
    ('\\frac{1}{2}', '<answer>0.5</answer>', True),
    ('\\frac12', '\\boxed{\\dfrac{1}{2}}', True),
    ('2\\sqrt{2}', '\\boxed{\\sqrt{8}}', True),
    ('\\sqrt{8}', 'The answer is $2\\sqrt{2}$.', True),
    ('\\frac{\\sqrt{2}}{2}', '\\boxed{\\frac{1}{\\sqrt{2}}}', True),
    ('3', '<answer>3 \\text{ cm}</answer>', True),
    ('3', '<answer>3 cm</answer>', True),
    ('10', '\\boxed{10^\\circ}', True),
    ('(1,3]', '\\boxed{(1, 3]}', True),
    ('(-\\infty, 2)', '<answer>(-\\infty,2)</answer>', True),
    ('\\{1,2,3\\}', '\\boxed{\\{3,2,1\\}}', True),
    ('1,2', '<answer>2, 1</answer>', True),
    ('x^2+2x+1', '\\boxed{(x+1)^2}', True),
    ('\\frac{\\pi}{2}', '\\boxed{\\pi/2}', True),
    ('1000', '\\boxed{1{,}000}', True),
    ('1000', '<answer>1,000</answer>', True),
    ('-\\frac{3}{4}', '\\boxed{-0.75}', True),
    ('2^{10}', '\\boxed{1024}', True),
    ('0.333333', '\\boxed{\\frac{1}{3}}', True),
    ('x=3', '\\boxed{3}', True),
    ('5', '\\boxed{x = 5}', True),
    ('12', 'So the answer is 12', True),
    ('5', '<answer>\\$5</answer>', True),
    ('\\text{Monday}', '<answer>Monday</answer>', True),
    ('\\pi', '\\boxed{\\pi}', True),
    ('\\begin{pmatrix}1\\\\2\\end{pmatrix}', '\\boxed{\\begin{pmatrix}1\\\\2\\end{pmatrix}}', True),
    ('3+2i', '\\boxed{2i+3}', True),
    ('\\frac{7}{2}', '<answer>3.5</answer>', True),
    ('7/2', '<answer>\\frac{7}{2}</answer>', True),
    ('-2', '\\boxed{-2}', True),
    ('0', '<answer>0.0</answer>', True),
    ('1.50', '<answer>1.5</answer>', True),
    ('\\sqrt{3}/3', '\\boxed{\\frac{\\sqrt{3}}{3}}', True),
    ('[2, 5]', '\\boxed{[2,5]}', True),
    ('x > 2', '\\boxed{(2, \\infty)}', True),
    ('50\\%', '\\boxed{50\\%}', True),
    ('\\dfrac{3}{5}', '<answer>$\\frac{3}{5}$</answer>', True),
    ('4', '<answer>The answer is 4.</answer>', True),
    ('6', '<answer>6.</answer>', True),
    ('\\frac{1}{4}', '\\boxed{\\tfrac14}', True),
    ('24\\pi', '\\boxed{24 \\pi}', True),
    ('\\sqrt{2}', '<answer>\\sqrt2</answer>', True),
    ('57', '<answer>56</answer>', False),
    ('57', 'no answer at all', False),
    ('0.5', '\\boxed{0.25}', False),
    ('2\\sqrt{2}', '\\boxed{2}', False),
    ('\\sqrt{8}', '\\boxed{2\\sqrt{3}}', False),
    ('(1,3]', '\\boxed{[1,3]}', False),
    ('(1,3]', '\\boxed{(1,3)}', False),
    ('\\{1,2\\}', '\\boxed{\\{1,2,3\\}}', False),
    ('x^2+1', '\\boxed{(x+1)^2}', False),
    ('\\frac{\\pi}{2}', '\\boxed{\\pi}', False),
    ('3', '<answer>30 cm</answer>', False),
    ('1000', '\\boxed{100}', False),
    ('-1', '\\boxed{1}', False),
    ('\\frac{1}{3}', '\\boxed{0.33}', False),
    ('\\text{Monday}', '<answer>Tuesday</answer>', False),
    ('5', '<answer>x = 6</answer>', False),
    ('3+2i', '\\boxed{3-2i}', False),
    ('12', 'The answer is 13.', False),
    ('2', '<answer></answer> \\boxed{}', False),
    ('7', '<answer>seven and a half</answer>', False),
    ('[2,5]', '\\boxed{[2,6]}', False),
    ('\\infty', '\\boxed{-\\infty}', False),
    ('57', '<answer>57</answer> actually <answer>58</answer>', False),
    ('57', '\\boxed{57} but finally <answer>58</answer>', False),
    ('1/2', '\\boxed{2}', False),
    ('\\frac{\\sqrt{2}}{2}', '\\boxed{\\sqrt{2}}', False),
    ('24\\pi', '\\boxed{24}', False),
]


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(workers=2, timeout_s=5.0) as v:
        yield v


def test_table_is_big_and_balanced():
    assert len(PAIRS) >= 60
    assert 20 <= sum(expected for *_, expected in PAIRS) <= len(PAIRS) - 20


def test_pairs(verifier):
    def judge(row):
        gold, response, _ = row
        return math_accuracy(response, Problem.create("math", "q", answer=gold), math_verifier=verifier)

    with ThreadPoolExecutor(8) as ex:  # from worker threads on purpose: no SIGALRM on this side
        results = list(ex.map(judge, PAIRS))
    wrong = [(g, r, e, res.info) for (g, r, e), res in zip(PAIRS, results) if res.correct != e]
    assert not wrong, "\n".join(map(repr, wrong))
    assert all(res.score == float(res.correct) for res in results)


def test_bare_latex_gold_is_normalised():
    # math-verify alone reads bare 2\sqrt{2} as 2; normalised, it keeps the radical.
    assert to_latex(r"2\sqrt{2}") == r"$2\sqrt{2}$"
    assert to_latex(r"\boxed{3}") == r"\boxed{3}"
    assert to_latex("Monday") == r"$\text{Monday}$"


@pytest.mark.parametrize("response, text, source", [
    ("<think>x</think><answer>57</answer>", "57", "answer_tag"),
    (r"<answer>so \boxed{7} it is</answer>", "7", "answer_tag"),
    (r"first \boxed{1} then \boxed{\frac{a}{b}}", r"\frac{a}{b}", "boxed"),
    ("Thus, the final answer is: 12.5.", "12.5", "phrase"),
    ("<answer>  </answer> The answer is 3", "3", "phrase"),
])
def test_extraction(response, text, source):
    found = extract_answer(response)
    assert (found.text, found.source) == (text, source)


def test_fast_path_needs_no_worker():
    assert fast_equal("57", "57.0") is True and fast_equal("57", "58") is False
    assert fast_equal("0.1", "0.10000001") is None  # decimals: math-verify's rounding decides
    toy = Problem.create("math", "(12+7)*3", answer="57")
    res = math_accuracy("<think>12+7=19, 19*3=57</think><answer>57</answer>", toy, math_verifier=None)
    assert res.correct and res.info["method"] == "exact"


def test_non_math_problem_is_not_scored():
    code = Problem.create("code", "f", tests={"kind": "function", "entry_point": "f", "test_code": "pass"})
    assert math_accuracy("<answer>1</answer>", code) is None


HANG = ("import sys, time, marshal\n"
        "d = marshal.dumps(('ready',))\n"
        "sys.stdout.buffer.write(len(d).to_bytes(8, 'little') + d); sys.stdout.flush()\n"
        "time.sleep(600)\n")


def test_time_limit_kills_a_hung_worker_off_the_main_thread(monkeypatch):
    monkeypatch.setattr(mv, "_BOOT", HANG)
    monkeypatch.setattr(mv, "SLACK_S", 0.2)
    with MathVerifier(workers=1, timeout_s=0.3) as v:
        out = {}

        def call():
            start = time.monotonic()
            out["result"] = v.verify("$1$", "$2$")
            out["seconds"] = time.monotonic() - start

        v.start()
        first = v._all[0]
        t = threading.Thread(target=call)
        t.start()
        t.join(10)
        ok, info = out["result"]
        assert not ok and "exceeded" in info["error"]
        assert out["seconds"] < 3.0
        assert first.proc.poll() is not None  # killed
        assert v._all and v._all[0] is not first  # replaced


PATHOLOGICAL = {  # each ~256k characters; quadratic extraction took minutes on these
    "unclosed boxes": "\\boxed{" * 40000,
    "unclosed answer tags": "<answer>" * 32000,
    "boxes without braces": "\\boxed" * 43000,
    "newlines after the phrase": "the answer is" + "\n" * 256000,
    "dots after the phrase": "the answer is " + "." * 256000 + "x",
    "unclosed fences": "```x\n" * 51000,
    "nested braces": "{" * 128000 + "\\boxed{" + "}" * 128000,
}


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_extraction_is_linear_on_pathological_responses(name, verifier):
    start = time.monotonic()
    res = math_accuracy(PATHOLOGICAL[name], Problem.create("math", "q", answer="7"), math_verifier=verifier)
    assert not res.correct
    assert time.monotonic() - start < verifier.timeout_s + 1.5


@pytest.mark.parametrize("gold, response, expected", [
    ("1" * 5000, "<answer>" + "1" * 5000 + "</answer>", True),
    ("1" * 5000, "<answer>" + "1" * 4999 + "2</answer>", False),
    ("1" * 5000, "\\boxed{" + "1" * 5000 + ".000}", True),
    ("2", "\\boxed{" + "9" * 100000 + "}", False),
    ("\\frac{1}{2}", "\\boxed{\\frac{" + "1" * 5000 + "}{" + "2" * 5000 + "}}", False),
    ("10^{5000}", "\\boxed{1" + "0" * 5000 + "}", None),  # math-verify decides, or runs out of time: any verdict
])
def test_huge_numbers_get_a_verdict(gold, response, expected, verifier):
    res = math_accuracy(response, Problem.create("math", "q", answer=gold), math_verifier=verifier)
    assert isinstance(res.correct, bool)
    assert expected is None or res.correct is expected, res.info


def test_one_time_limit_covers_extraction_and_verification(monkeypatch):
    monkeypatch.setattr(mv, "_BOOT", HANG)
    monkeypatch.setattr(mv, "SLACK_S", 0.2)
    with MathVerifier(workers=1, timeout_s=0.5) as v:
        v.start()
        start = time.monotonic()
        res = math_accuracy("\\boxed{\\frac{1}{3}}" + " x" * 500000, Problem.create("math", "q", answer="0.5"),
                            math_verifier=v)
        assert not res.correct and "exceeded" in res.info["error"]
        assert time.monotonic() - start < 0.5 + 0.2 + 0.5


def test_a_schedulers_stop_signal_does_not_kill_the_workers(verifier):
    """SLURM and Kubernetes signal every process of a job: the trainer finishes its step with these verdicts."""
    import os
    import signal
    import time

    assert verifier.verify("$2$", "$2$")[0]
    assert all(w.wait_ready() for w in verifier._all)  # past start-up, where the worker sets its handlers
    pids = [w.proc.pid for w in verifier._all]
    assert len(pids) == verifier.n_workers
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGUSR1)
    time.sleep(0.5)
    assert all(w.proc.poll() is None for w in verifier._all) and [w.proc.pid for w in verifier._all] == pids
    assert verifier.verify("$3$", "$3$")[0] and not verifier.verify("$3$", "$4$")[0]

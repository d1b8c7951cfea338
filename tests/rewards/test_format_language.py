"""Format reward (configurable template) and the language-mixing penalty."""

from __future__ import annotations

import pytest

from srpo.data import Problem
from srpo.rewards import format_score, language_penalty
from srpo.rewards.language import foreign_share, script_of

P = Problem.create("math", "1+1?", answer="2")


@pytest.mark.parametrize("response, ok", [
    ("<think>12+7=19, 19*3=57</think><answer>57</answer>", True),
    ("  <think>\nwork\n</think>\n\n<answer> 57 </answer>\n", True),
    ("<answer>57</answer>", False),                                   # no think block
    ("<think>a</think>", False),                                       # no answer
    ("<answer>57</answer><think>a</think>", False),                     # wrong order
    ("<think>a</think><answer>57</answer> trailing text", False),
    ("preamble <think>a</think><answer>57</answer>", False),
    ("<think>a</think><answer>1</answer><answer>2</answer>", False),   # two answers
    ("<think>a <think>b</think><answer>1</answer>", False),             # nested tag
    ("<think>a</think><answer>  </answer>", False),                     # blank answer
    ("<think></think><answer>1</answer>", False),                       # empty think
])
def test_default_template(response, ok):
    res = format_score(response, P)
    assert res.correct is ok and res.score == float(ok)


def test_custom_template():
    tpl = "<reasoning>{r}</reasoning>\nFinal: <ans>{a}</ans>"
    assert format_score("<reasoning>x</reasoning> Final: <ans>3</ans>", P, template=tpl).correct
    assert not format_score("<think>x</think><answer>3</answer>", P, template=tpl).correct
    assert not format_score("<reasoning>x</reasoning><ans>3</ans>", P, template=tpl).correct


@pytest.mark.parametrize("text, share", [
    ("Let x = 3, so 2x = 6.", 0.0),
    ("θ = π/2 and ℝ is the reals", 0.0),             # Greek and letter-like math symbols are fine
    ("abcd 答", 0.2),
    ("答案是", 1.0),
    ("abc дом", 0.5),
    ("12 + 7 = 19 !!", 0.0),                          # no letters at all
    ("ab ｃ 字", 0.25),                               # fullwidth Latin counts as Latin
])
def test_foreign_share(text, share):
    assert foreign_share(text)[0] == pytest.approx(share)


def test_language_penalty_is_configurable():
    text = "abc дом"
    assert language_penalty(text, P).score == pytest.approx(-0.5)
    allowed = language_penalty(text, P, scripts=("latin", "cyrillic"))
    assert allowed.score == 0.0 and allowed.correct
    lenient = language_penalty("abcd 答", P, max_share=0.25)
    assert lenient.correct and lenient.score == pytest.approx(-0.2)
    assert not language_penalty("abcd 答", P).correct


def test_script_names():
    assert [script_of(c) for c in "aΩЖ字かカ한"] == ["latin", "greek", "cyrillic", "han", "japanese",
                                                   "japanese", "hangul"]

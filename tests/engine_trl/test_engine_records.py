"""The shared engine records (`srpo.engines.records`) the TRL and verl engines both compute step metrics from.
Plain Python: no TRL, no verl."""

from fractions import Fraction
from types import SimpleNamespace

import pytest

from srpo.engines.records import Record, domain_metrics, stage_of


def rec(domain, correct, reward, length, truncated=False, penalty=0.0):
    return Record(uid=f"{domain}{length}", domain=domain, correct=correct, reward=reward, length=length,
                  truncated=truncated, penalty=penalty, text="")


RECORDS = [rec("math", True, 1.0, 10), rec("math", False, -0.25, 40, truncated=True, penalty=-0.5),
           rec("math", False, 0.0, 7), rec("code", True, 0.75, 20)]


def test_domain_metrics_against_exact_fractions():
    """Each figure equals the exact rational mean over the domain's records (and over all of them)."""
    out = domain_metrics(RECORDS, masks_truncated=True)
    for domain, rows in {"math": RECORDS[:3], "code": RECORDS[3:], "all": RECORDS}.items():
        n = len(rows)
        expect = {"reward_mean": sum(Fraction(r.reward) for r in rows) / n,
                  "pass_rate": Fraction(sum(r.correct for r in rows), n),
                  "response_len_mean": Fraction(sum(r.length for r in rows), n),
                  "truncated_frac": Fraction(sum(r.truncated for r in rows), n),
                  "masked_responses": sum(r.truncated for r in rows),
                  "masked_tokens": sum(r.length for r in rows if r.truncated),
                  "length_penalty_mean": sum(Fraction(r.penalty) for r in rows) / n,
                  "num_samples": n}
        for name, value in expect.items():
            assert out[f"{domain}/{name}"] == pytest.approx(float(value), abs=1e-12), f"{domain}/{name}"
    assert set(out) == {f"{d}/{k}" for d in ("math", "code", "all") for k in expect}


def test_truncated_responses_count_as_masked_only_when_the_loss_masks_them():
    out = domain_metrics(RECORDS, masks_truncated=False)
    assert out["math/masked_responses"] == out["all/masked_tokens"] == 0.0
    assert out["math/truncated_frac"] == pytest.approx(1 / 3)


def test_stage_of_counts_switches_at_or_before_the_step():
    curriculum = SimpleNamespace(switches=[{"step": 3}, {"step": 8}])
    assert [stage_of(curriculum, s) for s in (0, 2, 3, 7, 8, 20)] == [1, 1, 2, 2, 3, 3]


def test_the_eos_set_joins_the_tokenizers_and_the_generation_configs():
    from srpo.engines.records import eos_id_set

    tok = SimpleNamespace(eos_token_id=2)
    assert eos_id_set(tok, SimpleNamespace(eos_token_id=[7, 2])) == [2, 7]
    assert eos_id_set(tok, SimpleNamespace(eos_token_id=9)) == [2, 9]
    assert eos_id_set(tok, None) == eos_id_set(tok, SimpleNamespace(eos_token_id=None)) == [2]
    assert eos_id_set(SimpleNamespace(eos_token_id=None), SimpleNamespace(eos_token_id=[3, 4])) == [3, 4]
    assert eos_id_set() == []


def test_truncated_means_not_ending_with_any_eos_id():
    from srpo.engines.records import is_truncated

    eos = [2, 7]
    assert not is_truncated([5, 6, 2], eos) and not is_truncated([5, 6, 7], eos)  # either EOS ends a response
    assert is_truncated([5, 6, 8], eos) and is_truncated([], eos)
    assert is_truncated([5, 7, 8], eos)  # an EOS id inside is not an end
    assert not is_truncated([5, 2], 2) and is_truncated([5, 7], 2)  # one id as an int
    assert is_truncated([5, 2], None)  # no EOS known: nothing ends a response


def test_overlong_penalties_follow_the_soft_formula_and_are_zero_when_off():
    from srpo.engines.records import overlong_penalties

    on = SimpleNamespace(penalizes_overlong=True, overlong_window=4, overlong_penalty_factor=1.0)
    # L_max 10, window 4: 0 up to 6, then -(L - 6) / 4, -1 from 10 on
    assert overlong_penalties([3, 6, 8, 10, 12], on, 10) == [0.0, 0.0, -0.5, -1.0, -1.0]
    off = SimpleNamespace(penalizes_overlong=False)
    assert overlong_penalties([3, 12], off, 10) == [0.0, 0.0] and overlong_penalties([], on, 10) == []

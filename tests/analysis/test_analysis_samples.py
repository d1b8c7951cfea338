import pytest

from srpo.analysis import SampleLogConfig, sample_rows, select_samples
from srpo.core.configlib import ConfigError, build


def _rows(steps=range(1, 21), uids=8, group=4):
    return [
        {"step": s, "uid": f"p{u}", "response": f"r{s}-{u}-{k}"}
        for s in steps for u in range(uids) for k in range(group)
    ]


def test_share_is_roughly_respected_and_deterministic():
    rows = _rows()
    cfg = SampleLogConfig(share=0.25, seed=1)
    kept = select_samples(rows, cfg)
    assert 0.18 < len(kept) / len(rows) < 0.32
    assert select_samples(rows, cfg) == kept
    assert select_samples(rows, SampleLogConfig(share=0.25, seed=2)) != kept


def test_resumed_run_logs_same_rows_regardless_of_prompt_order():
    rows = _rows()
    cfg = SampleLogConfig(share=0.3)
    full = select_samples(rows, cfg)
    # A resume re-runs steps 11..20; the prompts of each step arrive in reversed order.
    resumed = []
    for s in range(11, 21):
        step_rows = [r for r in rows if r["step"] == s]
        groups = {}
        for r in step_rows:
            groups.setdefault(r["uid"], []).append(r)
        reordered = [r for uid in reversed(list(groups)) for r in groups[uid]]
        resumed += select_samples(reordered, cfg)
    key = lambda r: r["response"]
    assert sorted(map(key, resumed)) == sorted(key(r) for r in full if r["step"] > 10)


def test_share_bounds():
    rows = _rows(steps=[1])
    assert select_samples(rows, SampleLogConfig(share=1.0)) == rows
    assert select_samples(rows, SampleLogConfig(share=0.0)) == []
    with pytest.raises(ConfigError, match="share"):
        build(SampleLogConfig, {"share": 1.5})


def test_rows_need_step_and_uid():
    with pytest.raises(ValueError, match="sample row 1"):
        select_samples([{"step": 1, "uid": "a"}, {"uid": "b"}], SampleLogConfig(share=0.5))


def test_sample_rows_checks_alignment():
    with pytest.raises(ValueError, match="rewards"):
        sample_rows(1, 1, ["a", "b"], ["math"] * 2, ["x", "y"], [1.0], [True, False], [1, 2])

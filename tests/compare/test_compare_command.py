"""`srpo compare`: the spec, the plan under one rollout budget, the children's command, and a tiny run end to end."""

import json
from pathlib import Path

import pytest

from srpo.cli import main
from srpo.config.compare import load_spec, parse_spec, spec_names
from srpo.core.configlib import ConfigError
from srpo.cli.compare_runs import child_command, plan

SPEC = {"name": "t", "base": "demo", "budget": 640, "seeds": [0, 1],
        "overrides": ["curriculum.preset=math_only"],
        "variants": {"uniform": ["sampling.name=uniform"], "ds": ["sampling.name=dynamic_sampling"]}}


def test_shipped_specs_resolve():
    assert {"premise", "regimes", "samplers-tiny"} <= set(spec_names())
    for name in spec_names():
        load_spec(name)


def test_every_run_gets_the_same_budget(tmp_path):
    runs = plan(parse_spec(SPEC), tmp_path)
    assert [r.name for r in runs] == ["uniform-s0", "ds-s0", "uniform-s1", "ds-s1"]
    for r in runs:  # demo: 8 prompts x 8 samples = 64 rollouts per step -> 10 steps for 640
        assert r.cfg.run.max_rollouts == 640 and r.cfg.run.total_steps == 10
        assert r.cfg.run.output_dir == str(tmp_path / "runs" / r.name) and r.cfg.run.seed == r.seed
    assert runs[1].cfg.sampling.name == "dynamic_sampling"


@pytest.mark.parametrize("change,field", [
    ({"budget": 0}, "budget"), ({"seeds": [1, 1]}, "seeds"), ({"variants": {}}, "variants"),
    ({"variants": {"a b": []}}, "variants.a b"), ({"bogus": 1}, "bogus"),
    ({"target": {"domain": "math", "pass@1": 2}}, "target.pass@1"), ({"overrides": "x=1"}, "overrides"),
])
def test_bad_specs_name_the_field(change, field):
    with pytest.raises(ConfigError, match=f"^{field}"):
        parse_spec(SPEC | change)


def test_a_bad_override_names_the_variant(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(SPEC | {"variants": {"hr": ["sampling.name=hr"]}}))
    with pytest.raises(ConfigError, match=r"s.yaml: variants.hr: .*sampling.name"):
        load_spec(path)


def test_child_runs_are_pinned_with_one_thread():
    cmd, env = child_command(Path("c.yaml"), [0], 1)
    assert env["OMP_NUM_THREADS"] == "1" and env["SRPO_TORCH_THREADS"] == "1" and cmd[-1] == "c.yaml"
    if cmd[0] == "taskset":
        assert cmd[1] == "-c" and cmd[2].isdigit()


@pytest.mark.slow  # a training subprocess
def test_compare_end_to_end_then_skips_complete_runs(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "samplers-tiny", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| uniform | 1 |" in printed and "| history_resampling | 1 |" in printed
    for name in ("uniform-s0", "history_resampling-s0"):
        marker = json.loads((out / "runs" / name / "compare.json").read_text())
        assert marker["heldout_problems"] == {"math": 4} and marker["eval_samples"] == 1
        rows = [json.loads(line) for line in (out / "runs" / name / "metrics.jsonl").read_text().splitlines()]
        assert rows[-1]["step"] == 3 and rows[-1]["sampler/rollouts_total"] == 12
    for png in ("eval", "zero_adv", "length", "reflection", "reward", "active_set"):
        assert (out / "report" / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert set(summary["variants"]) == {"uniform", "history_resampling"}
    before = (out / "runs" / "uniform-s0" / "metrics.jsonl").stat().st_mtime_ns
    assert main(["compare", "samplers-tiny", "--out", str(out)]) == 0
    assert "2 runs (2 already complete)" in capsys.readouterr().out
    assert (out / "runs" / "uniform-s0" / "metrics.jsonl").stat().st_mtime_ns == before

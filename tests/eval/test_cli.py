import argparse
import json
from pathlib import Path

from srpo.cli.data import add_cli as add_data_cli
from srpo.cli.eval import add_cli as add_eval_cli
from srpo.rewards import RewardResult

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def parser():
    p = argparse.ArgumentParser(prog="srpo")
    sub = p.add_subparsers()
    add_data_cli(sub)
    add_eval_cli(sub)
    return p


def test_curate_cli_writes_outputs(tmp_path, capsys):
    args = parser().parse_args(["curate", str(FIXTURES / "math_filters.jsonl"), str(FIXTURES / "malformed.jsonl"),
                                "gym:chain_sum?size=5", "--out", str(tmp_path), "--set", "curate.near_dedup=false"])
    assert args.func(args) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["by_reason"]["malformed"] == 3 and "near_duplicate" not in report["by_reason"]
    assert report["by_source"]["gym:chain_sum"]["kept"] == 5
    assert "malformed" in capsys.readouterr().out


class FakeScorer:
    """Stands in for `RewardScorer`: a response is correct when it is the gold answer."""

    def __init__(self, *_args):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        pass

    @staticmethod
    def score(responses, problems):
        return [RewardResult(1.0, r == p.answer, {}) for r, p in zip(responses, problems)]


def test_eval_and_label_cli_wiring(tmp_path, monkeypatch, capsys):
    import srpo.engines.native.generation as generation
    import srpo.rewards as rewards

    seen = {}

    def fake_make_generate_fn(cfg):
        seen["cfg"] = cfg
        return lambda problems, n: [[p.answer if j == 0 else "x" for j in range(n)] for p in problems]

    monkeypatch.setattr(generation, "make_generate_fn", fake_make_generate_fn)
    monkeypatch.setattr(rewards, "RewardScorer", FakeScorer)
    args = parser().parse_args(["eval", str(FIXTURES / "aime_mini.jsonl"), "--out", str(tmp_path),
                                "--set", "eval.samples=4", "--set", "eval.ks=[1,2]", "--set", "eval.temperature=0.7"])
    assert args.func(args) == 0
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["by_benchmark"]["aime_mini"]["metrics"] == {"pass@1": 0.25, "pass@2": 0.5, "avg@4": 0.25}
    assert result["responses"] == "responses.jsonl"
    responses = [json.loads(line) for line in (tmp_path / "responses.jsonl").read_text().splitlines()]
    assert len(responses) == 3 * 4 and [r["sample"] for r in responses[:4]] == [0, 1, 2, 3]
    first = result["per_problem"][0]
    assert {k: responses[0][k] for k in ("uid", "source", "domain")} == {k: first[k] for k in ("uid", "source", "domain")}
    assert [(r["response"], r["correct"], r["score"]) for r in responses[:2]] == [("24", True, 1.0), ("x", False, 1.0)]
    assert seen["cfg"].model.path == "toy" and seen["cfg"].resolved_eval().temperature == 0.7
    assert "aime_mini" in capsys.readouterr().out

    args = parser().parse_args(["label-difficulty", str(FIXTURES / "aime_mini.jsonl"), "--out", str(tmp_path),
                                "--set", "eval.samples=4", "--no-progress"])
    assert args.func(args) == 0
    labels = [json.loads(line)["difficulty"] for line in (tmp_path / "labelled.jsonl").read_text().splitlines()]
    assert labels == ["hard"] * 3  # pass rate 1/4 <= hard_max_pass_rate 0.25
    assert json.loads((tmp_path / "summary.json").read_text()) == {"aime_mini": {"easy": 0, "medium": 0, "hard": 3}}

    args = parser().parse_args(["label-difficulty", str(FIXTURES / "aime_mini.jsonl"), "--out", str(tmp_path / "b"),
                                "--set", "eval.samples=4", "--set", "difficulty.hard_max_pass_rate=0.2",
                                "--no-progress"])
    assert args.func(args) == 0
    assert json.loads((tmp_path / "b" / "summary.json").read_text()) == {"aime_mini": {"easy": 0, "medium": 3,
                                                                                       "hard": 0}}

import pytest

from srpo.tracking import Tracker, read_jsonl


class Recorder:
    def __init__(self):
        self.seen, self.closed = [], False

    def log(self, metrics, step):
        self.seen.append((step, dict(metrics)))

    def close(self):
        self.closed = True


def test_tracker_writes_jsonl_and_fans_out(tmp_path):
    rec = Recorder()
    with Tracker(tmp_path, [rec]) as tr:
        tr.log({"math/reward_mean": 0.5, "bad": float("nan")}, step=1)
        tr.log_samples([{"uid": "a", "response": "x"}])
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert rows == [{"step": 1, "math/reward_mean": 0.5, "bad": None}]
    assert read_jsonl(tmp_path / "samples.jsonl") == [{"uid": "a", "response": "x"}]
    assert rec.seen[0][0] == 1 and rec.closed


def test_read_jsonl_names_line(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"m.jsonl:2"):
        read_jsonl(p)

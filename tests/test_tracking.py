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


# --- backends -------------------------------------------------------------------------------------------

import math
import sys
import types

from srpo.analysis import SampleLogConfig
from srpo.core.configlib import ConfigError, build
from srpo.tracking import LoggingConfig, TensorBoardBackend, make_backends, scalar_metrics


def _metrics(step):
    return {
        "stage": 1 + (step > 3),
        "math/reward_mean": 0.1 * step,
        "groups/zero_adv_frac": 1.0 / step,
        "eval/math/pass@1": 0.5 if step % 3 == 0 else float("nan"),
        "note": "text is not a scalar",
    }


def test_tensorboard_event_file_matches_metrics_jsonl(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard extra not installed (pip install 'srpo[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with Tracker(tmp_path, make_backends(["tensorboard"], tmp_path)) as tr:
        for step in range(1, 7):
            tr.log(_metrics(step), step)
    expected = {}
    for row in read_jsonl(tmp_path / "metrics.jsonl"):
        for key, value in row.items():
            if key != "step" and isinstance(value, (int, float)):
                expected.setdefault(key, []).append((row["step"], float(value)))
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    got = {
        tag: [(ev.step, ev.value) for ev in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]
    }
    assert set(got) == set(expected) == {"stage", "math/reward_mean", "groups/zero_adv_frac", "eval/math/pass@1"}
    for key, pairs in expected.items():
        assert [s for s, _ in got[key]] == [s for s, _ in pairs]
        assert [v for _, v in got[key]] == pytest.approx([v for _, v in pairs], rel=1e-6)  # float32 in TB


class _FakeRun:
    def __init__(self, **kwargs):
        self.init_kwargs, self.logged, self.finished = kwargs, [], False

    def log(self, data, step):
        self.logged.append((step, dict(data)))

    def finish(self):
        self.finished = True


def test_wandb_backend_with_fake_module(tmp_path, monkeypatch):
    # The shared venv has no wandb; a stand-in module records what the backend sends.
    runs = []
    fake = types.ModuleType("wandb")
    fake.init = lambda **kw: runs.append(_FakeRun(**kw)) or runs[-1]
    monkeypatch.setitem(sys.modules, "wandb", fake)
    config = {"run": {"name": "staged"}, "algorithm": {"clip_high": 0.28}}
    with Tracker(tmp_path, make_backends(["wandb"], tmp_path, config)) as tr:
        tr.log(_metrics(3), 3)
    (run,) = runs
    assert run.init_kwargs["mode"] == "offline" and run.init_kwargs["name"] == "staged"
    assert run.init_kwargs["config"] == config and run.init_kwargs["dir"] == str(tmp_path)
    assert run.init_kwargs["project"] == "srpo"
    row = read_jsonl(tmp_path / "metrics.jsonl")[0]
    assert run.logged == [(3, {k: float(v) for k, v in row.items() if k not in ("step", "note")})]
    assert run.finished


def test_wandb_real_offline(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb", reason="wandb extra not installed; the fake-module test covers the calls")
    monkeypatch.setenv("WANDB_SILENT", "true")
    with Tracker(tmp_path, make_backends(["wandb"], tmp_path, {"run": {"name": "t"}})) as tr:
        tr.log({"math/reward_mean": 0.25, "stage": 1}, 1)
    wandb.teardown()  # the wandb-core service may still hold buffered records after run.finish()
    (record,) = (tmp_path / "wandb").glob("offline-run-*/*.wandb")
    assert b"math/reward_mean" in record.read_bytes()


def test_missing_extras_give_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'wandb>=0.17' \(srpo's wandb extra\)"):
        make_backends(["wandb"], tmp_path)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r"pip install 'tensorboard>=2.16' \(srpo's tensorboard extra\)"):
        TensorBoardBackend(tmp_path)
    with pytest.raises(KeyError, match="unknown logging backend 'mlflow'"):
        make_backends(["mlflow"], tmp_path)


def test_scalar_metrics_keeps_finite_numbers():
    assert scalar_metrics({"a": 2, "b": math.inf, "c": None, "d": False}) == {"a": 2.0, "d": 0.0}


def test_logging_config_validation():
    cfg = build(LoggingConfig, {"backends": ["tensorboard"], "samples": {"share": 0.5}})
    assert cfg.samples == SampleLogConfig(share=0.5)
    with pytest.raises(ConfigError, match=r"backends\[1\]: unknown logging backend 'tb'"):
        build(LoggingConfig, {"backends": ["wandb", "tb"]})
    with pytest.raises(ConfigError, match="wandb_mode"):
        build(LoggingConfig, {"wandb_mode": "cloud"})
    with pytest.raises(ConfigError, match=r"samples.share"):
        build(LoggingConfig, {"samples": {"share": -0.1}})


def test_tracker_from_config_filters_samples(tmp_path):
    rows = [{"step": 1, "uid": f"p{i}", "response": "r"} for i in range(200)]
    with Tracker.from_config(tmp_path, LoggingConfig(samples=SampleLogConfig(share=0.2))) as tr:
        tr.log_samples(rows)
    kept = read_jsonl(tmp_path / "samples.jsonl")
    assert 10 < len(kept) < 70 and all(r in rows for r in kept)

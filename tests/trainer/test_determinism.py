"""``run.deterministic``: two fresh runs of one config are bit-identical (metrics and weights), and the switch
does what it says (one intra-op thread, torch's deterministic algorithms). The default's float-rounding
differences at two threads are measured, not asserted: they appear only under some schedules."""

import pytest
import torch
from safetensors.torch import load_file

from srpo.engines.native.trainer import Trainer
from srpo.tracking import read_jsonl
from test_trainer_smoke import DigitScorer, config, write_data


@pytest.fixture
def restore_torch_state():
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def _run(tmp_path, model_dir, name):
    cfg = config(tmp_path, model_dir, f"run.output_dir={tmp_path / name}", "run.deterministic=true",
                 "run.total_steps=3", "run.save_every=0")
    Trainer(cfg, scorer=DigitScorer()).train()
    assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    metrics = [{k: v for k, v in row.items() if not k.startswith("timing/")}
               for row in read_jsonl(tmp_path / name / "metrics.jsonl")]
    weights = load_file(str(tmp_path / name / "checkpoints" / "step_000003" / "model.safetensors"))
    return metrics, weights


def test_fresh_deterministic_runs_are_bit_identical(tmp_path, tiny_model_dir, restore_torch_state):
    write_data(tmp_path)
    metrics_a, weights_a = _run(tmp_path, tiny_model_dir, "a")
    metrics_b, weights_b = _run(tmp_path, tiny_model_dir, "b")
    assert metrics_a == metrics_b
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)

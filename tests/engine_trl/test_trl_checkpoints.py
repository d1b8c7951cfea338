"""A TRL run directory through the one checkpoint layout (`srpo.engines.checkpoint_layout`): resume of the tied
toy model loads without a spurious missing-key warning and with the weights really tied; `srpo eval` and
`srpo export` open the run by its directory or a checkpoint-N, with the run's own settings."""

import contextlib
import io
import json
import logging

import pytest

pytest.importorskip("trl")

from safetensors.torch import load_file  # noqa: E402

from srpo.cli import main  # noqa: E402
from srpo.config import load_config  # noqa: E402

pytestmark = pytest.mark.slow
MAX_NEW = 12  # the run's rollout.max_new_tokens, not the default


def config(out, *extra):
    return load_config("grpo", [
        "engine=trl", f"run.output_dir={out}", "run.total_steps=2", "run.save_every=1", "run.progress=false",
        'data.train=["toy:math?n=4&levels=1-1&seed=3"]', 'data.heldout=["toy:math?n=2&levels=1-1&split=heldout"]',
        "run.eval_every=100", "eval.samples=1", "rollout.prompts_per_step=2", "rollout.group_size=2",
        f"rollout.max_new_tokens={MAX_NEW}", "algorithm.micro_batch_size=4", "optim.lr=1e-2", "sandbox.workers=1",
        "model.device=cpu", *extra])


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """A 2-step TRL run cut after step 1 and resumed; what the resume's load printed and left in the model."""
    from srpo.engines.trl.trainer import SrpoGRPOTrainer, train

    run = tmp_path_factory.mktemp("trl") / "run"
    train(config(run, "run.stop_at_step=1"))
    seen = {}
    original = SrpoGRPOTrainer._load_from_checkpoint

    def load(self, checkpoint, model=None):
        original(self, checkpoint, model)
        inner = self.model
        seen["tied"] = inner.lm_head.weight is inner.get_input_embeddings().weight
        seen["lm_head"] = inner.lm_head.weight.detach().clone()

    with pytest.MonkeyPatch.context() as mp, _capture() as out:
        mp.setattr(SrpoGRPOTrainer, "_load_from_checkpoint", load)
        train(config(run))
    return run, seen, out.text


class _capture:
    """Everything printed and everything transformers logs inside the block (its logger has its own handler)."""

    def __enter__(self):
        self._buffer = io.StringIO()
        self._handler = logging.StreamHandler(self._buffer)
        logging.getLogger("transformers").addHandler(self._handler)
        self._redirect = contextlib.ExitStack()
        self._redirect.enter_context(contextlib.redirect_stdout(self._buffer))
        self._redirect.enter_context(contextlib.redirect_stderr(self._buffer))
        return self

    def __exit__(self, *exc):
        self._redirect.close()
        logging.getLogger("transformers").removeHandler(self._handler)
        self.text = self._buffer.getvalue()


def test_resume_of_a_tied_model_loads_tied_without_a_missing_key_warning(resumed):
    run, seen, printed = resumed
    assert "resuming from" in printed
    assert "missing keys" not in printed, [line for line in printed.splitlines() if "missing" in line]
    assert seen["tied"]
    saved = load_file(run / "checkpoint-1" / "model.safetensors")
    assert "lm_head.weight" not in saved  # tied: stored once
    assert seen["lm_head"].equal(saved["model.embed_tokens.weight"])


@pytest.mark.parametrize("given", ["", "checkpoint-2"])
def test_eval_opens_the_run_or_its_checkpoint_with_the_runs_settings(resumed, given, tmp_path, capsys):
    run = resumed[0]
    assert main(["eval", "--model", str(run / given), "--out", str(tmp_path), "--no-progress"]) == 0
    assert f"config: {run / 'config.yaml'} (+0 overrides)" in capsys.readouterr().out
    settings = json.loads((tmp_path / "eval.json").read_text())["settings"]
    assert settings["model"] == str(run / "checkpoint-2") and settings["max_new_tokens"] == MAX_NEW
    assert settings["config"] == str(run / "config.yaml")


def test_export_opens_the_run_directory(resumed, tmp_path):
    from transformers import AutoModelForCausalLM

    assert main(["export", str(resumed[0]), "--out", str(tmp_path / "model")]) == 0
    assert not (tmp_path / "model" / "srpo_state.json").exists()
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert model.lm_head.weight is model.get_input_embeddings().weight

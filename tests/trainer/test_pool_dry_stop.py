"""``sampling.hr_on_exhausted=stop`` ends a native run after the step whose boundary found the pool dry."""

from srpo.rewards import RewardResult
from srpo.tracking import read_jsonl
from srpo.engines.native.trainer import Trainer
from test_trainer_smoke import config, write_data


class AlwaysCorrect:
    def score(self, texts, problems):
        return [RewardResult(1.0, True, {}) for _ in texts]


def test_stop_ends_the_run_with_a_line_and_a_checkpoint(tmp_path, tiny_model_dir, capsys):
    write_data(tmp_path)  # 24 prompts, 3 per step: epoch 0 is steps 1-8, decided when step 9 draws
    cfg = config(tmp_path, tiny_model_dir, "sampling.name=history_resampling", "sampling.hr_on_exhausted=stop",
                 "run.total_steps=50", "run.save_every=0", "run.eval_every=0")
    Trainer(cfg, scorer=AlwaysCorrect()).train()
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert rows[-1]["step"] == 9 and rows[-1]["sampler/math/exhausted"] == 1.0
    assert rows[-1]["sampler/math/active_size"] == 3 and "eval/all/pass@1" in rows[-1]
    assert (tmp_path / "run" / "checkpoints" / "step_000009").is_dir()
    assert "pool ran dry (sampling.hr_on_exhausted=stop): training ends after step 9" in capsys.readouterr().err

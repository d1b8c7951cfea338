"""End-to-end trainer runs on a tiny random model with a cheap deterministic scorer (seconds each)."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.data import Problem
from srpo.data.loaders import export_jsonl
from srpo.rewards import RewardResult
from srpo.tracking import read_jsonl
from srpo.engines.native.trainer import Trainer


class DigitScorer:
    """Reward 1 when the response contains more digits than letters: random models hit it sometimes."""

    def score(self, texts, problems):
        out = []
        for t in texts:
            ok = sum(c.isdigit() for c in t) > sum(c.isalpha() for c in t)
            out.append(RewardResult(float(ok), ok, {}))
        return out


def write_data(tmp_path, n_train=24):
    train = [Problem.create("math", f"Q: {a}+{b}=?", str(a + b), source="t") for a in range(6) for b in range(4)]
    train = train[:n_train]
    held = [Problem.create("math", f"Q: {a}*{b}=?", str(a * b), source="h") for a in range(3) for b in range(2)]
    export_jsonl(train, tmp_path / "train.jsonl")
    export_jsonl(held, tmp_path / "held.jsonl")


def config(tmp_path, model_dir, *extra):
    return load_config("grpo", [
        f"model.path={model_dir}", "model.prompt_template=plain",
        f"data.train=[{tmp_path / 'train.jsonl'}]", f"data.heldout=[{tmp_path / 'held.jsonl'}]",
        f"run.output_dir={tmp_path / 'run'}", "run.total_steps=4", "run.save_every=2", "run.progress=false",
        "rollout.group_size=4", "rollout.prompts_per_step=3", "rollout.max_new_tokens=8",
        "algorithm.micro_batch_size=5", "optim.lr=1e-2", "eval.samples=2", "logging.samples.share=1.0",
        *extra])


@pytest.fixture
def setup(tmp_path, tiny_model_dir):
    write_data(tmp_path)
    return tmp_path, tiny_model_dir


def test_grpo_run_writes_metrics_checkpoints_and_moves_weights(setup):
    tmp_path, model_dir = setup
    cfg = config(tmp_path, model_dir)
    before = AutoModelForCausalLM.from_pretrained(model_dir)
    last = Trainer(cfg, scorer=DigitScorer()).train()
    assert torch.isfinite(torch.tensor(last["train/loss"]))
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]
    assert "eval/all/pass@1" in rows[0] and "eval/all/pass@1" in rows[-1]
    for key in ("all/reward_mean", "groups/zero_adv_frac", "groups/all_correct_frac", "actor/entropy",
                "sampler/math/active_size", "timing/generate_s", "stage"):
        assert key in rows[1], key
    samples = read_jsonl(tmp_path / "run" / "samples.jsonl")
    assert len(samples) == 4 * 3 * 4 and {"uid", "response", "reward", "correct"} <= set(samples[0])
    ckpt = tmp_path / "run" / "checkpoints" / "step_000004"
    after = AutoModelForCausalLM.from_pretrained(ckpt)
    tok = AutoTokenizer.from_pretrained(ckpt)
    changed = sum(float((a - b).detach().abs().sum()) for a, b in zip(after.parameters(), before.parameters()))
    assert changed > 0
    out = after.generate(**tok("Q: 1+1=?", return_tensors="pt"), max_new_tokens=4, do_sample=False)
    assert out.shape[1] > 0
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("step_*")) == ["step_000002",
                                                                                         "step_000004"]


def _final_state(run_dir):
    rows = [{k: v for k, v in r.items() if not k.startswith("timing/")} for r in read_jsonl(run_dir / "metrics.jsonl")]
    weights = AutoModelForCausalLM.from_pretrained(run_dir / "checkpoints" / "step_000004").state_dict()
    return rows, weights


@pytest.mark.parametrize("sampler, stop, extra", [
    ("uniform", 3, ()), ("history_resampling", 2, ()), ("history_resampling", 3, ()), ("dynamic_sampling", 3, ()),
    ("history_resampling", 3, ("sampling.hr_wrong_patience=1", "sampling.hr_wrong_return=1")),
    ("difficulty_pool", 3, ("sampling.pool_easy_fraction=0.34", "sampling.pool_hard_fraction=0.34")),
], ids=["uniform", "hr-at-boundary", "hr", "dynamic", "hr-patience", "difficulty-pool"])
def test_resume_is_exact(tmp_path, tiny_model_dir, sampler, stop, extra):
    """4 steps straight == `stop` steps, interrupt, resume, the rest: same metrics and same weights.

    6 training prompts at 3 per step make an epoch 2 steps long: stopping at step 2 resumes exactly at
    an epoch boundary (history resampling decides its drops lazily, at the next draw), stopping at 3
    resumes mid-epoch with a boundary still ahead."""
    rows = _straight_equals_resumed(tmp_path, tiny_model_dir, stop, f"sampling.name={sampler}",
                                    "sampling.dynamic_max_rounds=2", *extra)
    epochs = [r.get("sampler/math/epoch") for r in rows]
    assert max(e for e in epochs if e is not None) >= 1, "the run must cross an epoch boundary"


def test_resume_with_kl_keeps_the_initial_model_as_reference(tmp_path, tiny_model_dir):
    """The KL reference is the run's initial model, also after a resume from a later checkpoint."""
    rows = _straight_equals_resumed(tmp_path, tiny_model_dir, 2, "algorithm.kl_coef=0.5")
    kl = [r["actor/kl_ref"] for r in rows if r["step"] > 0]
    assert kl[0] == 0 and all(k > 0 for k in kl[1:]), kl


def _straight_equals_resumed(tmp_path, model_dir, stop, *extra):
    """Run 4 steps straight and as `stop` steps + resume; assert the same metrics and weights, return the rows."""
    write_data(tmp_path, n_train=6)
    straight = config(tmp_path, model_dir, *extra, f"run.output_dir={tmp_path / 'a'}")
    Trainer(straight, scorer=DigitScorer()).train()
    halves = config(tmp_path, model_dir, *extra, f"run.output_dir={tmp_path / 'b'}", f"run.stop_at_step={stop}")
    Trainer(halves, scorer=DigitScorer()).train()
    resumed = config(tmp_path, model_dir, *extra, f"run.output_dir={tmp_path / 'b'}")
    Trainer(resumed, scorer=DigitScorer()).train()
    rows_a, weights_a = _final_state(tmp_path / "a")
    rows_b, weights_b = _final_state(tmp_path / "b")
    assert rows_a == rows_b
    for name, value in weights_a.items():
        assert torch.equal(value, weights_b[name]), name
    return rows_a


def test_resume_never_refuses_existing_run(setup):
    tmp_path, model_dir = setup
    Trainer(config(tmp_path, model_dir, "run.total_steps=2"), scorer=DigitScorer()).train()
    with pytest.raises(ConfigError, match="^run.resume: .*resume=never refuses"):
        Trainer(config(tmp_path, model_dir, "run.resume=never"), scorer=DigitScorer())


def test_bad_config_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match="algorithm.clip_lo"):
        load_config("grpo", ["algorithm.clip_lo=0.1"])
    with pytest.raises(ConfigError, match="rollout.group_size"):
        load_config("grpo", ["rollout.group_size=0"])
    with pytest.raises(ConfigError, match="mini_batch_size"):
        load_config("grpo", ["algorithm.mini_batch_size=100000"])


def test_rollout_budget_stops_the_run(setup):
    tmp_path, model_dir = setup
    cfg = config(tmp_path, model_dir, "run.total_steps=50", "run.max_rollouts=30", "run.save_every=0")
    Trainer(cfg, scorer=DigitScorer()).train()
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    # 12 responses per step: the step that crosses 30 (step 3, 36 rollouts) is the last, evaluated.
    assert rows[-1]["step"] == 3 and rows[-1]["sampler/rollouts_total"] == 36
    assert "eval/all/pass@1" in rows[-1]
    assert (tmp_path / "run" / "checkpoints" / "step_000003").is_dir()


def test_gradient_checkpointing_leaves_the_checkpoint_config_as_shipped(setup):
    """A checkpoint is an HF model like the initial one: training-only switches stay out of config.json."""
    tmp_path, model_dir = setup
    cfg = config(tmp_path, model_dir, "model.gradient_checkpointing=true", "run.total_steps=1")
    last = Trainer(cfg, scorer=DigitScorer()).train()
    assert torch.isfinite(torch.tensor(last["train/loss"]))
    saved = json.loads((tmp_path / "run" / "checkpoints" / "step_000001" / "config.json").read_text())
    assert saved["use_cache"] is True


def test_token_budget_micro_batches_train_the_same_first_step(setup):
    """algorithm.micro_batch_tokens and share_prompts change how the update is cut, not what it computes:
    step 1 (same rollouts) has the same gradient norm and loss to float32 rounding as the default."""
    tmp_path, model_dir = setup
    runs = []
    for i, extra in enumerate(([], ["algorithm.micro_batch_tokens=30", "algorithm.share_prompts=false"])):
        cfg = config(tmp_path, model_dir, f"run.output_dir={tmp_path / f'run{i}'}", "run.total_steps=1",
                     "data.heldout=[]", *extra)
        runs.append(Trainer(cfg, scorer=DigitScorer()).train())
    assert runs[0]["train/grad_norm"] > 1e-3  # some group had mixed rewards: there is a gradient to compare
    assert runs[0]["train/grad_norm"] == pytest.approx(runs[1]["train/grad_norm"], rel=1e-5)
    assert runs[0]["train/loss"] == pytest.approx(runs[1]["train/loss"], rel=1e-5, abs=1e-7)
    assert runs[0]["actor/entropy"] == pytest.approx(runs[1]["actor/entropy"], rel=1e-5)

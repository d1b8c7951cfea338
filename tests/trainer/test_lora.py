"""LoRA through peft (model.lora): config, trainable parameters, the adapters-disabled KL reference, the update,
checkpoints (save -> load -> merge), a tiny end-to-end run and exact resume."""

import copy
import importlib.util
import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from srpo.config import load_config
from srpo.config.algorithm import AlgorithmConfig, OptimConfig
from srpo.config.model import LORA_TARGETS, LoraConfig, ModelConfig
from srpo.core.configlib import ConfigError
from srpo.data import Problem
from srpo.engines.hf_model import load_model, load_policy
from srpo.engines.lora import is_adapter_dir, parameter_counts, wrap
from srpo.engines.native.actor import Actor, policy_forward
from srpo.engines.native.experience import Experience
from srpo.engines.native.export import export_model
from srpo.engines.native.head import fused_head
from srpo.engines.native.head import refusal as head_refusal
from srpo.engines.native.trainer import Trainer
from srpo.tracking import read_jsonl

from test_actor import make_experience
from test_trainer_smoke import DigitScorer, config, write_data

pytest.importorskip("peft")
LORA = LoraConfig(enabled=True, r=4, alpha=8.0)


def _perturbed(model, seed=1):
    """`model` with every LoRA B set to small random values (B starts at 0, where adapters change nothing)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    return model


def _actor(model, **algo):
    return Actor(model, AlgorithmConfig(**algo), OptimConfig(lr=1e-2, max_grad_norm=0.0), temperature=1.0,
                 norm_len=10, total_optimizer_steps=4)


# ---------------------------------------------------------------- config
def test_lora_is_off_by_default_and_targets_llama_qwen_projections():
    cfg = load_config("grpo")
    assert cfg.model.lora.enabled is False
    assert cfg.model.lora.target_modules == list(LORA_TARGETS)
    assert load_config("grpo", ["model.lora.enabled=true", "model.lora.r=8"]).model.lora.r == 8


@pytest.mark.parametrize("override, field", [("model.lora.r=0", "model.lora.r"),
                                             ("model.lora.alpha=0", "model.lora.alpha"),
                                             ("model.lora.dropout=1.0", "model.lora.dropout"),
                                             ("model.lora.target_modules=[]", "model.lora.target_modules"),
                                             ("model.lora.rank=4", "model.lora.rank")])
def test_bad_lora_values_name_the_field(override, field):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        load_config("grpo", [override])


def test_missing_peft_is_refused_at_load_naming_the_field(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(ConfigError, match=r"^model\.lora\.enabled: LoRA needs peft"):
        load_config("grpo", ["model.lora.enabled=true"])
    assert load_config("grpo").model.lora.enabled is False  # off: peft is not needed


# ---------------------------------------------------------------- the wrapped policy
def test_only_adapters_are_trainable_and_optimized(tiny_policy):
    base, _ = tiny_policy
    # Each adapted Linear(d_in, d_out) gains A (r x d_in) and B (d_out x r): r * (d_in + d_out) parameters.
    expected = sum(LORA.r * (m.in_features + m.out_features) for name, m in base.named_modules()
                   if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in LORA_TARGETS)
    total_base = sum(p.numel() for p in base.parameters())
    model = wrap(base, LORA, base="unused")
    counts = parameter_counts(model)
    assert counts == {"trainable": expected, "total": total_base + expected}
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    optimized = [p for group in _actor(model).optimizer.param_groups for p in group["params"]]
    assert sum(p.numel() for p in optimized) == expected


def test_reference_with_adapters_disabled_is_exactly_the_base_model(tiny_policy):
    base, tokenizer = tiny_policy
    base = base.double()
    exp = make_experience(base, tokenizer)
    base_logp, _ = policy_forward(copy.deepcopy(base), exp, temperature=1.0)
    model = _perturbed(wrap(base, LORA, base="unused"))
    actor = _actor(model, kl_coef=0.1)
    with torch.no_grad():
        ref = actor._reference_logprobs(exp)
        adapted, _ = policy_forward(model, exp, temperature=1.0)
    assert ref.dtype == torch.float64
    assert torch.equal(ref, base_logp * exp.response_mask_bt)  # bit-identical, not merely close
    assert not torch.allclose(adapted * exp.response_mask_bt, ref)  # the adapters do change the policy


def test_update_moves_adapters_and_never_the_base_weights(tiny_policy):
    base, tokenizer = tiny_policy
    exp = make_experience(base, tokenizer)
    model = _perturbed(wrap(copy.deepcopy(base), LORA, base="unused"))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    stats = _actor(model, kl_coef=0.1).update(exp)
    assert torch.isfinite(torch.tensor(stats["train/loss"])) and stats["actor/kl_ref"] > 0
    for name, p in model.named_parameters():
        moved = not torch.equal(p, before[name])
        assert moved == ("lora_" in name), name  # every adapter moves (A and B), nothing else does


# ---------------------------------------------------------------- the fused LM head under LoRA
def _lora64(tiny_policy, exact_norm, lora=LORA):
    base, tokenizer = tiny_policy
    base = base.double()
    exp = make_experience(base, tokenizer).trimmed()
    exp.old_logprobs_bt = exp.old_logprobs_bt.double()
    return _perturbed(wrap(base, lora, base="unused")), exp


def _forward_grads(model, exp, **kwargs):
    model.zero_grad(set_to_none=True)
    logp, ent = policy_forward(model, exp, 0.9, with_entropy=True, **kwargs)
    w = torch.randn(exp.response_ids_bt.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ((logp + 0.3 * ent) * w * exp.response_mask_bt).sum().backward()
    return logp.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("share", [False, True], ids=["full-pass", "shared-prompts"])
def test_fused_head_with_adapters_on_and_off_gives_the_logits_path(tiny_policy, exact_norm, share):
    """Through peft: the decoder runs the adapters (and skips them under disable_adapter, the KL reference);
    the frozen head gets no gradient, the adapters the logits path's to 1e-10."""
    model, exp = _lora64(tiny_policy, exact_norm)
    assert fused_head(model) is not None
    model.train()
    lp_a, grad_a = _forward_grads(model, exp, share_prompts=share, fuse_head=False)
    lp_b, grad_b = _forward_grads(model, exp, share_prompts=share, fuse_head=True)
    mask = exp.response_mask_bt.bool()
    torch.testing.assert_close(lp_a[mask], lp_b[mask], rtol=1e-10, atol=1e-10)
    assert grad_a.keys() == grad_b.keys() and grad_a and all("lora_" in n for n in grad_a)
    for name in grad_a:
        torch.testing.assert_close(grad_a[name], grad_b[name], rtol=1e-10, atol=1e-12, msg=name)
    with torch.no_grad(), model.disable_adapter():
        ref_a, _ = policy_forward(model, exp, 0.9, share_prompts=share, fuse_head=False)
        ref_b, _ = policy_forward(model, exp, 0.9, share_prompts=share, fuse_head=True)
    torch.testing.assert_close(ref_a[mask], ref_b[mask], rtol=1e-10, atol=1e-10)
    assert (ref_b[mask] - lp_b[mask]).abs().max() > 1e-4  # the adapters were really off


def test_lora_on_the_lm_head_falls_back_to_the_logits(tiny_policy, exact_norm):
    """An adapted lm_head is no plain nn.Linear: policy_forward uses the model's logits (bit for bit)."""
    lora = LoraConfig(enabled=True, r=4, alpha=8.0, target_modules=[*LORA_TARGETS, "lm_head"])
    model, exp = _lora64(tiny_policy, exact_norm, lora)
    assert fused_head(model) is None and "not a plain torch.nn.Linear" in head_refusal(model)
    with torch.no_grad():
        fused, _ = policy_forward(model, exp, 0.9, fuse_head=True)
        plain, _ = policy_forward(model, exp, 0.9, fuse_head=False)
    assert torch.equal(fused, plain)


def test_fused_head_gives_the_lora_update_of_the_logits_path(tiny_policy, exact_norm):
    model, exp = _lora64(tiny_policy, exact_norm)
    updated = []
    for fused in (False, True):
        m = copy.deepcopy(model)
        stats = _actor(m, kl_coef=0.1, entropy_coef=0.01, micro_batch_size=5, fused_head=fused).update(
            copy.deepcopy(exp))
        updated.append((m, stats))
    (a, s1), (b, s2) = updated
    for (name, x), y in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-11, msg=name)
    assert s1["train/loss"] == pytest.approx(s2["train/loss"], rel=1e-9, abs=1e-12)
    assert s1["actor/kl_ref"] == pytest.approx(s2["actor/kl_ref"], rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- end to end, checkpoints, merge, resume
def _lora_config(tmp_path, model_dir, *extra):
    return config(tmp_path, model_dir, "model.lora.enabled=true", "model.lora.r=4", "model.lora.alpha=8",
                  "algorithm.kl_coef=0.5", *extra)


@pytest.mark.parametrize("engine", ["kv_cache", "hf"])
def test_lora_run_keeps_one_model_in_memory_and_checkpoints_small_adapters(tmp_path, tiny_model_dir, monkeypatch,
                                                                          engine):
    write_data(tmp_path)
    loads = []
    real = AutoModelForCausalLM.from_pretrained
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", lambda *a, **k: loads.append(a) or real(*a, **k))
    trainer = Trainer(_lora_config(tmp_path, tiny_model_dir, "run.total_steps=2", f"rollout.engine={engine}"),
                      scorer=DigitScorer())
    assert len(loads) == 1 and trainer.actor.ref_model is None  # the reference is the base, adapters disabled
    last = trainer.train()
    assert last["actor/kl_ref"] > 0 and torch.isfinite(torch.tensor(last["train/loss"]))
    ckpt = tmp_path / "run" / "checkpoints" / "step_000002"
    assert is_adapter_dir(ckpt) and not (ckpt / "model.safetensors").exists()
    adapters = load_file(ckpt / "adapter_model.safetensors")
    assert adapters and all("lora_" in k for k in adapters)
    assert any(float(v.abs().sum()) > 0 for k, v in adapters.items() if "lora_B" in k)  # trained
    assert json.loads((ckpt / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        str(tiny_model_dir.resolve())
    size = (ckpt / "adapter_model.safetensors").stat().st_size
    assert size < (tiny_model_dir / "model.safetensors").stat().st_size / 2


def test_saved_adapters_load_and_merge_to_the_adapted_model(tmp_path, tiny_model_dir, tiny_policy):
    """save -> load (base + adapters) -> merge: log-probs of the merged plain model match the adapted model's
    to 1e-5 (float32; merging re-associates W x + s B (A x) as (W + s B A) x, so bitwise equality is not expected)."""
    write_data(tmp_path)
    trainer = Trainer(_lora_config(tmp_path, tiny_model_dir, "run.total_steps=2"), scorer=DigitScorer())
    trainer.train()
    ckpt = tmp_path / "run" / "checkpoints" / "step_000002"
    _, tokenizer = tiny_policy
    exp = make_experience(load_model(ModelConfig(path=str(tiny_model_dir))), tokenizer)
    with torch.no_grad():
        live, _ = policy_forward(trainer.model, exp, 1.0)
        loaded, _ = policy_forward(load_policy(ModelConfig(path=str(ckpt), lora=LORA)).eval(), exp, 1.0)
        merged_dir = export_model(str(ckpt), tmp_path / "merged", merge=True)
        merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()  # plain transformers, no peft
        plain, _ = policy_forward(merged, exp, 1.0)
        base, _ = policy_forward(load_model(ModelConfig(path=str(tiny_model_dir))), exp, 1.0)
    mask = exp.response_mask_bt.bool()
    assert torch.equal(live[mask], loaded[mask])  # the saved adapters are the trained ones, bit for bit
    torch.testing.assert_close(plain[mask], live[mask], rtol=0, atol=1e-5)
    assert (plain[mask] - base[mask]).abs().max() > 1e-3  # the merge did fold a trained update in
    assert not is_adapter_dir(merged_dir) and (merged_dir / "tokenizer_config.json").is_file()


def test_eval_cli_runs_on_a_lora_checkpoint(tmp_path, tiny_model_dir):
    from srpo.cli import main

    write_data(tmp_path)
    Trainer(_lora_config(tmp_path, tiny_model_dir, "run.total_steps=1"), scorer=DigitScorer()).train()
    ckpt = tmp_path / "run" / "checkpoints" / "step_000001"
    status = main(["eval", str(tmp_path / "held.jsonl"), "--model", str(ckpt), "--out", str(tmp_path / "ev"),
                   "--set", "eval.samples=2", "--no-progress"])
    assert status == 0
    result = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert result["settings"]["model"] == str(ckpt)


def test_lora_resume_gives_bit_identical_adapters(tmp_path, tiny_model_dir):
    """4 steps straight == 2 steps, stop, resume, 2 more: same metrics and bit-identical adapters (dropout on,
    so the resumed RNG matters too)."""
    write_data(tmp_path, n_train=6)
    extra = ("model.lora.dropout=0.1",)
    Trainer(_lora_config(tmp_path, tiny_model_dir, *extra, f"run.output_dir={tmp_path / 'a'}"),
            scorer=DigitScorer()).train()
    for stop in ("run.stop_at_step=2", "run.stop_at_step=null"):
        Trainer(_lora_config(tmp_path, tiny_model_dir, *extra, f"run.output_dir={tmp_path / 'b'}", stop),
                scorer=DigitScorer()).train()
    rows = [[{k: v for k, v in r.items() if not k.startswith("timing/")} for r in read_jsonl(tmp_path / d /
            "metrics.jsonl")] for d in ("a", "b")]
    assert rows[0] == rows[1] and rows[0][-1]["step"] == 4
    final = [load_file(tmp_path / d / "checkpoints" / "step_000004" / "adapter_model.safetensors") for d in "ab"]
    assert final[0].keys() == final[1].keys()
    for name, value in final[0].items():
        assert torch.equal(value, final[1][name]), name


def test_the_verl_recipe_refuses_lora_naming_the_field():
    from srpo.engines.verl.setup import check_config

    cfg = load_config("grpo", ["engine=verl", "model.device=cuda", "model.path=/tmp", "model.lora.enabled=true"])
    with pytest.raises(ConfigError, match=r"^model\.lora\.enabled: the verl recipe does not map LoRA"):
        check_config(cfg)


def test_continuing_adapters_under_other_settings_is_refused(tmp_path, tiny_model_dir):
    base = load_model(ModelConfig(path=str(tiny_model_dir)))
    wrap(base, LORA, base=str(tiny_model_dir)).save_pretrained(tmp_path / "adapters")
    assert parameter_counts(load_policy(ModelConfig(path=str(tmp_path / "adapters"), lora=LORA)))["trainable"] > 0
    other = LoraConfig(enabled=True, r=8, alpha=8.0)
    with pytest.raises(ConfigError, match=r"^model\.lora\.r: 8, but the adapters in .* were made with 4"):
        load_policy(ModelConfig(path=str(tmp_path / "adapters"), lora=other))


def test_gradient_checkpointing_with_lora_still_trains_the_adapters(tmp_path, tiny_model_dir, tiny_policy):
    """Frozen embeddings give checkpointed blocks inputs without grad (reentrant checkpointing, transformers 4.x,
    would then train nothing); load_model_and_tokenizer asks for input grads."""
    from srpo.engines.hf_model import load_model_and_tokenizer

    cfg = ModelConfig(path=str(tiny_model_dir), lora=LORA, gradient_checkpointing=True)
    model, tokenizer = load_model_and_tokenizer(cfg)
    _perturbed(model)
    exp = make_experience(model.eval(), tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    _actor(model).update(exp)
    assert all(not torch.equal(p, before[n]) for n, p in model.named_parameters() if p.requires_grad)


@pytest.mark.slow
def test_toy_model_lora_run_then_eval_and_merged_export_from_the_cli(tmp_path):
    """The embedded toy model, real verifiers, 2 steps with LoRA and KL; `srpo eval` on the checkpoint, then
    `srpo export --merge` gives a directory that plain transformers loads and samples from."""
    from srpo.cli import main

    run_dir = tmp_path / "run"
    cfg = load_config("demo", [
        f"run.output_dir={run_dir}", "run.total_steps=2", "run.save_every=2", "run.eval_every=0",
        "run.progress=false", "rollout.prompts_per_step=2", "rollout.group_size=4", "rollout.max_new_tokens=32",
        'data.train=["toy:math?n=8&levels=2&seed=5"]', 'data.heldout=["toy:math?n=2&levels=2&split=heldout"]',
        "eval.samples=1", "curriculum.preset=math_only", "model.lora.enabled=true", "model.lora.r=4",
        "algorithm.kl_coef=0.05"])
    last = Trainer(cfg).train()
    assert last["actor/kl_ref"] >= 0 and "eval/all/pass@1" in last
    ckpt = run_dir / "checkpoints" / "step_000002"
    assert json.loads((ckpt / "adapter_config.json").read_text())["base_model_name_or_path"] == "toy"
    assert main(["eval", "--model", str(run_dir), "--out", str(tmp_path / "ev"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "ev" / "eval.json").read_text())["settings"]["model"] == str(ckpt)
    assert main(["export", str(ckpt), "--out", str(tmp_path / "merged"), "--merge"]) == 0
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    assert merged.config.model_type == "llama" and not any("lora" in n for n, _ in merged.named_parameters())
    assert main(["export", str(ckpt), "--out", str(tmp_path / "adapters")]) == 0
    assert is_adapter_dir(tmp_path / "adapters") and not (tmp_path / "adapters" / "trainer_state.pt").exists()


def test_bfloat16_base_keeps_float32_adapters_and_trains(tiny_model_dir, tiny_policy):
    """The 7B-on-one-GPU setting: model.dtype=bfloat16 base, adapters (and so AdamW's state) in float32."""
    model = load_policy(ModelConfig(path=str(tiny_model_dir), dtype="bfloat16", lora=LORA))
    _, tokenizer = tiny_policy
    dtypes = {p.dtype for p in model.parameters() if p.requires_grad}
    assert dtypes == {torch.float32} and {p.dtype for p in model.parameters() if not p.requires_grad} == \
        {torch.bfloat16}
    _perturbed(model)
    exp = make_experience(model.eval(), tokenizer)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    stats = _actor(model, kl_coef=0.1).update(exp)
    assert torch.isfinite(torch.tensor(stats["train/loss"]))
    assert all(not torch.equal(p, before[n]) for n, p in model.named_parameters() if p.requires_grad)


@pytest.mark.parametrize("engine", ["kv_cache", "hf"])
def test_rollouts_sample_from_the_adapted_model(tiny_policy, engine):
    """Behaviour log-probs recorded while sampling equal the adapted model's forward pass (to 2e-5, as the
    rollout tests of plain models), and not the base's: the adapters are on during generation."""
    from srpo.core.generation import SamplingParams
    from srpo.engines.native.rollout import ROLLOUT_ENGINES
    from srpo.rewards import RewardResult

    base, tokenizer = tiny_policy
    plain = copy.deepcopy(base)
    model = _perturbed(wrap(base, LORA, base="unused")).eval()
    prompts = [tokenizer(text)["input_ids"] for text in ("Q: 1+1=?", "Q: 23*4=?")]
    batch = ROLLOUT_ENGINES.get(engine)(model, tokenizer, seed=0).generate(
        prompts, SamplingParams(n=3, temperature=1.0, max_new_tokens=10))
    problems = [Problem.create("math", "unused", "0") for _ in prompts]
    exp = Experience.from_rollout(batch, problems, [RewardResult(0.0, False)] * len(batch.texts))
    mask = exp.response_mask_bt.bool()
    with torch.no_grad():
        adapted, _ = policy_forward(model, exp, 1.0)
        base_logp, _ = policy_forward(plain, exp, 1.0)
    torch.testing.assert_close(exp.old_logprobs_bt[mask], adapted[mask], atol=2e-5, rtol=1e-4)
    assert (exp.old_logprobs_bt[mask] - base_logp[mask]).abs().max() > 1e-3


@pytest.mark.slow  # a training subprocess
def test_without_lora_peft_is_never_imported():
    import subprocess
    import sys

    code = ("import sys; import srpo.cli, srpo.engines.native.trainer; from srpo.config import load_config; "
            "from srpo.engines.hf_model import load_model_and_tokenizer; "
            "load_model_and_tokenizer(load_config('demo').model); srpo.cli.build_parser(); "
            "sys.exit(1 if 'peft' in sys.modules else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

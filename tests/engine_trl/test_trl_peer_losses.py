"""srpo's policy losses against TRL's own `GRPOTrainer._compute_loss`, float64, same random inputs, with the
GRPOConfig values srpo's trl engine writes (`srpo.engines.trl.setup`). TRL's loss formulas exist only inside
that method, so it runs on a minimal stand-in trainer whose log-prob pass returns the given tensor; everything
else in the method (ratios, clipping, the vLLM importance-sampling product, aggregation) is TRL's code."""

from __future__ import annotations

import types
from collections import defaultdict

import pytest
import torch

trl = pytest.importorskip("trl")

from srpo.algo import LOSS_AGGREGATIONS, POLICY_LOSSES, importance_weights  # noqa: E402
from srpo.config import load_config  # noqa: E402
from srpo.engines.trl import setup as trl_setup  # noqa: E402


def _inputs(seed, B=6, T=9, spread=1.0):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    logp = old + (torch.rand(B, T, generator=g, dtype=torch.float64) - 0.5) * spread
    adv = torch.randn(B, generator=g, dtype=torch.float64)
    mask = torch.rand(B, T, generator=g) > 0.25
    mask[:, 0] = True  # TRL's grpo mean runs over all rows, srpo's over rows with a token: no empty rows here
    behaviour = old + 0.3 * torch.randn(B, T, generator=g, dtype=torch.float64)
    return logp, old, adv, mask, behaviour


def _stand_in(args: dict, logp: torch.Tensor, T: int):
    """The attributes `_compute_loss` reads, set as GRPOTrainer.__init__ sets them from `args`."""
    accelerator = types.SimpleNamespace(num_processes=1, gather=lambda x: x, reduce=lambda x, reduction: x,
                                        gather_for_metrics=lambda x: x)
    return types.SimpleNamespace(
        args=types.SimpleNamespace(**args), loss_type=args["loss_type"], beta=args["beta"],
        epsilon_low=args["epsilon"], epsilon_high=args["epsilon_high"],
        importance_sampling_level=args["importance_sampling_level"], top_entropy_quantile=1.0,
        off_policy_mask_threshold=None, use_vllm=args["use_vllm"],
        vllm_importance_sampling_correction=args["vllm_importance_sampling_correction"],
        model=types.SimpleNamespace(training=True), current_gradient_accumulation_steps=1,
        accelerator=accelerator, max_completion_length=T, aux_loss_enabled=False, _entropy_bonus_enabled=False,
        _metrics={"train": defaultdict(list)},
        _get_per_token_logps_and_entropies=lambda *a, **k: (logp, torch.zeros_like(logp), None))


def _grpo_args(*overrides):
    cfg = load_config("srpo", ["engine=trl", *overrides])
    args = trl_setup.grpo_args(cfg, trl_setup.check_config(cfg))
    # one accumulation window of one generation step: TRL's dapo/cispo normaliser is then the token count
    return {**args, "steps_per_generation": 1, "delta": None}, cfg


def _trl_loss(args, logp, old, adv, mask, weights=None):
    logp = logp.clone().requires_grad_(True)
    B, T = logp.shape
    inputs = {"prompt_ids": torch.zeros(B, 1, dtype=torch.long), "prompt_mask": torch.ones(B, 1, dtype=torch.long),
              "completion_ids": torch.zeros(B, T, dtype=torch.long), "completion_mask": mask.to(torch.float64),
              "advantages": adv, "old_per_token_logps": old, "num_items_in_batch": mask.sum().to(torch.float64)}
    if weights is not None:
        inputs["importance_sampling_ratio"] = weights
    value = trl.GRPOTrainer._compute_loss(_stand_in(args, logp, T), None, inputs)
    (grad,) = torch.autograd.grad(value, logp)
    return value.detach(), grad


def _srpo_loss(cfg, logp, old, adv, mask, weights=None):
    algo = cfg.algorithm
    logp = logp.clone().requires_grad_(True)
    loss_bt, _ = POLICY_LOSSES.get(algo.policy_loss)(logp, old, adv, mask, **algo.policy_loss_options())
    if weights is not None:
        loss_bt = loss_bt * weights
    value = LOSS_AGGREGATIONS.get(algo.loss_agg)(loss_bt, mask, norm_len=logp.shape[1])
    (grad,) = torch.autograd.grad(value, logp)
    return value.detach(), grad


CASES = [
    [],  # ppo_clip, token_mean -> dapo
    ["algorithm.loss_agg=seq_mean_token_mean"],  # -> grpo
    ["algorithm.loss_agg=seq_mean_token_sum_norm", "algorithm.clip_high=0.2"],  # -> dr_grpo
    ["algorithm.policy_loss=gspo", "algorithm.loss_agg=seq_mean_token_mean", "algorithm.gspo_clip_low=0.03",
     "algorithm.gspo_clip_high=0.04"],  # -> importance_sampling_level=sequence
    ["algorithm.policy_loss=cispo"],
    ["algorithm.policy_loss=cispo", "algorithm.cispo_clip_high=0.5"],
    ["algorithm.policy_loss=sapo", "algorithm.loss_agg=seq_mean_token_mean"],
    ["algorithm.policy_loss=sapo", "algorithm.loss_agg=seq_mean_token_mean", "algorithm.sapo_tau_pos=2",
     "algorithm.sapo_tau_neg=0.5"],
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("overrides", CASES, ids=lambda o: ",".join(x.split(".")[-1] for x in o) or "default")
def test_loss_and_gradient_equal_trls(seed, overrides):
    args, cfg = _grpo_args(*overrides)
    spread = 0.06 if cfg.algorithm.policy_loss == "gspo" else 1.0
    logp, old, adv, mask, _ = _inputs(seed, spread=spread)
    t_loss, t_grad = _trl_loss(args, logp, old, adv, mask)
    s_loss, s_grad = _srpo_loss(cfg, logp, old, adv, mask)
    rtol = _float32_tau_rtol(cfg.algorithm)
    torch.testing.assert_close(s_loss, t_loss, rtol=rtol, atol=1e-14)
    torch.testing.assert_close(s_grad, t_grad, rtol=rtol, atol=1e-14)


def _float32_tau_rtol(algo) -> float:
    """TRL's sapo builds its temperatures with torch.where(A > 0, tau_pos, tau_neg) from Python floats, which
    gives a float32 tensor: a tau that float32 cannot hold (1.05 -> 1.0499999523) differs by ~5e-8 relative
    (docs/algo.md). Taus float32 holds exactly (1, 2, 0.5) agree to float64 rounding."""
    exact = all(torch.tensor(t, dtype=torch.float32).item() == t for t in (algo.sapo_tau_pos, algo.sapo_tau_neg))
    return 1e-12 if algo.policy_loss != "sapo" or exact else 1e-6


@pytest.mark.parametrize("level", ["token", "sequence"])
@pytest.mark.parametrize("overrides", [CASES[0], CASES[4], CASES[6]], ids=["ppo_clip", "cispo", "sapo"])
def test_vllm_importance_weights_enter_the_loss_as_in_trl(level, overrides):
    """With trl.use_vllm TRL multiplies its per-token loss by importance_sampling_ratio; srpo's actor does the same
    with `importance_weights` (at sequence level TRL's ratio is [B, 1]: the same weight on every token)."""
    args, cfg = _grpo_args("trl.use_vllm=true", f"algorithm.rollout_correction.level={level}", *overrides)
    assert args["vllm_importance_sampling_correction"] and args["vllm_importance_sampling_mode"] == f"{level}_mask"
    logp, old, adv, mask, behaviour = _inputs(3)
    w = importance_weights(old, behaviour, mask, **cfg.algorithm.rollout_correction.options())
    t_loss, t_grad = _trl_loss(args, logp, old, adv, mask, weights=w if level == "token" else w[:, :1])
    s_loss, s_grad = _srpo_loss(cfg, logp, old, adv, mask, weights=w)
    rtol = _float32_tau_rtol(cfg.algorithm)
    torch.testing.assert_close(s_loss, t_loss, rtol=rtol, atol=1e-14)
    torch.testing.assert_close(s_grad, t_grad, rtol=rtol, atol=1e-14)


def test_the_correction_maps_onto_trls_fields():
    args, _ = _grpo_args("trl.use_vllm=true", "algorithm.rollout_correction.level=token",
                         "algorithm.rollout_correction.mode=truncate", "algorithm.rollout_correction.low=0.5",
                         "algorithm.rollout_correction.high=2.0")
    assert {k: args[k] for k in args if k.startswith("vllm_importance")} == {
        "vllm_importance_sampling_correction": True, "vllm_importance_sampling_mode": "token_truncate",
        "vllm_importance_sampling_clip_min": 0.5, "vllm_importance_sampling_clip_max": 2.0}
    off, _ = _grpo_args()
    assert off["vllm_importance_sampling_correction"] is False  # auto without vLLM: nothing to correct
    cfg = load_config("srpo", ["engine=trl", "trl.use_vllm=true", "algorithm.rollout_correction.low=0.5"])
    trl.GRPOConfig(**trl_setup.grpo_args(cfg, trl_setup.check_config(cfg)))  # TRL's own checks accept them

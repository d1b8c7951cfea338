"""Pure RL math for srpo: tensors in, tensors out; imports only torch.

Variants are picked by name from registries with one signature per kind:
  ADVANTAGE_ESTIMATORS  grpo, dr_grpo, rloo          (rewards_b, group_ids_b, *, eps, std_unbiased) -> [B]
  POLICY_LOSSES         ppo_clip, gspo, cispo, sapo  (logp_bt, old_logp_bt, adv_b, mask_bt, **opts) -> (loss_bt, stats)
  LOSS_AGGREGATIONS     token_mean, seq_mean_token_mean, seq_mean_token_sum, seq_mean_token_sum_norm
                                                     (loss_bt, mask_bt, *, num_tokens, num_seqs, norm_len) -> scalar
  KL_ESTIMATORS         k1, k2, k3                   (logp_bt, ref_logp_bt, *, clamp) -> [B, T]
Log-probs/entropies: logprobs_from_logits, entropy_from_logits ([B, T, V] logits, block-wise float32) and
logprobs_entropy_from_hidden (hidden [B, T, H] + LM head weight: the head fused in, no [B, T, V] tensor).
Mismatch correction (rollout_correction.py): importance_weights (TIS / IcePop / MIS, token or sequence level),
rejection_keep with REJECTION_STATISTICS (max_abs, mean_abs, mean, sum: (delta_bt, mask_bt) -> [B]) and
mismatch_stats (KL(mu || pi_old) k1/k3, weight and masking shares) between pi_old and the behaviour log-probs.
Reward shaping: soft_overlong_penalty (DAPO's soft overlong punishment), [B] lengths -> [B] penalties.
Numeric choices (std, epsilon, clamps) are documented per module and compared with TRL/verl in docs/algo.md.
"""

from srpo.algo.advantages import (
    ADVANTAGE_ESTIMATORS,
    dr_grpo_advantages,
    group_stats,
    grpo_advantages,
    rloo_advantages,
)
from srpo.algo.aggregation import (
    LOSS_AGGREGATIONS,
    aggregation_totals,
    seq_mean_token_mean,
    seq_mean_token_sum,
    seq_mean_token_sum_norm,
    token_mean,
)
from srpo.algo.fused_head import logprobs_entropy_from_hidden
from srpo.algo.kl import KL_ESTIMATORS, kl_k1, kl_k2, kl_k3
from srpo.algo.logprobs import entropy_from_logits, logprobs_from_logits
from srpo.algo.masked import masked_count, masked_mean, masked_sum
from srpo.algo.overlong import soft_overlong_penalty
from srpo.algo.policy_loss import POLICY_LOSSES, cispo_loss, gspo_loss, ppo_clip_loss, sapo_loss
from srpo.algo.rollout_correction import (REJECTION_STATISTICS, importance_weights, mismatch_stats, rejection_keep,
                                         rollout_log_ratio)
from srpo.core.registry import Registry, UnknownNameError

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "KL_ESTIMATORS",
    "LOSS_AGGREGATIONS",
    "POLICY_LOSSES",
    "REJECTION_STATISTICS",
    "Registry",
    "UnknownNameError",
    "aggregation_totals",
    "dr_grpo_advantages",
    "entropy_from_logits",
    "group_stats",
    "grpo_advantages",
    "importance_weights",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "logprobs_entropy_from_hidden",
    "logprobs_from_logits",
    "masked_count",
    "masked_mean",
    "masked_sum",
    "mismatch_stats",
    "rejection_keep",
    "rollout_log_ratio",
    "cispo_loss",
    "gspo_loss",
    "ppo_clip_loss",
    "sapo_loss",
    "rloo_advantages",
    "seq_mean_token_mean",
    "seq_mean_token_sum",
    "seq_mean_token_sum_norm",
    "soft_overlong_penalty",
    "token_mean",
]

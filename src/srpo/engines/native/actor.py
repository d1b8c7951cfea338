"""The policy update: forward pass, clipped surrogate + optional KL/entropy terms, exact gradient accumulation.

One call to `Actor.update` consumes a step's `Experience` (with advantages): ``ppo_epochs`` passes over
it, split into mini-batches (one optimizer step each) and micro-batches (one forward/backward each).
Each micro-batch loss is aggregated with the totals of its whole mini-batch, so accumulated gradients
equal those of the unsplit mini-batch for every aggregation mode. Only `Experience.loss_mask_bt` enters
the loss and the totals, so a row left out of the loss (a truncated response under truncation=mask)
weighs exactly as if it were not in the batch.
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict

import torch

from srpo.algo import (KL_ESTIMATORS, LOSS_AGGREGATIONS, POLICY_LOSSES, aggregation_totals,
                       entropy_from_logits, logprobs_from_logits, masked_mean)
from srpo.config.algorithm import AlgorithmConfig, OptimConfig
from srpo.engines.native.experience import Experience


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


def policy_forward(model, exp: Experience, temperature: float, autocast: bool = False,
                   with_entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs [B, T] of the response tokens under `model` (and their entropies when asked).

    Prompts are left-padded and responses right-padded, so position ids come from the attention mask;
    only the last T+1 positions go through the LM head (the prompt's logits are never needed).
    """
    ids = torch.cat([exp.prompt_ids_bp, exp.response_ids_bt], 1)
    mask = torch.cat([exp.prompt_mask_bp, exp.response_mask_bt], 1)
    device = next(model.parameters()).device
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    width = exp.response_ids_bt.shape[1]
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with ctx:
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                       logits_to_keep=width + 1).logits[:, :-1]
    labels = exp.response_ids_bt.to(device)
    logprobs = logprobs_from_logits(logits, labels, temperature)
    entropy = entropy_from_logits(logits if with_entropy else logits.detach(), temperature)
    return logprobs, entropy


def lr_lambda(cfg: OptimConfig, total_steps: int):
    """Multiplier of the peak lr at optimizer step s: linear warm-up, then constant or cosine decay."""

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class _TokenWeightedStats:
    """Averages micro-batch token means into mini-batch means, weighting each by its token count."""

    def __init__(self):
        self.sums: dict[str, float] = defaultdict(float)
        self.weights: dict[str, float] = defaultdict(float)

    def add(self, stats: dict[str, torch.Tensor], weight: float) -> None:
        for key, value in stats.items():
            self.sums[key] += float(value) * weight
            self.weights[key] += weight

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.weights[k] for k in self.sums if self.weights[k] > 0}


class Actor:
    """Owns the policy's optimizer and scheduler and turns experience into parameter updates."""

    def __init__(self, model, algo: AlgorithmConfig, optim: OptimConfig, *, temperature: float,
                 norm_len: int, total_optimizer_steps: int, autocast: bool = False, ref_model=None):
        self.model, self.algo, self.optim_cfg = model, algo, optim
        self.temperature, self.norm_len, self.autocast = temperature, norm_len, autocast
        self.ref_model = ref_model
        # Only what trains: with LoRA the frozen base weights get no optimizer slots.
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps,
                                           weight_decay=optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer,
                                                           lr_lambda(optim, total_optimizer_steps))
        self.policy_loss = POLICY_LOSSES.get(algo.policy_loss)
        self.aggregate = LOSS_AGGREGATIONS.get(algo.loss_agg)
        self.kl_estimator = KL_ESTIMATORS.get(algo.kl_estimator)

    def update(self, exp: Experience) -> dict[str, float]:
        """Run the configured epochs of mini-batch updates; returns token-weighted mean statistics."""
        self._prepare(exp)
        stats = _TokenWeightedStats()
        mini = self.algo.mini_batch_size or len(exp)
        self.model.train()
        for _ in range(self.algo.ppo_epochs):
            for rows in _chunks(len(exp), mini):
                self._optimizer_step(exp.select(rows), stats)
        self.model.eval()
        return {f"actor/{k}" if k not in ("loss", "grad_norm", "lr") else f"train/{k}": v
                for k, v in stats.means().items()}

    @torch.no_grad()
    def _prepare(self, exp: Experience) -> None:
        """Fill pi_old (when recomputed) and the reference log-probs (when the KL term is on)."""
        if self.algo.old_logprobs == "recompute":
            exp.old_logprobs_bt = self._no_grad_logprobs(self.model, exp)
        if self.algo.kl_coef > 0:
            exp.ref_logprobs_bt = self._reference_logprobs(exp)

    def _reference_logprobs(self, exp: Experience) -> torch.Tensor:
        """Log-probs under the KL reference: `ref_model`, or without one (LoRA) the policy with its adapters
        disabled, i.e. exactly the frozen base model, with no second copy in memory."""
        if self.ref_model is not None:
            return self._no_grad_logprobs(self.ref_model, exp)
        with self.model.disable_adapter():
            return self._no_grad_logprobs(self.model, exp)

    def _no_grad_logprobs(self, model, exp: Experience) -> torch.Tensor:
        parts = []
        for rows in _chunks(len(exp), self.algo.micro_batch_size):
            logp, _ = policy_forward(model, exp.select(rows), self.temperature, self.autocast)
            parts.append(logp.cpu())
        return torch.cat(parts) * exp.response_mask_bt

    def _optimizer_step(self, mini: Experience, stats: _TokenWeightedStats) -> None:
        totals = aggregation_totals(mini.loss_mask_bt)
        loss_total = 0.0
        for rows in _chunks(len(mini), self.algo.micro_batch_size):
            micro = mini.select(rows).trimmed()
            loss, micro_stats = self._micro_loss(micro, totals)
            loss.backward()
            loss_total += float(loss.detach())
            stats.add(micro_stats, float(micro.loss_mask_bt.sum()))
        grad_norm = self._clip_gradients()
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        stats.add({"loss": torch.tensor(loss_total), "grad_norm": grad_norm,
                   "lr": torch.tensor(self.scheduler.get_last_lr()[0])}, 1.0)

    def _micro_loss(self, mb: Experience, totals: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        algo = self.algo
        device = next(self.model.parameters()).device
        logp, entropy = policy_forward(self.model, mb, self.temperature, self.autocast,
                                       with_entropy=algo.entropy_coef > 0)
        mask = mb.loss_mask_bt.to(device)
        loss_bt, stats = self.policy_loss(logp, mb.old_logprobs_bt.to(device), mb.advantages_b.to(device),
                                          mask, clip_low=algo.clip_low, clip_high=algo.clip_high,
                                          dual_clip=algo.dual_clip, log_ratio_clamp=algo.log_ratio_clamp)
        stats["entropy"] = masked_mean(entropy.detach(), mask)
        if algo.kl_coef > 0:
            kl_bt = self.kl_estimator(logp, mb.ref_logprobs_bt.to(device))
            loss_bt = loss_bt + algo.kl_coef * kl_bt
            stats["kl_ref"] = masked_mean(kl_bt.detach(), mask)
        if algo.entropy_coef > 0:
            loss_bt = loss_bt - algo.entropy_coef * entropy
        loss = self.aggregate(loss_bt, mask, num_tokens=totals["num_tokens"], num_seqs=totals["num_seqs"],
                              norm_len=self.norm_len)
        return loss, stats

    def _clip_gradients(self) -> torch.Tensor:
        params = [p for p in self.model.parameters() if p.grad is not None]
        max_norm = self.optim_cfg.max_grad_norm if self.optim_cfg.max_grad_norm > 0 else float("inf")
        return torch.nn.utils.clip_grad_norm_(params, max_norm)

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])

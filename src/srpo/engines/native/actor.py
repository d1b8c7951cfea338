"""The policy update: forward pass, clipped surrogate + optional KL/entropy terms, exact gradient accumulation.

One call to `Actor.update` consumes a step's `Experience` (with advantages): ``ppo_epochs`` passes over
it, split into mini-batches (one optimizer step each) and micro-batches (one forward/backward each).
Each micro-batch loss is aggregated with the totals of its whole mini-batch, so accumulated gradients
equal those of the unsplit mini-batch for every aggregation mode. Only `Experience.loss_mask_bt` enters
the loss and the totals, so a row left out of the loss (a truncated response under truncation=mask)
weighs exactly as if it were not in the batch.

When pi_old is recomputed, `_rollout_correction` compares it with the rollout's behaviour log-probs once per
step: the importance weights multiply each token's policy loss, rejected rows leave the loss mask (and so
the totals), and the mismatch metrics come back as ``rollout_correction/*`` in the update's stats.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict

import torch

from srpo.algo import (KL_ESTIMATORS, LOSS_AGGREGATIONS, POLICY_LOSSES, aggregation_totals, entropy_from_logits,
                       importance_weights, logprobs_entropy_from_hidden, logprobs_from_logits, masked_mean,
                       mismatch_stats, rejection_keep)
from srpo.config.algorithm import AlgorithmConfig, OptimConfig
from srpo.engines.hf_model import cache_kwarg
from srpo.engines.native.experience import Experience, micro_batches
from srpo.engines.native.head import FusedHead, fused_head
from srpo.engines.native.rollout.base import distinct_rows, positions_from_mask


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(i, min(i + size, n))) for i in range(0, n, size)]


# Response passes of a micro-batch are split by length only when a split saves at least this share of
# the padded response tokens: each pass costs its own kernel launches and Python calls.
SPLIT_SAVING = 1 / 16
SPLIT_DEPTH = 2  # at most 2**SPLIT_DEPTH response passes per micro-batch

# One piece of the [B, T] result: outputs [b, t, X] (logits, X = V; or with a fused head the hidden states
# that enter the head, X = H), the rows (index or slice) and the columns they predict.
Part = tuple[torch.Tensor, "torch.Tensor | slice", slice]


def policy_forward(model, exp: Experience, temperature: float, autocast: bool = False,
                   with_entropy: bool = False, share_prompts: bool = True,
                   fuse_head: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs [B, T] of the response tokens under `model`, and their entropies [B, T].

    The entropy is differentiable only `with_entropy` (otherwise it is a statistic). With `share_prompts`,
    each distinct prompt runs once and every response to it continues from its keys and values (see
    `_shared_prompt_parts`); the result equals the one-row-per-response forward up to float rounding at
    every response token (positions past a response's end may hold 0 instead: mask them, as the loss does).
    With `fuse_head`, where `srpo.engines.native.head` finds it exact, the decoder's hidden states go through
    the LM head block by block inside `logprobs_entropy_from_hidden`, so no [B, T, V] logits (nor their
    gradient) exist; otherwise the model's logits go to `logprobs_from_logits` / `entropy_from_logits`.
    """
    device = next(model.parameters()).device
    head = fused_head(model) if fuse_head else None
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    labels = exp.response_ids_bt.to(device)
    with ctx:
        parts = _shared_prompt_parts(model, head, exp, device) if share_prompts else None
        if parts is None:
            parts = _full_parts(model, head, exp, device)
        if head is not None:  # the head's matmul runs under autocast, as the nn.Linear it stands for would
            scored = [logprobs_entropy_from_hidden(x, head.lm_head.weight, labels[rows, cols], temperature,
                                                   head.lm_head.bias) for x, rows, cols in parts]
    if head is None:
        scored = [(logprobs_from_logits(x, labels[rows, cols], temperature),
                   entropy_from_logits(x if with_entropy else x.detach(), temperature)) for x, rows, cols in parts]
    logprobs = entropy = None
    for (logp, ent), (_, rows, cols) in zip(scored, parts):
        if logprobs is None:
            logprobs, entropy = logp.new_zeros(labels.shape), ent.new_zeros(labels.shape)
        logprobs[rows, cols] = logp
        entropy[rows, cols] = ent if with_entropy else ent.detach()
    return logprobs, entropy


def _run(model, head: FusedHead | None, keep: int | None = None, cache=None, **inputs) -> tuple[torch.Tensor, object]:
    """One forward: (outputs [B, S or keep, X] of the last `keep` positions (all when None), the cache or
    None without use_cache).

    Without a fused head, `model`'s logits (only the kept positions go through its LM head); with one, the
    decoder's last hidden states, which are the head's input."""
    if head is None:
        out = model(**inputs, **({} if keep is None else {"logits_to_keep": keep}),
                    **({} if cache is None else {cache_kwarg(model): cache}))
        x = out.logits
    else:
        out = head.decoder(**inputs, **({} if cache is None else {head.cache_kwarg: cache}))
        x = out.last_hidden_state if keep is None else out.last_hidden_state[:, -keep:]
    if not inputs.get("use_cache"):
        return x, None
    return x, (out["cache"] if "cache" in out else out.get("past_key_values"))


def _full_parts(model, head: FusedHead | None, exp: Experience, device) -> list[Part]:
    """[(outputs [B, T, X] predicting every response token, all rows, all columns)] from one pass.

    Prompts are left-padded and responses right-padded, so position ids come from the attention mask;
    only the last T+1 positions are kept (the prompt's logits are never needed).
    """
    ids = torch.cat([exp.prompt_ids_bp, exp.response_ids_bt], 1).to(device)
    mask = torch.cat([exp.prompt_mask_bp, exp.response_mask_bt], 1).to(device)
    width = exp.response_ids_bt.shape[1]
    x, _ = _run(model, head, keep=width + 1, input_ids=ids, attention_mask=mask,
                position_ids=positions_from_mask(mask), use_cache=False)
    return [(x[:, :-1], slice(None), slice(0, width))]


def _shared_prompt_parts(model, head: FusedHead | None, exp: Experience, device) -> list[Part] | None:
    """The outputs of `_full_parts`, each distinct prompt computed once (None: not applicable).

    GRPO's G responses to a prompt share it, so the forward runs the U distinct prompts (keeping their
    keys/values), gathers each row's prompt cache (indexing, differentiable: the prompt's gradient is the
    sum over its responses, as in the full pass), then runs the responses on top, in one or a few passes of
    rows of similar length (`length_buckets`), each trimmed to its longest response. Response token 0 is
    predicted by the prompt's last position, token t >= 1 by response position t-1. Prompt tokens processed
    drop from B x P to U x P. Not applicable (None) when no prompt repeats, while activation checkpointing
    drops the cache in a grad-enabled training forward, or when the model's cache is not a plain
    per-layer key/value cache (e.g. linear-attention layers).
    """
    if _drops_cache(model):
        return None
    first, inverse = distinct_rows(exp.prompt_ids_bp, exp.prompt_mask_bp)
    if len(first) == len(exp):
        return None
    p_ids, p_mask = exp.prompt_ids_bp[first].to(device), exp.prompt_mask_bp[first].to(device)
    last, cache = _run(model, head, keep=1, input_ids=p_ids, attention_mask=p_mask,
                       position_ids=positions_from_mask(p_mask), use_cache=True)
    if not _plain_kv_cache(cache):
        return None
    parts: list[Part] = [(last[inverse.to(device)], slice(None), slice(0, 1))]
    prompt_kv = [(layer.keys, layer.values) for layer in cache.layers]
    lengths = exp.response_lengths_b.tolist()
    for rows in length_buckets(lengths):
        width = max(lengths[rows[0]], 1)
        if width == 1:
            continue
        for layer, (k, v) in zip(cache.layers, prompt_kv):  # back to the prompts' own keys/values
            layer.keys, layer.values = k, v
        rows_t = torch.tensor(rows)
        cache.batch_select_indices(inverse[rows_t].to(device))
        mask = torch.cat([p_mask[inverse[rows_t].to(device)], exp.response_mask_bt[rows_t, :width].to(device)], 1)
        mask = mask[:, :-1]
        x, _ = _run(model, head, cache=cache, input_ids=exp.response_ids_bt[rows_t, :width - 1].to(device),
                    attention_mask=mask, position_ids=positions_from_mask(mask)[:, p_mask.shape[1]:], use_cache=True)
        parts.append((x, rows_t.to(device), slice(1, width)))
    return parts


def length_buckets(lengths: list[int], depth: int | None = None) -> list[list[int]]:
    """Row indices sorted longest first and cut where that saves padded tokens, each cut halving a bucket.

    A bucket of n rows costs n x (its longest length). The cut minimising the two halves' cost is kept
    when it saves at least `SPLIT_SAVING` of the whole batch's cost; then each half is cut likewise,
    `depth` (default `SPLIT_DEPTH`) levels deep. Example: lengths [2, 9, 9, 1] -> [[1, 2], [0, 3]]: cost 4 x 9 = 36 -> 2 x 9 +
    2 x 2 = 22; cutting [0, 3] further would save 1 token, under 36 / 16.
    """
    depth = SPLIT_DEPTH if depth is None else depth
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    whole = len(order) * lengths[order[0]] if order else 0
    return _cut(order, lengths, depth, SPLIT_SAVING * whole)


def _cut(rows: list[int], lengths: list[int], depth: int, min_saving: float) -> list[list[int]]:
    if depth == 0 or len(rows) < 2:
        return [rows]
    longest = lengths[rows[0]]
    cost, at = min((at * longest + (len(rows) - at) * lengths[rows[at]], at) for at in range(1, len(rows)))
    if len(rows) * longest - cost < max(min_saving, 1):
        return [rows]
    return _cut(rows[:at], lengths, depth - 1, min_saving) + _cut(rows[at:], lengths, depth - 1, min_saving)


def _drops_cache(model) -> bool:
    """transformers' checkpointed layers replace the cache with None in a grad-enabled training forward."""
    if not (model.training and torch.is_grad_enabled()):
        return False
    return any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())


def _plain_kv_cache(cache) -> bool:
    """A DynamicCache of full-attention key/value layers: the only kind whose rows can be regathered."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    layers = getattr(cache, "layers", None)
    return isinstance(cache, DynamicCache) and bool(layers) and all(type(x) is DynamicLayer for x in layers)


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
        """Run the configured epochs of mini-batch updates; returns token-weighted mean statistics,
        ``rollout_correction/*`` when pi_old is recomputed, and ``timing/logprobs_s``, the seconds spent on the
        no-grad pi_old / reference log-prob passes."""
        start = time.perf_counter()
        correction = self._prepare(exp)
        prepare_s = time.perf_counter() - start
        stats = _TokenWeightedStats()
        mini = self.algo.mini_batch_size or len(exp)
        self.model.train()
        for _ in range(self.algo.ppo_epochs):
            for rows in _chunks(len(exp), mini):
                self._optimizer_step(exp.select(rows), stats)
        self.model.eval()
        out = {f"actor/{k}" if k not in ("loss", "grad_norm", "lr") else f"train/{k}": v
               for k, v in stats.means().items()}
        return {**out, **correction, "timing/logprobs_s": prepare_s}

    @torch.no_grad()
    def _prepare(self, exp: Experience) -> dict[str, float]:
        """Fill pi_old and the rollout correction (when pi_old is recomputed; returns its metrics) and the
        reference log-probs (when the KL term is on)."""
        stats: dict[str, float] = {}
        if self.algo.old_logprobs == "recompute":
            exp.old_logprobs_bt = self._no_grad_logprobs(self.model, exp)
            stats = self._rollout_correction(exp)
        if self.algo.kl_coef > 0:
            exp.ref_logprobs_bt = self._reference_logprobs(exp)
        return stats

    def _rollout_correction(self, exp: Experience) -> dict[str, float]:
        """Importance weights and rejected rows between the recomputed pi_old and the behaviour log-probs mu
        (when `algorithm.rollout_correction` is active), and the mismatch metrics over the loss's tokens."""
        rc = self.algo.rollout_correction
        old, behaviour, mask = exp.old_logprobs_bt, exp.behaviour_logprobs_bt, exp.loss_mask_bt
        if behaviour is None:
            raise ValueError("the experience has no behaviour log-probs (Experience.from_rollout records them)")
        if rc.active(recomputed=True):
            exp.correction_weights_bt = importance_weights(old, behaviour, mask, **rc.options())
            if rc.reject is not None:
                exp.correction_keep_b = rejection_keep(old, behaviour, mask, statistic=rc.reject,
                                                       threshold=rc.reject_threshold)
        stats = mismatch_stats(old, behaviour, mask, exp.correction_weights_bt, exp.correction_keep_b)
        return {f"rollout_correction/{k}": float(v) for k, v in stats.items()}

    def _reference_logprobs(self, exp: Experience) -> torch.Tensor:
        """Log-probs under the KL reference: `ref_model`, or without one (LoRA) the policy with its adapters
        disabled, i.e. exactly the frozen base model, with no second copy in memory."""
        if self.ref_model is not None:
            return self._no_grad_logprobs(self.ref_model, exp)
        with self.model.disable_adapter():
            return self._no_grad_logprobs(self.model, exp)

    def _micro_batches(self, exp: Experience) -> list[list[int]]:
        return micro_batches(exp, self.algo.micro_batch_size, self.algo.micro_batch_tokens)

    def _forward(self, model, micro: Experience, with_entropy: bool = False):
        return policy_forward(model, micro, self.temperature, self.autocast, with_entropy=with_entropy,
                              share_prompts=self.algo.share_prompts, fuse_head=self.algo.fused_head)

    def _no_grad_logprobs(self, model, exp: Experience) -> torch.Tensor:
        out = None
        for rows in self._micro_batches(exp):
            logp, _ = self._forward(model, exp.select(rows).trimmed())
            if out is None:
                out = torch.zeros(exp.response_ids_bt.shape, dtype=logp.dtype)
            out[rows, :logp.shape[1]] = logp.cpu()
        return out * exp.response_mask_bt

    def _optimizer_step(self, mini: Experience, stats: _TokenWeightedStats) -> None:
        totals = aggregation_totals(mini.loss_mask_bt)
        loss_total = 0.0
        for rows in self._micro_batches(mini):
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
        logp, entropy = self._forward(self.model, mb, with_entropy=algo.entropy_coef > 0)
        mask = mb.loss_mask_bt.to(device)
        loss_bt, stats = self.policy_loss(logp, mb.old_logprobs_bt.to(device), mb.advantages_b.to(device),
                                          mask, **algo.policy_loss_options())
        if mb.correction_weights_bt is not None:  # TIS / IcePop / MIS: the policy term only, not KL or entropy
            loss_bt = loss_bt * mb.correction_weights_bt.to(device, loss_bt.dtype)
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

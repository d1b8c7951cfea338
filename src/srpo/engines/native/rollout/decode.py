"""The `kv_cache` engine's decode loop: preallocated KV cache, row-keyed sampling, finished-row compaction.

Three choices make it fast and keep it exact:

- The KV cache is allocated at its final length (prompt width + max_new_tokens) before the first step and
  written in place, so no step concatenates tensors. In eager mode (`PreallocatedCache`) attention reads only the filled
  prefix; with ``compile`` (CUDA graphs) transformers' `StaticCache` keeps every shape fixed and masks the rest.
- Sampling draws one step's noise for every row of the original batch (`draw_noise`) and gives each live row
  its own row of it (`sample_tokens`), so a row's draw never depends on which other rows are still in the
  batch: dropping finished rows changes no sample, and the tokens are those of the earlier loop, which
  called ``torch.multinomial`` on the full batch (the same noise, the same arithmetic).
- Finished rows are dropped from the batch (cache included) once at least `COMPACT_FRACTION` of the live rows
  have finished, so the remaining steps cost in proportion to the rows still generating.
- Each distinct prompt is prefilled once (`prefill`): a GRPO batch repeats every prompt G times, so the prompt
  pass runs on P rows, not P*G, and its keys/values and last logits are copied to the G rows that share it.
  Sampling is unchanged (the noise is still drawn for every row), so a seed gives the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

from srpo.engines.hf_model import cache_kwarg
from srpo.engines.native.rollout.base import distinct_rows, positions_from_mask

# Drop finished rows once they are at least this fraction of the live batch: each drop costs about one step's
# worth of cache copying and saves at least this fraction of every later step.
COMPACT_FRACTION = 0.25


def top_p_filter(logits_bv: torch.Tensor, top_p: float) -> torch.Tensor:
    """Set to -inf every logit outside the smallest set whose probability mass reaches `top_p`.

    The most likely token is always kept. Shapes: [B, V] -> [B, V].
    """
    if top_p >= 1.0:
        return logits_bv
    sorted_logits, order = logits_bv.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    mass_before = probs.cumsum(-1) - probs
    sorted_logits = sorted_logits.masked_fill(mass_before >= top_p, float("-inf"))
    return torch.full_like(logits_bv, float("-inf")).scatter(-1, order, sorted_logits)


def draw_noise(rows: int, vocab: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """One step's Exp(1) noise for every row of the batch, [rows, vocab] float32."""
    return torch.empty(rows, vocab, device=device).exponential_(generator=generator)


def sample_tokens(logits_bv: torch.Tensor, noise_bv: torch.Tensor, temperature: float,
                  top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one token per row by the exponential race; return (token_b, logp_b).

    With z = logits / T: behaviour log-prob ``logp = log_softmax(z)`` (before truncation); sampling
    distribution ``q = softmax(top_p_filter(z))``; ``token = argmax_k q_k / E_k`` with E ~ Exp(1) given in
    `noise_bv`, so P(token = k) = q_k. This is the draw ``torch.multinomial(q, 1)`` makes from the same noise,
    so a seed gives the tokens of srpo's earlier multinomial loop.
    Shapes: logits, noise [B, V] -> token [B] (long), logp [B] (float32).
    """
    z_bv = logits_bv.float() / temperature
    q_bv = top_p_filter(z_bv, top_p).softmax(-1)
    token = (q_bv / noise_bv).argmax(-1)
    return token, z_bv.log_softmax(-1).gather(-1, token[:, None]).squeeze(-1)


class _PreallocatedLayer(CacheLayerMixin):
    """One layer's keys/values in a [B, H, max_len, D] buffer written in place; attention reads [:, :, :length]."""

    is_compileable = False
    is_sliding = False

    def __init__(self, max_len: int):
        super().__init__()
        self.max_len = max_len
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        batch, heads, _, _ = key_states.shape
        self.device = key_states.device
        self.keys = key_states.new_empty(batch, heads, self.max_len, key_states.shape[-1])
        self.values = value_states.new_empty(batch, heads, self.max_len, value_states.shape[-1])
        self.is_initialized = True

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.max_len:
            raise RuntimeError(f"KV cache full: {end} positions > {self.max_len} allocated")
        self.keys[:, :, self.length:end].copy_(key_states)
        self.values[:, :, self.length:end].copy_(value_states)
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.length + query_length, 0

    def get_seq_length(self) -> int:
        return self.length

    def get_max_length(self) -> int:
        return self.max_len

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep rows `indices`; copies only the filled positions into new, smaller buffers."""
        if not self.is_initialized:
            return
        for name in ("keys", "values"):
            old = getattr(self, name)
            new = old.new_empty(len(indices), *old.shape[1:])
            new[:, :, :self.length] = old[:, :, :self.length].index_select(0, indices)
            setattr(self, name, new)


class PreallocatedCache(Cache):
    """A KV cache of `num_layers` preallocated layers holding up to `max_len` positions (eager decoding)."""

    def __init__(self, num_layers: int, max_len: int):
        super().__init__(layers=[_PreallocatedLayer(max_len) for _ in range(num_layers)])


@dataclass
class DecodeOutput:
    """tokens_bt / logprobs_bt: [B, W] with W the longest response (pad / 0 after a row's EOS), whether or
    not the row was still in the batch."""

    tokens_bt: torch.Tensor
    logprobs_bt: torch.Tensor


@dataclass
class DecodeSpec:
    """What one decode call needs besides the model and prompts.

    eos: EOS ids (1-D tensor on the model's device). check_every: steps between host reads of "how many
    rows finished" (1 on CPU, where reading is free; more on GPU, where each read stalls the queue).
    compact: drop finished rows from the batch (eager cache only).
    """

    temperature: float
    top_p: float
    eos: torch.Tensor
    pad_id: int
    check_every: int = 1
    compact: bool = True


class _Live:
    """The rows still in the batch: their original row numbers, positions, masks, done flags and last tokens."""

    def __init__(self, mask_bl: torch.Tensor, pos_b: torch.Tensor):
        self.rows = torch.arange(len(mask_bl), device=mask_bl.device)
        self.mask_bl, self.pos_b = mask_bl, pos_b
        self.done = torch.zeros(len(mask_bl), dtype=torch.bool, device=mask_bl.device)
        self.token = torch.zeros(len(mask_bl), dtype=torch.long, device=mask_bl.device)
        self.compacted = False

    def keep(self, keep_b: torch.Tensor) -> None:
        for name in ("rows", "mask_bl", "pos_b", "done", "token"):
            setattr(self, name, getattr(self, name).index_select(0, keep_b))
        self.compacted = True

    def noise(self, noise_bv: torch.Tensor) -> torch.Tensor:
        return noise_bv.index_select(0, self.rows) if self.compacted else noise_bv


def forward_fn(model):
    """``forward(cache, **inputs)`` -> last-position logits [B, V] of one pass that reads and extends `cache`.

    The cache keyword is looked up once here: ``inspect.signature`` on every step cost ~2% of decoding.
    """
    cache_kw = cache_kwarg(model)

    def forward(cache: Cache, **inputs) -> torch.Tensor:
        return model(**inputs, **{cache_kw: cache}, use_cache=True).logits[:, -1]

    return forward


def prefill(model, forward, cache: Cache, ids_bp: torch.Tensor, mask_bp: torch.Tensor, positions_bp: torch.Tensor,
            cache_mask: torch.Tensor) -> torch.Tensor:
    """Run the prompts through the model once per distinct prompt, filling `cache` for every row.

    The U distinct prompts go through a prompt-length `PreallocatedCache`; each layer's keys/values are then
    written into `cache` with row b taking distinct prompt inverse_b[b] (`distinct_rows`), and the last-position
    logits [U, V] are expanded the same way to [B, V]. Without repeats the batch goes straight into `cache`
    (`cache_mask`: the attention mask that pass needs, prompt width for the eager cache, cache length for a
    static one).
    """
    batch, width = ids_bp.shape
    first_u, inverse_b = distinct_rows(ids_bp, mask_bp) if batch > 1 else (None, None)
    if first_u is None or len(first_u) == batch:
        return forward(cache, input_ids=ids_bp, attention_mask=cache_mask, position_ids=positions_bp,
                       logits_to_keep=1)
    prompts = PreallocatedCache(model.config.num_hidden_layers, width)
    logits_uv = forward(prompts, input_ids=ids_bp[first_u], attention_mask=mask_bp[first_u],
                        position_ids=positions_bp[first_u], logits_to_keep=1)
    for index, layer in enumerate(prompts.layers):
        cache.update(layer.keys.index_select(0, inverse_b), layer.values.index_select(0, inverse_b), index)
    return logits_uv.index_select(0, inverse_b)


def static_cache_length(width: int, steps: int, bucket: int) -> int:
    """Prompt width + steps rounded up to a multiple of `bucket` (so prompt widths share compiled graphs)."""
    return -(-(width + steps) // bucket) * bucket


@torch.no_grad()
def decode(model, ids_bp: torch.Tensor, mask_bp: torch.Tensor, steps: int, generator: torch.Generator,
           spec: DecodeSpec, step_fn=None, static_cache: Cache | None = None) -> DecodeOutput:
    """Sample up to `steps` tokens per row after left-padded prompts; see the module docstring.

    `step_fn(input_ids, attention_mask, position_ids, cache)`, when given, runs the one-token steps (e.g. a
    compiled forward) over `static_cache` (transformers' `StaticCache`, batch B, length from
    `static_cache_length`; reset here, so one cache can serve every call of that shape, keeping the
    addresses CUDA graphs recorded). Otherwise the model runs eagerly over a new `PreallocatedCache` and
    finished rows are compacted away.
    """
    batch, width = ids_bp.shape
    if step_fn is None:
        cache_len, cache = width + steps, PreallocatedCache(model.config.num_hidden_layers, width + steps)
    else:
        cache_len, cache = static_cache.layers[0].max_cache_len, static_cache
        cache.reset()
    mask_bl = torch.cat([mask_bp, mask_bp.new_ones(batch, cache_len - width)], 1)
    positions = positions_from_mask(mask_bp)
    live = _Live(mask_bl, positions[:, -1])
    forward = forward_fn(model)
    logits = prefill(model, forward, cache, ids_bp, mask_bp, positions, mask_bl if step_fn else mask_bp)
    tokens_bt = torch.full((batch, steps), spec.pad_id, dtype=torch.long, device=ids_bp.device)
    logprobs_bt = torch.zeros((batch, steps), dtype=torch.float32, device=ids_bp.device)
    for t in range(steps):
        noise = live.noise(draw_noise(batch, logits.shape[-1], generator, ids_bp.device))
        token, logp = sample_tokens(logits, noise, spec.temperature, spec.top_p)
        if step_fn is not None:
            torch.compiler.cudagraph_mark_step_begin()  # the graph may now overwrite `logits`
        live.token = token.masked_fill(live.done, spec.pad_id)
        tokens_bt[:, t].index_copy_(0, live.rows, live.token)
        logprobs_bt[:, t].index_copy_(0, live.rows, logp.masked_fill(live.done, 0.0))
        live.done |= torch.isin(live.token, spec.eos)
        if t + 1 == steps or ((t + 1) % spec.check_every == 0 and _all_done_or_compact(live, cache, spec)):
            break
        live.pos_b = live.pos_b + 1
        inputs = dict(input_ids=live.token[:, None], position_ids=live.pos_b[:, None])
        if step_fn is None:
            logits = forward(cache, attention_mask=live.mask_bl[:, :width + t + 1], **inputs)
        else:
            logits = step_fn(attention_mask=live.mask_bl, cache=cache, **inputs)
    return _trim(tokens_bt, logprobs_bt, spec)


def _all_done_or_compact(live: _Live, cache: Cache, spec: DecodeSpec) -> bool:
    """True when every row has finished; otherwise drop the finished rows if they are enough (one host read)."""
    finished = int(live.done.sum())
    if finished == len(live.rows):
        return True
    if spec.compact and finished >= COMPACT_FRACTION * len(live.rows):
        keep_b = (~live.done).nonzero().squeeze(-1)
        live.keep(keep_b)
        cache.batch_select_indices(keep_b)
    return False


def _trim(tokens_bt: torch.Tensor, logprobs_bt: torch.Tensor, spec: DecodeSpec) -> DecodeOutput:
    """Cut the columns after the longest response (steps run past the last EOS between host checks)."""
    is_eos = torch.isin(tokens_bt, spec.eos)
    ended = is_eos.cumsum(-1) > 0
    width = max(int((~ended).sum(-1).max()) + 1, 1) if len(tokens_bt) else 0
    width = min(width, tokens_bt.shape[1])
    return DecodeOutput(tokens_bt[:, :width], logprobs_bt[:, :width])

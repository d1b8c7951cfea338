"""Length shaping of the reward: DAPO's soft overlong punishment (Yu et al. 2025, arXiv 2503.14476, Eq. 13).

The penalty is added to a response's shaped reward before group advantages are computed; it never
touches the binary verdict. Numeric choices (see docs/algo.md, "Truncated responses"):
- The length is the number of response tokens including EOS when there is one (the response mask's row
  sum), as TRL's `get_soft_overlong_punishment` (`len(completion_ids)`) and verl's DAPO reward manager
  (`valid_response_length`) count it.
- The penalty is 0 up to and including L_max - W tokens, falls linearly by factor / W per token, and
  is exactly -factor at L_max; longer lengths (impossible when L_max is the generation cap) stay at
  -factor, DAPO's third case.
"""

from __future__ import annotations

import torch
from torch import Tensor


def soft_overlong_penalty(lengths_b: Tensor, *, max_len: int, window: int, factor: float = 1.0) -> Tensor:
    """Soft overlong punishment per response: [B] lengths -> [B] penalties in [-factor, 0].

        R_len(L) = -factor * clamp((L - (max_len - window)) / window, 0, 1)

    i.e. 0 for L <= max_len - window, ((max_len - window) - L) / window * factor inside the window and
    -factor at L = max_len (or beyond). With factor = 1 this is DAPO's Eq. 13 and TRL's reward function;
    verl's `overlong_buffer` is the same with `len` = window and `penalty_factor` = factor.

    lengths_b: [B] response lengths in tokens (integer or float). max_len: the length budget L_max
    (the rollout's max_new_tokens). window: L_cache, 1 <= window <= max_len. Returns the lengths' dtype
    when floating, else the default dtype; computed in float64 so the boundaries are exact.
    """
    if not 1 <= window <= max_len:
        raise ValueError(f"window must be in [1, max_len={max_len}], got {window}")
    if factor < 0:
        raise ValueError(f"factor must be >= 0, got {factor}")
    over_b = (lengths_b.detach().to(torch.float64) - (max_len - window)) / window
    penalty_b = -factor * over_b.clamp(min=0.0, max=1.0)
    out_dtype = lengths_b.dtype if lengths_b.is_floating_point() else torch.get_default_dtype()
    return penalty_b.to(out_dtype)

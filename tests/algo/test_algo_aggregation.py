import pytest
import torch

import _algo_ref as ref
from srpo.algo import LOSS_AGGREGATIONS, POLICY_LOSSES, aggregation_totals, logprobs_from_logits

MODES = LOSS_AGGREGATIONS.names()


def _random(seed, B=6, T=7):
    g = torch.Generator().manual_seed(seed)
    loss = torch.randn(B, T, generator=g, dtype=torch.float64)
    mask = torch.rand(B, T, generator=g) > 0.4
    mask[2] = False  # a sequence with no valid token
    loss[~mask] = float("nan")  # padding garbage must not matter
    return loss, mask


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference(mode, seed):
    loss, mask = _random(seed)
    got = LOSS_AGGREGATIONS.get(mode)(loss, mask)
    assert got.dim() == 0
    assert got.item() == pytest.approx(ref.aggregate(mode, loss, mask), abs=1e-12)
    kw = dict(num_tokens=57.0, num_seqs=9.0, norm_len=11)
    got = LOSS_AGGREGATIONS.get(mode)(loss, mask, **kw)
    assert got.item() == pytest.approx(ref.aggregate(mode, loss, mask, **kw), abs=1e-12)


def test_hand_computed():
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    agg = LOSS_AGGREGATIONS.get
    assert agg("token_mean")(loss, mask).item() == 2.5  # (1+2+3+4) / 4 tokens
    assert agg("seq_mean_token_mean")(loss, mask).item() == 3.0  # (2 + 4) / 2 seqs
    assert agg("seq_mean_token_sum")(loss, mask).item() == 5.0  # (6 + 4) / 2 seqs
    assert agg("seq_mean_token_sum_norm")(loss, mask, norm_len=4).item() == 1.25  # 10 / (2 * 4)
    assert agg("seq_mean_token_sum_norm")(loss, mask).item() == pytest.approx(10 / 6)  # norm_len = T = 3
    assert agg("token_mean")(loss, mask, num_tokens=8.0).item() == 1.25


def test_totals_count_only_sequences_with_tokens():
    mask = torch.tensor([[1, 1, 0], [0, 0, 0], [1, 0, 0]])
    totals = aggregation_totals(mask)
    assert totals["num_tokens"].item() == 3 and totals["num_seqs"].item() == 2
    assert totals["num_tokens"].dtype == torch.float32 and totals["num_tokens"].dim() == 0


@pytest.mark.parametrize("mode", MODES)
def test_empty_mask_gives_zero_not_nan(mode):
    loss = torch.full((2, 3), float("nan"))
    assert LOSS_AGGREGATIONS.get(mode)(loss, torch.zeros(2, 3)).item() == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_all_padding_rows_change_nothing(mode):
    loss, mask = _random(5)
    padded_loss = torch.cat([loss, torch.randn(3, loss.shape[1], dtype=torch.float64)])
    padded_mask = torch.cat([mask, torch.zeros(3, mask.shape[1], dtype=torch.bool)])
    fn = LOSS_AGGREGATIONS.get(mode)
    assert fn(padded_loss, padded_mask).item() == pytest.approx(fn(loss, mask).item(), abs=1e-15)


# ---- split invariance: micro-batches with the mini-batch totals sum to the mini-batch loss and gradient


LENGTHS = [5, 1, 8, 3, 0, 8, 2, 6]  # valid tokens per sequence; 0 is an all-padding row
T_MAX, D, V, NORM_LEN = 10, 4, 11, 12


def _problem():
    g = torch.Generator().manual_seed(0)
    B = len(LENGTHS)
    feats = torch.randn(B, T_MAX, D, generator=g, dtype=torch.float64)
    labels = torch.randint(0, V, (B, T_MAX), generator=g)
    mask = torch.arange(T_MAX)[None, :] < torch.tensor(LENGTHS)[:, None]
    weight0 = torch.randn(D, V, generator=g, dtype=torch.float64)
    old = logprobs_from_logits(feats @ weight0, labels) + 0.3 * torch.randn(B, T_MAX, generator=g, dtype=torch.float64)
    adv = torch.randn(B, generator=g, dtype=torch.float64)
    return feats, labels, mask, old, adv, weight0


def _loss_and_grad(mode, rows_list, totals):
    """Accumulate loss and dW over micro-batches; each is cut to its own padded length."""
    feats, labels, mask, old, adv, weight0 = _problem()
    weight = weight0.clone().requires_grad_(True)
    total = torch.zeros((), dtype=torch.float64)
    for rows in rows_list:
        rows = torch.tensor(rows)
        t = max(1, int(mask[rows].sum(-1).max()))  # micro-batch padded only to its longest sequence
        logp = logprobs_from_logits(feats[rows, :t] @ weight, labels[rows, :t])
        loss_bt, _ = POLICY_LOSSES.get("ppo_clip")(logp, old[rows, :t], adv[rows], mask[rows, :t])
        loss = LOSS_AGGREGATIONS.get(mode)(loss_bt, mask[rows, :t], norm_len=NORM_LEN, **totals)
        loss.backward()
        total = total + loss.detach()
    return total, weight.grad


SPLITS = [
    [[0, 1, 2, 3, 4, 5, 6, 7]],
    [[0, 1, 2], [3, 4, 5, 6, 7]],
    [[0], [1], [2, 3, 4, 5, 6, 7]],
    [[0, 1], [2, 3, 4], [5], [6, 7]],
    [[7, 0, 4], [2, 6], [5, 1, 3]],  # not contiguous, not in order
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("split", SPLITS[1:])
def test_split_invariance(mode, split):
    totals = aggregation_totals(_problem()[2])
    full_loss, full_grad = _loss_and_grad(mode, SPLITS[0], {})  # one batch, local totals
    loss, grad = _loss_and_grad(mode, split, totals)
    assert torch.allclose(loss, full_loss, rtol=1e-12, atol=1e-14)
    assert torch.allclose(grad, full_grad, rtol=1e-12, atol=1e-14)
    assert full_grad.abs().sum() > 0


@pytest.mark.parametrize("mode", MODES)
def test_naive_micro_batch_averaging_is_not_split_invariant(mode):
    """Control: local totals divided by the number of micro-batches (the common mistake) differ."""
    split = SPLITS[3]
    full_loss, _ = _loss_and_grad(mode, SPLITS[0], {})
    naive, _ = _loss_and_grad(mode, split, {})
    assert not torch.allclose(naive / len(split), full_loss, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_mini_batch_with_no_valid_token_gives_zero_with_given_totals(mode):
    """Every row masked (e.g. all responses truncated under truncation=mask): totals are 0, loss is 0."""
    loss = torch.randn(2, 3, requires_grad=True)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    out = LOSS_AGGREGATIONS.get(mode)(loss, mask, norm_len=3, **aggregation_totals(mask))
    out.backward()
    assert out.item() == 0.0 and torch.equal(loss.grad, torch.zeros(2, 3))


@pytest.mark.parametrize("mode", MODES)
def test_masked_rows_are_the_same_as_absent_rows(mode):
    """Zeroing a row's mask gives exactly the loss of the batch without that row (totals included)."""
    loss, mask = _random(7)
    masked = mask.clone()
    masked[[0, 4]] = False
    keep = [1, 2, 3, 5]
    fn = LOSS_AGGREGATIONS.get(mode)
    got = fn(loss, masked, norm_len=5, **aggregation_totals(masked))
    want = fn(loss[keep], mask[keep], norm_len=5, **aggregation_totals(mask[keep]))
    assert got.item() == pytest.approx(want.item(), rel=1e-14)  # same sums, different order

"""Slow, obviously-correct float64 references written with Python loops and the math module.

They share no code with srpo.algo; tests compare the vectorised functions against them on random inputs.
"""

from __future__ import annotations

import math

import torch


def _groups(ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, g in enumerate(ids):
        out.setdefault(g, []).append(i)
    return out


def group_stats(rewards, group_ids, unbiased=True):
    r, ids = rewards.tolist(), group_ids.tolist()
    mean, std, count = [0.0] * len(r), [0.0] * len(r), [0.0] * len(r)
    for members in _groups(ids).values():
        n = len(members)
        m = sum(r[i] for i in members) / n
        ss = sum((r[i] - m) ** 2 for i in members)
        s = 0.0 if n == 1 else math.sqrt(ss / (n - 1 if unbiased else n))
        for i in members:
            mean[i], std[i], count[i] = m, s, float(n)
    return mean, std, count


def advantages(name, rewards, group_ids, eps=1e-6, unbiased=True):
    r, ids = rewards.tolist(), group_ids.tolist()
    out = [0.0] * len(r)
    for members in _groups(ids).values():
        n = len(members)
        vals = [r[i] for i in members]
        if n == 1 or max(vals) == min(vals):
            continue  # no baseline / no signal: advantage 0
        m = sum(vals) / n
        s = math.sqrt(sum((v - m) ** 2 for v in vals) / (n - 1 if unbiased else n))
        for i in members:
            if name == "grpo":
                out[i] = (r[i] - m) / (s + eps)
            elif name == "dr_grpo":
                out[i] = r[i] - m
            elif name == "rloo":
                out[i] = r[i] - (sum(vals) - r[i]) / (n - 1)
            else:
                raise KeyError(name)
    return torch.tensor(out, dtype=torch.float64)


def ppo_clip(logp, old, adv_b, mask, clip_low, clip_high, dual_clip, clamp):
    """Returns (loss [B][T] list, stats dict of floats)."""
    B, T = logp.shape
    loss = [[0.0] * T for _ in range(B)]
    n = low = high = dual = rsum = kl = 0.0
    for b in range(B):
        a = float(adv_b[b])
        for t in range(T):
            if not mask[b, t]:
                continue
            lr = min(max(float(logp[b, t]) - float(old[b, t]), -clamp), clamp)
            rho = math.exp(lr)
            obj = min(rho * a, min(max(rho, 1 - clip_low), 1 + clip_high) * a)
            if dual_clip is not None and a < 0:
                obj = max(obj, dual_clip * a)
            loss[b][t] = -obj
            n += 1
            low += a < 0 and rho < 1 - clip_low
            high += a > 0 and rho > 1 + clip_high
            dual += dual_clip is not None and a < 0 and rho > dual_clip
            rsum += rho
            kl += rho - 1 - lr
    n = max(n, 1.0)
    stats = dict(
        clipfrac_low=low / n, clipfrac_high=high / n, clipfrac_dual=dual / n, ratio_mean=rsum / n, approx_kl=kl / n
    )
    return loss, stats


def aggregate(name, loss, mask, num_tokens=None, num_seqs=None, norm_len=None):
    B, T = loss.shape
    seq_sums, seq_means, lens = [], [], []
    for b in range(B):
        s, k = 0.0, 0
        for t in range(T):
            if mask[b, t]:
                s += float(loss[b, t])
                k += 1
        if k:
            seq_sums.append(s)
            seq_means.append(s / k)
            lens.append(k)
    total = sum(seq_sums)
    ntok = float(sum(lens)) if num_tokens is None else float(num_tokens)
    nseq = float(len(lens)) if num_seqs is None else float(num_seqs)
    if name == "token_mean":
        return total / max(ntok, 1.0)
    if name == "seq_mean_token_mean":
        return sum(seq_means) / max(nseq, 1.0)
    if name == "seq_mean_token_sum":
        return total / max(nseq, 1.0)
    if name == "seq_mean_token_sum_norm":
        return total / (max(nseq, 1.0) * (T if norm_len is None else norm_len))
    raise KeyError(name)


def kl(name, logp, ref, clamp=20.0):
    out = torch.zeros_like(logp, dtype=torch.float64)
    for idx in range(logp.numel()):
        d = min(max(float(logp.view(-1)[idx]) - float(ref.view(-1)[idx]), -clamp), clamp)
        if name == "k1":
            v = d
        elif name == "k2":
            v = 0.5 * d * d
        elif name == "k3":
            v = math.exp(-d) - 1 + d
        else:
            raise KeyError(name)
        out.view(-1)[idx] = v
    return out


def logprob_and_entropy(logits, labels, temperature=1.0):
    """Naive softmax per position: ([B][T] logprob, [B][T] entropy) as float64 tensors."""
    B, T, V = logits.shape
    lp = torch.zeros(B, T, dtype=torch.float64)
    ent = torch.zeros(B, T, dtype=torch.float64)
    for b in range(B):
        for t in range(T):
            z = [float(x) / temperature for x in logits[b, t]]
            zmax = max(z)
            e = [math.exp(x - zmax) for x in z]
            s = sum(e)
            p = [x / s for x in e]
            lp[b, t] = math.log(p[int(labels[b, t])])
            ent[b, t] = -sum(q * math.log(q) for q in p if q > 0)
    return lp, ent


def soft_overlong_penalty(lengths, max_len, window, factor=1.0):
    """DAPO Eq. 13 case by case, times `factor`."""
    out = []
    for length in lengths.tolist():
        if length <= max_len - window:
            r = 0.0
        elif length <= max_len:
            r = ((max_len - window) - length) / window
        else:
            r = -1.0
        out.append(factor * r)
    return torch.tensor(out, dtype=torch.float64)


def _stats(n, low, high, rsum, kl, **extra):
    n = max(n, 1.0)
    return dict(clipfrac_low=low / n, clipfrac_high=high / n, clipfrac_dual=0.0, ratio_mean=rsum / n, approx_kl=kl / n,
                **{k: v / n for k, v in extra.items()})


def gspo(logp, old, adv_b, mask, clip_low, clip_high, clamp=10.0):
    """Loss values [B][T] and stats; the sequence ratio is exp(mean log-ratio of the row's valid tokens)."""
    B, T = logp.shape
    loss = [[0.0] * T for _ in range(B)]
    n = low = high = rsum = kl = 0.0
    for b in range(B):
        a = float(adv_b[b])
        diffs = [float(logp[b, t]) - float(old[b, t]) for t in range(T) if mask[b, t]]
        if not diffs:
            continue
        s = math.exp(min(max(sum(diffs) / len(diffs), -clamp), clamp))
        obj = min(s * a, min(max(s, 1 - clip_low), 1 + clip_high) * a)
        for t in range(T):
            if mask[b, t]:
                loss[b][t] = -obj
                d = min(max(float(logp[b, t]) - float(old[b, t]), -20.0), 20.0)
                n += 1
                low += a < 0 and s < 1 - clip_low
                high += a > 0 and s > 1 + clip_high
                rsum += s
                kl += math.exp(d) - 1 - d
    return loss, _stats(n, low, high, rsum, kl)


def cispo(logp, old, adv_b, mask, clip_high, clamp=20.0):
    """Loss values [B][T], d loss / d logp [B][T] and stats."""
    B, T = logp.shape
    loss = [[0.0] * T for _ in range(B)]
    grad = [[0.0] * T for _ in range(B)]
    n = high = rsum = kl = 0.0
    for b in range(B):
        a = float(adv_b[b])
        for t in range(T):
            if not mask[b, t]:
                continue
            d = min(max(float(logp[b, t]) - float(old[b, t]), -clamp), clamp)
            rho = math.exp(d)
            w = min(rho, 1 + clip_high)
            loss[b][t] = -w * a * float(logp[b, t])
            grad[b][t] = -w * a
            n += 1
            high += rho > 1 + clip_high
            rsum += rho
            kl += rho - 1 - d
    return loss, grad, _stats(n, 0.0, high, rsum, kl)


def sapo(logp, old, adv_b, mask, tau_pos, tau_neg, clamp=20.0):
    """Loss values [B][T], d loss / d logp [B][T] and stats."""
    B, T = logp.shape
    loss = [[0.0] * T for _ in range(B)]
    grad = [[0.0] * T for _ in range(B)]
    n = low = high = rsum = kl = gate = 0.0
    for b in range(B):
        a = float(adv_b[b])
        tau = tau_pos if a > 0 else tau_neg
        for t in range(T):
            if not mask[b, t]:
                continue
            d = min(max(float(logp[b, t]) - float(old[b, t]), -clamp), clamp)
            rho = math.exp(d)
            sig = 1 / (1 + math.exp(-tau * (rho - 1)))
            loss[b][t] = -sig * 4 / tau * a
            g = 4 * sig * (1 - sig)
            grad[b][t] = -a * g * rho if abs(d) < clamp else 0.0
            n += 1
            low += a < 0 and g < 0.5
            high += a > 0 and g < 0.5
            rsum += rho
            kl += rho - 1 - d
            gate += g
    return loss, grad, _stats(n, low, high, rsum, kl, gate_weight_mean=gate)

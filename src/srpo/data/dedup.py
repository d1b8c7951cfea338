"""Exact and near-duplicate detection over prompts.

Normalisation (both): Unicode NFKC, lower case, whitespace runs collapsed to one space, stripped.

Exact: two problems of the same domain with the same normalised prompt.

Near: Jaccard similarity of the sets of character n-grams (``ngram`` characters, default 5) of the
normalised prompts. Candidates come from MinHash + LSH banding (``num_perm`` hash functions
``h_i(x) = (a_i * crc32(x) + b_i) mod (2^31 - 1)`` with a fixed seed, split into ``bands`` bands); each
candidate pair is then confirmed with the exact Jaccard, so the threshold is exact and the only
approximation is a missed candidate (probability ``(1 - s^r)^b`` for similarity ``s``, ``r = num_perm /
bands``; with 64/16 that is < 0.1% at ``s = 0.8``). Deterministic: the first occurrence in input order is
kept, later ones are dropped naming it.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import defaultdict

import numpy as np

_PRIME = (1 << 31) - 1


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def shingles(text: str, ngram: int) -> np.ndarray:
    """Sorted unique crc32 hashes of the character n-grams of `text` (the whole text if shorter)."""
    grams = {text[i:i + ngram] for i in range(max(1, len(text) - ngram + 1))}
    return np.unique(np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.uint64))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return inter / union if union else 1.0


class NearDuplicateIndex:
    """Incremental MinHash-LSH index: `add` returns the earliest kept item at or above the threshold."""

    def __init__(self, threshold: float, ngram: int = 5, num_perm: int = 64, bands: int = 16, seed: int = 0):
        if num_perm % bands:
            raise ValueError(f"num_perm ({num_perm}) must be divisible by bands ({bands})")
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)
        self.threshold, self.ngram, self.bands, self.rows = threshold, ngram, bands, num_perm // bands
        self.buckets: list[dict[bytes, list[int]]] = [defaultdict(list) for _ in range(bands)]
        self.sets: list[np.ndarray] = []
        self.keys: list[str] = []

    def signature(self, sh: np.ndarray) -> np.ndarray:
        # (a * h + b) mod p with a, b < 2^31 and h < 2^32: the product stays below 2^63, no overflow.
        return ((sh[:, None] * self.a[None, :] + self.b[None, :]) % _PRIME).min(axis=0)

    def add(self, key: str, text: str) -> tuple[str, float] | None:
        """Index `text` unless it is a near duplicate; then return (key of the earlier one, Jaccard)."""
        sh = shingles(normalise(text), self.ngram)
        sig = self.signature(sh)
        bands = [sig[i * self.rows:(i + 1) * self.rows].tobytes() for i in range(self.bands)]
        candidates = sorted({other for band, bucket in zip(bands, self.buckets) for other in bucket.get(band, ())})
        for other in candidates:  # earliest first, so the answer does not depend on band order
            sim = jaccard(sh, self.sets[other])
            if sim >= self.threshold:
                return self.keys[other], sim
        index = len(self.sets)
        self.sets.append(sh)
        self.keys.append(key)
        for band, bucket in zip(bands, self.buckets):
            bucket[band].append(index)
        return None

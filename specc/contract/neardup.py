"""Near-duplicate stage: MinHash candidates, verified by true Jaccard similarity.

Exact and n-gram matching miss a golden row that was lightly edited (a word
swapped here and there breaks every n-gram through it). Comparing every training
row with every golden row is quadratic, so each row gets a MinHash signature of its
word shingles; locality-sensitive hashing over signature bands proposes candidate
golden rows, and each candidate is *verified* with the exact Jaccard similarity of
the shingle sets. Hashing can therefore miss a pair (rarely, at similarities near
the threshold) but never reports a false one.

Hashes are deterministic (CRC-32 of the shingle, fixed permutation coefficients)
so the same data gives the same report on every run. numpy is imported lazily:
this stage is opt-in and the rest of the firewall stays stdlib-only.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable
from typing import Any

from specc.contract.settings import FirewallSettings

__all__ = ["NearDuplicateIndex", "jaccard", "shingles"]

_PRIME = (1 << 61) - 1
_SEED = 0x5EC0F1  # fixed: signatures must not change between runs


def shingles(words: list[str], size: int) -> set[str]:
    """Distinct ``size``-word shingles of ``words``; a shorter non-empty text is one shingle."""
    if not words:
        return set()
    if len(words) < size:
        return {" ".join(words)}
    return set(map(" ".join, zip(*(words[k:] for k in range(size)))))


def jaccard(left: set[str], right: set[str]) -> float:
    """|A ∩ B| / |A ∪ B| (0 for two empty sets)."""
    if not left and not right:
        return 0.0
    common = len(left & right)
    return common / (len(left) + len(right) - common)


class NearDuplicateIndex:
    """MinHash-LSH index over the golden rows' shingle sets."""

    def __init__(self, golden_words: Iterable[list[str]], settings: FirewallSettings):
        import numpy as np  # lazy: only this opt-in stage needs it

        self._np: Any = np
        self._threshold = settings.jaccard_threshold
        self._size = settings.shingle_size
        self._bands = settings.minhash_bands
        rng = random.Random(_SEED)
        count = settings.minhash_permutations
        self._a = np.array([rng.randrange(1, 1 << 31) for _ in range(count)], dtype=np.uint64)[:, None]
        self._b = np.array([rng.randrange(0, 1 << 31) for _ in range(count)], dtype=np.uint64)[:, None]
        self._golden: list[set[str]] = []
        self._buckets: dict[tuple[int, bytes], list[int]] = {}
        for index, words in enumerate(golden_words):
            grams = shingles(words, self._size)
            self._golden.append(grams)
            if grams:
                for key in self._band_keys(grams):
                    self._buckets.setdefault(key, []).append(index)

    def _band_keys(self, grams: set[str]) -> list[tuple[int, bytes]]:
        np = self._np
        hashes = np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.uint64, count=len(grams))
        signature = ((self._a * hashes[None, :] + self._b) % _PRIME).min(axis=1)
        bands = signature.reshape(self._bands, -1)
        return [(band, bands[band].tobytes()) for band in range(self._bands)]

    def query(self, words: list[str]) -> list[tuple[int, float]]:
        """Golden rows whose verified Jaccard similarity with ``words`` reaches the
        threshold, as ``(golden_index, similarity)`` sorted by golden index."""
        grams = shingles(words, self._size)
        if not grams:
            return []
        candidates: set[int] = set()
        for key in self._band_keys(grams):
            candidates.update(self._buckets.get(key, ()))
        found = []
        for index in sorted(candidates):
            similarity = jaccard(grams, self._golden[index])
            if similarity >= self._threshold:
                found.append((index, similarity))
        return found

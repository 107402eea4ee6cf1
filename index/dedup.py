"""Duplicate detection: exact copies by body fingerprint, near-copies by MinHash LSH.

Syndicated wire stories reappear at several outlets with small edits (a new headline, a
trimmed paragraph). Exact copies (same normalised body) are stored once; near-copies
(estimated Jaccard similarity of word 5-shingles >= `threshold`) are merged into the first
one seen, which records the others as "also reported by".

Example:
    >>> dedup = Deduplicator(threshold=0.8)
    >>> dedup.add(article.id, article.fingerprint, dedup.signature(article.body))
    >>> dedup.near_copy_of(copy.id, dedup.signature(copy.body))   # article.id
"""

from __future__ import annotations

import re

import numpy as np

from newscite.types import Article

_WORD = re.compile(r"\w+")
_SCHEME = "affine64"  # datasketch permutation scheme; signatures are stored as uint64


def _shingles(body: str, size: int = 5) -> set[bytes]:
    words = _WORD.findall(body.casefold())
    if len(words) < size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


class Deduplicator:
    """Remembers article fingerprints and MinHash signatures; tells which one a new article copies."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128):
        if not 0.5 <= threshold <= 1.0:
            raise ValueError(f"setting 'near_duplicate_threshold' must be between 0.5 and 1.0, "
                             f"got {threshold}")
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._signatures: dict[str, object] = {}
        self._by_fingerprint: dict[str, str] = {}
        self._fingerprint_of: dict[str, str] = {}

    def signature(self, body: str):
        """MinHash of the body's word 5-shingles."""
        from datasketch import MinHash

        minhash = MinHash(num_perm=self.num_perm, seed=1, scheme=_SCHEME)
        minhash.update_batch(list(_shingles(body)))
        return minhash

    @staticmethod
    def to_bytes(minhash) -> bytes:
        return np.asarray(minhash.hashvalues, dtype=np.uint64).tobytes()

    def from_bytes(self, data: bytes):
        from datasketch import MinHash

        return MinHash(num_perm=self.num_perm, seed=1, scheme=_SCHEME,
                       hashvalues=np.frombuffer(data, dtype=np.uint64).copy())

    def add(self, article_id: str, fingerprint: str, minhash=None) -> None:
        """Remember an article; later copies of it will be reported."""
        self.forget(article_id)
        self._by_fingerprint.setdefault(fingerprint, article_id)
        self._fingerprint_of[article_id] = fingerprint
        if minhash is not None:
            self._signatures[article_id] = minhash
            self._lsh.insert(article_id, minhash)

    def forget(self, article_id: str) -> None:
        if article_id in self._signatures:
            del self._signatures[article_id]
            self._lsh.remove(article_id)
        fingerprint = self._fingerprint_of.pop(article_id, None)
        if fingerprint is not None and self._by_fingerprint.get(fingerprint) == article_id:
            del self._by_fingerprint[fingerprint]

    def exact_copy_of(self, article: Article) -> str | None:
        """The id of a remembered article with the same normalised body, or None."""
        original = self._by_fingerprint.get(article.fingerprint)
        return original if original != article.id else None

    def near_copy_of(self, article_id: str, minhash) -> str | None:
        """The id of the most similar remembered near-duplicate, or None."""
        candidates = [c for c in self._lsh.query(minhash) if c != article_id]
        if not candidates:
            return None
        return max(candidates, key=lambda c: (minhash.jaccard(self._signatures[c]), c))

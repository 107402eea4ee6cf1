"""Duplicate detection: exact copies by body fingerprint, near-copies by MinHash LSH.

Syndicated wire stories reappear at several outlets with small edits (a new headline, a
trimmed paragraph). Exact copies (same normalised body) are stored once; near-copies
(estimated Jaccard similarity of word 5-shingles >= `threshold`) are merged into the first
one seen, which records the others as "also reported by".

A writer remembers every stored article (the ingester gives it the stored signatures when it
starts), so this is kept compact: a stored signature is a view of the bytes the ingester
holds anyway, and the LSH bands (datasketch's banding for the threshold: 9 bands of 13 values
at 0.8) are one 64-bit key per band, looked up in sorted arrays. With datasketch's
`MinHashLSH` and a `MinHash` per article (each signature read back also built its own
permutations, ~0.4 ms) that took ~9.4 KB an article: 1.9 GB and 80 s for the 200,000 articles
of a million chunks; now ~0.4 KB. Candidates are exactly `MinHashLSH.query`'s: a key match is
confirmed on the band's values themselves (tests/index/test_dedup.py compares the two).

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
# Odd multipliers that hash a band's values into one 64-bit key (wrapping arithmetic); a
# key match is then confirmed on the values, so a collision costs a comparison, not a result.
_BAND_MIX = np.random.default_rng(20231).integers(0, 2**63, 128, dtype=np.uint64) * 2 + 1
# Signatures added since the band keys were last sorted are compared one by one; the sorted
# arrays are rebuilt (O(n log n)) once those exceed 1/PENDING_SHARE of all, or MIN_PENDING.
PENDING_SHARE = 16
MIN_PENDING = 1024
INITIAL_ROWS = 1024  # signature rows allocated at first; the array doubles when full


def _shingles(body: str, size: int = 5) -> set[bytes]:
    words = _WORD.findall(body.casefold())
    if len(words) < size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


class StoredSignature:
    """A MinHash signature read back from the index: its values, which is all that `add`,
    `near_copy_of` and `to_bytes` use. (Making a datasketch `MinHash` costs ~50 us: 10 s for
    the 200,000 signatures a writer reads when it starts, at a million chunks.)"""

    __slots__ = ("hashvalues",)

    def __init__(self, hashvalues: np.ndarray):
        self.hashvalues = hashvalues

    def jaccard(self, other) -> float:
        """Estimated Jaccard similarity with another signature, as `MinHash.jaccard`."""
        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / \
            len(self.hashvalues)


class Deduplicator:
    """Remembers article fingerprints and MinHash signatures; tells which one a new article copies."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128):
        if not 0.5 <= threshold <= 1.0:
            raise ValueError(f"setting 'near_duplicate_threshold' must be between 0.5 and 1.0, "
                             f"got {threshold}")
        from datasketch import MinHash, MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)  # only for its banding
        self._bands, self._rows = lsh.b, lsh.r
        # one MinHash's permutations, shared by every signature read back (`from_bytes`)
        self._permutations = MinHash(num_perm=num_perm, seed=1, scheme=_SCHEME).permutations
        # per row: the signature's values; a stored one's are a view of its bytes, which the
        # ingester holds anyway (no second copy)
        self._values: list[np.ndarray] = []
        self._keys = np.zeros((INITIAL_ROWS, self._bands), dtype=np.uint64)  # band keys
        self._count = 0  # rows used
        self._ids: list[str | None] = []  # row -> article id (None: forgotten)
        self._row_of: dict[str, int] = {}
        self._sorted = 0  # rows [0, _sorted) are in the sorted arrays below
        self._sorted_keys = np.zeros((self._bands, 0), dtype=np.uint64)
        self._sorted_rows = np.zeros((self._bands, 0), dtype=np.int64)
        self._by_fingerprint: dict[str, str] = {}
        self._fingerprint_of: dict[str, str] = {}

    def signature(self, body: str):
        """MinHash of the body's word 5-shingles."""
        from datasketch import MinHash

        minhash = MinHash(num_perm=self.num_perm, seed=1, scheme=_SCHEME,
                          permutations=self._permutations)
        minhash.update_batch(list(_shingles(body)))
        return minhash

    @staticmethod
    def to_bytes(minhash) -> bytes:
        return np.asarray(minhash.hashvalues, dtype=np.uint64).tobytes()

    def from_bytes(self, data: bytes) -> StoredSignature:
        """A signature as `to_bytes` stored it."""
        return StoredSignature(np.frombuffer(data, dtype=np.uint64))

    def add(self, article_id: str, fingerprint: str, minhash=None) -> None:
        """Remember an article; later copies of it will be reported."""
        self.forget(article_id)
        self._by_fingerprint.setdefault(fingerprint, article_id)
        self._fingerprint_of[article_id] = fingerprint
        if minhash is not None:
            if self._count == len(self._keys):
                self._grow()
            values = minhash.hashvalues if isinstance(minhash, StoredSignature) else \
                np.array(minhash.hashvalues, dtype=np.uint64)  # a MinHash may be updated later
            self._values.append(values)
            self._keys[self._count] = self._band_keys(values[None])[0]
            self._ids.append(article_id)
            self._row_of[article_id] = self._count
            self._count += 1

    def _grow(self) -> None:
        """Twice the rows of band keys (new zeros are not touched: no memory until used)."""
        keys = np.zeros((2 * len(self._keys), self._bands), dtype=np.uint64)
        keys[:len(self._keys)] = self._keys
        self._keys = keys

    def forget(self, article_id: str) -> None:
        row = self._row_of.pop(article_id, None)
        if row is not None:
            self._ids[row] = None  # its row stays until the sorted arrays are next rebuilt
        fingerprint = self._fingerprint_of.pop(article_id, None)
        if fingerprint is not None and self._by_fingerprint.get(fingerprint) == article_id:
            del self._by_fingerprint[fingerprint]

    def exact_copy_of(self, article: Article) -> str | None:
        """The id of a remembered article with the same normalised body, or None."""
        original = self._by_fingerprint.get(article.fingerprint)
        return original if original != article.id else None

    def near_copy_of(self, article_id: str, minhash) -> str | None:
        """The id of the most similar remembered near-duplicate, or None: among the articles
        that share a band with it (LSH candidates), the highest estimated Jaccard."""
        values = np.asarray(minhash.hashvalues, dtype=np.uint64)
        rows = [row for row in self._candidates(values) if self._ids[row] != article_id]
        if not rows:
            return None
        best = max(rows, key=lambda row: (np.count_nonzero(self._values[row] == values)
                                          / self.num_perm, self._ids[row]))
        return self._ids[best]

    # ---- the band index ---------------------------------------------------------------------

    def _band_keys(self, values: np.ndarray) -> np.ndarray:
        """One uint64 key per band of each signature row (n, bands)."""
        banded = values[:, :self._bands * self._rows].reshape(len(values), self._bands,
                                                              self._rows)
        return (banded * _BAND_MIX[:self._rows]).sum(axis=2, dtype=np.uint64)

    def _candidates(self, values: np.ndarray) -> set[int]:
        """Rows of remembered signatures equal to `values` on at least one whole band."""
        if self._count - self._sorted > max(MIN_PENDING, self._count // PENDING_SHARE):
            self._sort_keys()
        keys = self._band_keys(values[None])[0]
        found: set[int] = set()
        for band, key in enumerate(keys):
            low, high = np.searchsorted(self._sorted_keys[band], key, side="left"), \
                np.searchsorted(self._sorted_keys[band], key, side="right")
            pending = np.flatnonzero(self._keys[self._sorted:self._count, band] == key)
            start, end = band * self._rows, (band + 1) * self._rows
            for row in [*self._sorted_rows[band, low:high].tolist(),
                        *(pending + self._sorted).tolist()]:
                if self._ids[row] is not None and \
                        np.array_equal(self._values[row][start:end], values[start:end]):
                    found.add(row)
        return found

    def _sort_keys(self) -> None:
        """Drop forgotten rows when they are many, then sort every band's keys."""
        live = [row for row in range(self._count) if self._ids[row] is not None]
        if len(live) < self._count // 2:
            kept = np.asarray(live, dtype=np.int64)
            self._values = [self._values[row] for row in live]
            self._keys[:len(live)] = self._keys[kept]
            self._ids = [self._ids[row] for row in live]
            self._row_of = {article_id: row for row, article_id in enumerate(self._ids)}
            self._count = len(live)
        order = np.argsort(self._keys[:self._count].T, axis=1, kind="stable")
        self._sorted_keys = np.take_along_axis(self._keys[:self._count].T, order, axis=1)
        self._sorted_rows = order
        self._sorted = self._count

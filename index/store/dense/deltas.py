"""What a FAISS index changed since its last full write: append-only delta files.

Writing the whole FAISS file on every flush costs the size of the index (1.5 GB at 1M
chunks). Instead a flush writes only what changed since the previous one, as a delta:
`dense-<generation>-<token>.delta.npz` with the chunk ids removed, then the ids and vectors
added (plain arrays, no pickle). Loading reads the base `.faiss` file and applies the deltas
in order (removals, then additions: `faiss.FaissIndex._read`). Deltas merge as `index.tiers`
plans (a merged delta does what its parts did, in order), and the base is written anew once
the deltas hold more vectors than it does, so each vector is rewritten a bounded number of
times, whatever the size of the index.

Example:
    >>> Delta(removed=np.array([3]), ids=np.array([9]), vectors=v).save(path)
    >>> Delta.combine([Delta.load(a), Delta.load(b)])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from newscite.index.postings import fsynced_save


@dataclass
class Delta:
    """Chunk ids removed, then chunk ids and vectors added (see the module docstring)."""

    removed: np.ndarray  # int64
    ids: np.ndarray  # int64
    vectors: np.ndarray  # float32, one row per id

    def __len__(self) -> int:
        return len(self.removed) + len(self.ids)

    @classmethod
    def combine(cls, deltas: list[Delta]) -> Delta:
        """One delta doing what `deltas` do in order: a chunk added then removed is gone
        from both lists (chunk ids are never reused)."""
        removed, ids, vectors = [], np.zeros(0, np.int64), None
        for delta in deltas:
            added_before = np.isin(delta.removed, ids)
            removed.append(delta.removed[~added_before])
            keep = ~np.isin(ids, delta.removed)
            ids = np.concatenate([ids[keep], delta.ids])
            vectors = delta.vectors if vectors is None else \
                np.concatenate([vectors[keep], delta.vectors])
        return cls(np.concatenate(removed) if removed else np.zeros(0, np.int64), ids,
                   vectors if vectors is not None else np.zeros((0, 0), np.float32))

    def save(self, path: Path) -> None:
        fsynced_save(path, {"removed": self.removed, "ids": self.ids, "vectors": self.vectors})

    @classmethod
    def load(cls, path: Path) -> Delta:
        with np.load(path, allow_pickle=False) as npz:
            return cls(npz["removed"], npz["ids"], npz["vectors"])

"""The dense (vector) index of a store: one protocol, two engines, chosen by the `store` setting.

A dense index is derived from the catalog: the vectors stay in SQLite, so an engine's index
can always be rebuilt from them without re-embedding. `FaissIndex` (`dense/faiss.py`) keeps
a FAISS file in the index directory; `MilvusIndex` (`dense/milvus.py`) a Milvus collection.

Example:
    >>> dense = open_dense("faiss", catalog)
    >>> dense.search(query_vector, k=10, filters=None)
    [(chunk_id, score), ...]
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from newscite.types import Filters

if TYPE_CHECKING:
    from newscite.index.store.catalog import Catalog

IVF_PROBES = 32  # inverted lists an IVF index searches (both engines)


class DenseKind(str, enum.Enum):
    """The index over the chunk vectors (figures: docs/performance.md, eval.bench_scale).

    - flat: exact search; a query reads every vector (about 1.5 KB a chunk), which takes
      tens of milliseconds from a few hundred thousand chunks on;
    - hnsw: a graph, fast to search but slow to build on few cores, and rebuilt from SQLite
      after every deletion;
    - ivf: inverted lists (IVF-Flat, IVF_PROBES searched): on FAISS exact (flat) below
      `dense.faiss.IVF_MIN_CHUNKS`, then recall@10 >= 0.95 in a few milliseconds at 1M
      chunks; updated in place, retrained from SQLite when the corpus outgrows its lists.
    """

    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"


@runtime_checkable
class DenseIndex(Protocol):
    """What the store needs from a dense index. Chunk ids are the catalog's; vectors are unit
    length, so inner product is cosine similarity. After a committed write the store calls
    `remove` and `add` with what changed; an engine may instead forget its index (`reset`)
    and rebuild it from the catalog's vectors when next needed."""

    engine: str  # the store's name in stats and manifests

    def load(self, manifest: dict) -> bool:
        """Take up the durable index the manifest names; False when it disagrees with the
        catalog (the store then rebuilds it)."""
    def reset(self) -> None:
        """Forget the index: it is rebuilt from the catalog's vectors when next needed."""
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add committed chunks' vectors."""
    def remove(self, ids: list[int]) -> None:
        """Remove committed deletions."""
    def save(self, generation: int) -> dict:
        """Make the index durable for `generation`; what the manifest records of it."""
    def check(self, manifest: dict) -> list[str]:
        """What is wrong with the durable index the manifest names, read afresh."""
    def ids(self) -> list[int]:
        """Sorted chunk ids the index holds now."""
    def search(self, vector: np.ndarray, k: int,
               filters: Filters | None = None) -> list[tuple[int, float]]:
        """The k chunks nearest to `vector` among those passing `filters`, best first."""
    def scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray:
        """Inner product of `vector` with each of the chunks' vectors."""
    def stats(self) -> dict:
        """Where the index lives, for the store's stats (empty when that is the directory)."""
    def close(self) -> None:
        """Let go of any connection."""


def open_dense(engine: str, catalog: Catalog) -> DenseIndex:
    """The dense index for the `store` setting: 'faiss' (a file in the index directory) or
    a Milvus URI (milvus:///path/file.db for Milvus Lite, http://host:19530 for a server).
    Engines are imported only when chosen: Milvus needs the `scale` extra."""
    if engine == "faiss":
        from newscite.index.store.dense.faiss import FaissIndex

        return FaissIndex(catalog)
    from newscite.index.store.dense.milvus import MilvusIndex

    return MilvusIndex(catalog, engine)

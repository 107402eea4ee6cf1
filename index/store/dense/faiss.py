"""The default dense index: FAISS, in memory and in `dense-<generation>.faiss` beside SQLite.

An inner-product index over the chunk vectors, flat (exact), HNSW or IVF-Flat by the
catalog's `DenseKind`, addressed by chunk id. It is built from the catalog's vectors when
first needed and written, atomically under a new name, when the store flushes; no server.
Later flushes append only what changed, as delta files (`dense/deltas.py`), so a write
costs what it changed, not the size of the index; the base file is written anew only after
a rebuild or once the deltas outgrow it.

A flat index keeps its vectors in one contiguous buffer, and adding to it reallocates that
buffer and copies it (C++ vector growth): for that instant the vectors are held twice, 1.5 GB
more at a million chunks, which was most of a writer's peak memory. So the vectors added
after a flat index was read or built (the deltas' and each write's) go into a second, small
flat index, `recent`, searched together with it; removals compact both in place. The two are
combined only when the base file is written anew. (FAISS's `IO_FLAG_MMAP_IFC` maps a flat
file read-only: adding to or removing from such an index aborts the process, and a flat
search reads every page anyway, so a writer does not map it.)

Example:
    >>> dense = FaissIndex(catalog)
    >>> dense.search(query_vector, k=10, filters=Filters(sources=("The Verge",)))
    [(chunk_id, score), ...]
"""

from __future__ import annotations

import math
import os
import secrets

import numpy as np

from newscite.index.store.catalog import MANIFEST_NAME, Catalog
from newscite.index.store.dense import IVF_PROBES, DenseKind
from newscite.index.store.dense.deltas import Delta
from newscite.index.tiers import plan_merge
from newscite.types import Filters

IVF_MIN_CHUNKS = 20_000  # below it an `ivf` store's index is flat: exact and as fast


def ivf_lists(n: int) -> int:
    """Inverted lists of an `ivf` store's index for n chunks: 4 sqrt(n) as a power of two
    (1,024 at 100k, 4,096 at 1M); 0 below IVF_MIN_CHUNKS, where the index is flat."""
    return 0 if n < IVF_MIN_CHUNKS else 2 ** round(math.log2(4 * math.sqrt(n)))


def faiss_ids(*indexes) -> list[int]:
    """Sorted chunk ids the FAISS indexes hold (None ones skipped): an ID map's, or an IVF
    index's own."""
    import faiss

    held = []
    for index in indexes:
        if isinstance(index, faiss.IndexIVF):
            lists = index.invlists
            held += [faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)).copy()
                     for n in range(index.nlist) if lists.list_size(n)]
        elif index is not None:
            held.append(faiss.vector_to_array(index.id_map))
    return np.sort(np.concatenate(held)).tolist() if held else []


def _is_flat(index) -> bool:
    """Whether `index` is an ID-mapped flat index (whose additions go to a second one)."""
    import faiss

    return isinstance(index, faiss.IndexIDMap2) and \
        isinstance(faiss.downcast_index(index.index), faiss.IndexFlat)


def _flat(dimension: int):
    """An exact inner-product index addressed by chunk id."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


class FaissIndex:
    """A FAISS index over the catalog's chunk vectors (see the module docstring)."""

    engine = "faiss"

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._index = None  # None: rebuilt from the catalog's vectors when next needed
        self._recent = None  # flat only: the vectors added since `_index` was read or built
        self._base: str | None = None  # the file the index was read from or written to last
        self._base_size = 0
        self._deltas: list[tuple[str, int]] = []  # (file, changes) written since the base
        self._pending: list[Delta] = []  # changes since the last save

    @property
    def index(self):
        """The FAISS index as read or built (a flat one's later additions are in `_recent`),
        built from the catalog's vectors if it was forgotten."""
        if self._index is None:
            self._index = self._new_index()
            for ids, vectors in self.catalog.stored_vectors():
                self._index.add_with_ids(vectors, ids)
        return self._index

    def _new_index(self):
        import faiss

        dimension = int(self.catalog.identity["dimension"])
        kind = self.catalog.dense_kind
        if kind is DenseKind.HNSW:
            return faiss.IndexIDMap2(faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT))
        lists = ivf_lists(len(self.catalog.chunks.ids)) if kind is DenseKind.IVF else 0
        if lists:
            return self._trained_ivf(dimension, lists)
        return _flat(dimension)

    def _trained_ivf(self, dimension: int, lists: int):
        """An IVF-Flat index trained on every n-th stored vector (40 a list, as FAISS asks).
        It keeps the chunk ids itself (an ID map cannot remove from it), with a hash table
        from id to vector for removing and reconstructing."""
        import faiss

        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists,
                                   faiss.METRIC_INNER_PRODUCT)
        step = max(1, len(self.catalog.chunks.ids) // (40 * lists))
        index.train(np.vstack([vectors[::step] for _, vectors in self.catalog.stored_vectors()]))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.nprobe = IVF_PROBES
        return index

    def _ivf_outgrown(self) -> bool:
        """Whether an `ivf` store's index no longer fits its size: flat past IVF_MIN_CHUNKS
        (or IVF below it), or lists a factor 4 off what the size asks (16 times the chunks)."""
        import faiss

        have = self._index.nlist if isinstance(self._index, faiss.IndexIVF) else 0
        want = ivf_lists(len(self.catalog.chunks.ids))
        if not have or not want:
            return bool(have) != bool(want)
        return max(have, want) >= 4 * min(have, want)

    def _updatable(self, removing: bool) -> bool:
        """Whether a change can be applied in place; if not, the index is forgotten (and
        rebuilt lazily): HNSW cannot remove vectors, and an outgrown IVF index is retrained."""
        if self._index is None:
            return False
        kind = self.catalog.dense_kind
        if removing and kind is DenseKind.HNSW or kind is DenseKind.IVF and self._ivf_outgrown():
            self.reset()
            return False
        return True

    def _read(self, manifest: dict) -> tuple:
        """The index the manifest names, its base file with its deltas applied: (base, the
        flat base's added vectors or None)."""
        import faiss

        index = faiss.read_index(str(self.catalog.path / manifest["dense_file"]))
        recent = None
        for name in manifest.get("dense_deltas", []):
            delta = Delta.load(self.catalog.path / name)
            for part in (index, recent):
                if part is not None and len(delta.removed):
                    part.remove_ids(delta.removed)
            if len(delta.ids):
                if recent is None and _is_flat(index):
                    recent = _flat(index.d)
                (recent if recent is not None else index).add_with_ids(delta.vectors, delta.ids)
        return index, recent

    def _parts(self) -> list:
        """The FAISS indexes holding the vectors: the base, then any recent additions."""
        return [part for part in (self.index, self._recent) if part is not None]

    # ---- the DenseIndex protocol ---------------------------------------------------------

    def load(self, manifest: dict) -> bool:
        """Read the base file and its deltas (the store then catches up with SQLite)."""
        self.reset()
        self._index, self._recent = self._read(manifest)
        self._base = manifest["dense_file"]
        self._deltas = list(zip(manifest.get("dense_deltas", []),
                                manifest.get("dense_delta_sizes", [])))
        self._base_size = self._index.ntotal
        return True

    def reset(self) -> None:
        self._index, self._recent, self._base, self._deltas, self._pending = \
            None, None, None, [], []

    def remove(self, ids: list[int]) -> None:
        if ids and self._updatable(removing=True):
            removed = np.asarray(ids, dtype=np.int64)
            for part in self._parts():
                part.remove_ids(removed)
            self._pending.append(Delta(removed, removed[:0],
                                       np.zeros((0, self._index.d), np.float32)))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self._updatable(removing=False):
            if self._recent is None and _is_flat(self._index):
                self._recent = _flat(self._index.d)
            (self._recent if self._recent is not None else self._index).add_with_ids(vectors,
                                                                                     ids)
            self._pending.append(Delta(ids[:0], ids, vectors))

    def save(self, generation: int) -> dict:
        """Append what changed since the last save as a delta file, merging deltas as
        `index.tiers` plans; write the whole index as `dense-<generation>-<token>.faiss`
        instead after a rebuild, or once the deltas hold more changes than the base has
        vectors (each file fsynced under a temporary name, then renamed)."""
        pending = Delta.combine(self._pending) if self._pending else None
        changes = sum(size for _, size in self._deltas) + (len(pending) if pending else 0)
        if self._base is None or changes > self._base_size:
            self._write_base(generation)
        elif pending is not None and len(pending):
            name = f"dense-{generation}-{secrets.token_hex(4)}.delta.npz"
            pending.save(self.catalog.path / name)
            self._deltas.append((name, len(pending)))
            while plan := plan_merge([size for _, size in self._deltas], [0] * len(self._deltas)):
                self._merge_deltas(generation, *plan)
        self._pending = []
        return {"dense_file": self._base, "dense_deltas": [name for name, _ in self._deltas],
                "dense_delta_sizes": [size for _, size in self._deltas]}

    def _write_base(self, generation: int) -> None:
        """Write the whole index as a new base file, the recent additions folded into it
        first (the one time a flat index's buffer grows by more than a write)."""
        import faiss

        if self._recent is not None:
            recent, self._recent = self._recent, None
            if recent.ntotal:
                self.index.add_with_ids(recent.index.reconstruct_n(0, recent.ntotal),
                                        faiss.vector_to_array(recent.id_map))
        dense_file = self.catalog.path / f"dense-{generation}-{secrets.token_hex(4)}.faiss"
        faiss.write_index(self.index, str(dense_file) + ".tmp")
        with open(str(dense_file) + ".tmp", "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(str(dense_file) + ".tmp", dense_file)
        self._base, self._base_size, self._deltas = dense_file.name, self.index.ntotal, []

    def _merge_deltas(self, generation: int, start: int, end: int) -> None:
        merged = Delta.combine([Delta.load(self.catalog.path / name)
                                for name, _ in self._deltas[start:end]])
        name = f"dense-{generation}-{secrets.token_hex(4)}.delta.npz"
        merged.save(self.catalog.path / name)
        self._deltas[start:end] = [(name, len(merged))]

    def check(self, manifest: dict) -> list[str]:
        name = manifest.get("dense_file")
        if not name or not (self.catalog.path / name).exists():
            return [f"{name or 'the FAISS file'} (named in {MANIFEST_NAME}) is missing"]
        try:
            stored = self._read(manifest)
        except (RuntimeError, OSError, ValueError, KeyError):
            return [f"{name} or its deltas are not a readable FAISS index"]
        chunk_ids = self.catalog.chunks.ids
        held = faiss_ids(*stored)
        if held != chunk_ids.tolist():
            return [f"{name} holds {len(held)} vectors for {len(chunk_ids)} chunks"]
        return []

    def ids(self) -> list[int]:
        return faiss_ids(*self._parts())

    def search(self, vector: np.ndarray, k: int,
               filters: Filters | None = None) -> list[tuple[int, float]]:
        """Nearest chunks; a filter becomes an id selector over the chunks that pass it."""
        import faiss

        parts = [part for part in self._parts() if part.ntotal]
        if not parts:
            return []
        mask = self.catalog.chunks.allowed(filters)
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        params = None
        if mask is not None:
            if not mask.any():
                return []
            selector = faiss.IDSelectorBatch(self.catalog.chunks.ids[mask])
            index = self.index
            if self.catalog.dense_kind is DenseKind.HNSW:
                params = faiss.SearchParametersHNSW(sel=selector)
            elif isinstance(index, faiss.IndexIVF):
                # a filter leaves fewer candidates in each list: search more lists, in proportion
                params = faiss.SearchParametersIVF(
                    sel=selector, nprobe=min(index.nlist, math.ceil(IVF_PROBES / mask.mean())))
            else:
                params = faiss.SearchParameters(sel=selector)
        hits = []
        for part in parts:
            scores, ids = part.search(query, k) if params is None else \
                part.search(query, k, params=params)
            hits += [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        # the base's hits first, so a stable sort keeps its order among equal scores
        return sorted(hits, key=lambda hit: -hit[1])[:k] if len(parts) > 1 else hits

    def scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray:
        import faiss

        if not len(chunk_ids):
            return np.zeros(0, dtype=np.float32)
        chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        if self._recent is None:
            vectors = self.index.reconstruct_batch(chunk_ids)
        else:
            vectors = np.empty((len(chunk_ids), self._recent.d), dtype=np.float32)
            recent = np.isin(chunk_ids, faiss.vector_to_array(self._recent.id_map))
            for part, rows in ((self.index, ~recent), (self._recent, recent)):
                if rows.any():
                    vectors[rows] = part.reconstruct_batch(chunk_ids[rows])
        return vectors @ np.asarray(vector, dtype=np.float32)

    def stats(self) -> dict:
        return {}

    def close(self) -> None:
        """Nothing to let go of: the index is memory and a file."""

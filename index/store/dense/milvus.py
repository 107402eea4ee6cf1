"""A dense index in a Milvus collection: for corpora that outgrow one machine's memory for
vectors (see docs/scale.md).

SQLite in the index directory stays the truth (articles, chunk offsets, the vectors), so the
chat's outlet, date, title and link and every quoted chunk text come from there, and the
collection can be rebuilt from it without re-embedding. The collection holds one row per
chunk: the vector and the scalar fields searches filter on (outlet, publication time,
article id, chunk offsets).

The same client code talks to Milvus Lite (a local file: `milvus:///path/to/file.db`, no
server; `pip install 'newscite[scale]'`) and to a Milvus server or cluster
(`http://host:19530`). Select it with the `store` setting.

Example:
    >>> store = Store.open("idx", engine="milvus:///tmp/news.db", identity=identity,
    ...                    writable=True, create=True)
    >>> store.dense_search(vector, k=10, filters=Filters(sources=("The Verge",)))
    [(chunk_id, score), ...]
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from newscite.index.store.catalog import MANIFEST_NAME, Catalog
from newscite.index.store.dense import IVF_PROBES, DenseKind
from newscite.types import Filters

log = logging.getLogger(__name__)

LITE_SCHEME = "milvus://"
INSERT_BATCH = 5_000  # rows per insert: well under Milvus' 64 MB message limit at 384-d
IVF_LISTS = 1_024  # Milvus builds IVF per segment (up to about a million rows each)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def client_uri(uri: str) -> str:
    """What pymilvus connects to: an absolute file path for Milvus Lite (`milvus:///x.db`,
    `milvus://relative/x.db`), the URL itself for a server (`http://host:19530`)."""
    if uri.startswith(LITE_SCHEME):
        return str(Path(uri[len(LITE_SCHEME):]).expanduser().resolve())
    if uri.startswith(("http://", "https://")):
        return uri
    raise ValueError(f"not a Milvus URI: {uri!r}; use milvus:///path/to/file.db (Milvus Lite) "
                     f"or http://host:19530 (a Milvus server)")


def connect(uri: str):
    """A pymilvus client for `uri` (see `client_uri`)."""
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as exc:
        raise ImportError("the Milvus store needs pymilvus and milvus-lite: "
                          "pip install 'newscite[scale]'") from exc
    target = client_uri(uri)
    try:
        return MilvusClient(target)
    except MilvusException as exc:
        if uri.startswith(LITE_SCHEME):  # Milvus Lite serves one process per file
            raise RuntimeError(
                f"cannot open the Milvus Lite file {target} ({exc.message}); another process "
                f"(a running `newscite serve` or ingest) may hold it: stop that process, or use "
                f"a Milvus server (store = http://host:19530) to share one index") from None
        raise


def microseconds(value: datetime) -> int:
    """Microseconds since 1970 (UTC), exact: the collection's publication-time field."""
    return (value - _EPOCH) // _MICROSECOND


def expression(filters: Filters | None) -> str:
    """A Milvus boolean expression for `filters` ('' when unfiltered). Outlets compare
    case-folded; an article of unknown date fails any date bound, as in `FaissIndex`."""
    if filters is None or filters.is_empty:
        return ""
    terms = []
    if filters.sources:
        terms.append(f"source in {json.dumps(sorted({s.casefold() for s in filters.sources}))}")
    if filters.since is not None:
        terms.append(f"published_us >= {microseconds(filters.since)}")
    if filters.until is not None:
        terms.append(f"published_us <= {microseconds(filters.until)}")
    return " and ".join(terms)


def create_collection(client, name: str, dimension: int, kind: DenseKind) -> None:
    """The chunk collection: id, vector and the scalar fields newscite filters on. The index
    follows the `dense_index` setting: FLAT (exact), HNSW, or IVF_FLAT."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("article_id", DataType.VARCHAR, max_length=128)
    schema.add_field("source", DataType.VARCHAR, max_length=1024)
    schema.add_field("published_us", DataType.INT64, nullable=True)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    index = client.prepare_index_params()
    if kind is DenseKind.HNSW:
        index.add_index("vector", index_type="HNSW", metric_type="IP",
                        params={"M": 32, "efConstruction": 200})
    elif kind is DenseKind.IVF:
        index.add_index("vector", index_type="IVF_FLAT", metric_type="IP",
                        params={"nlist": IVF_LISTS})
    else:
        index.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index,
                             consistency_level="Strong")


class MilvusIndex:
    """The catalog's chunk vectors in a Milvus collection (see the module docstring); `uri`
    names the Milvus Lite file or server."""

    engine = "milvus"

    def __init__(self, catalog: Catalog, uri: str):
        self.catalog = catalog
        self.uri = uri if uri.startswith(("http://", "https://")) else \
            LITE_SCHEME + client_uri(uri)
        self.client = connect(uri)
        # one collection per index directory, so that many indexes can share a server; the
        # prefix is the product's first name, so collections made before the rename are found
        self.collection = "newsrag_" + hashlib.sha1(
            str(catalog.path.resolve()).encode()).hexdigest()[:16]
        self._synced = False  # whether the collection is known to match the catalog

    def _row_count(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _in_step(self) -> bool:
        """Whether the collection exists and holds as many rows as SQLite has chunks; it is
        loaded into memory then (a collection a process opens is not loaded yet)."""
        if not self.client.has_collection(self.collection):
            return False
        self.client.load_collection(self.collection)
        return self._row_count() == len(self.catalog.chunks.ids)

    def _ready(self) -> None:
        """Make sure the collection matches SQLite: a writer rebuilds it from the stored
        vectors when it does not; a reader takes it when its row count matches."""
        if self._synced:
            return
        if self._in_step():
            self._synced = True
        elif self.catalog.writable:
            self._rebuild()
        else:
            path = self.catalog.path
            raise RuntimeError(
                f"the Milvus collection {self.collection} at {self.uri} does not match the "
                f"index at {path}: run `newscite check --repair --index {path}` with "
                f"the same store setting to rebuild it from the stored vectors")

    def _rebuild(self) -> None:
        log.info("building Milvus collection %s at %s from %d stored vectors", self.collection,
                 self.uri, len(self.catalog.chunks.ids))
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)
        create_collection(self.client, self.collection, int(self.catalog.identity["dimension"]),
                          self.catalog.dense_kind)
        for ids, vectors in self.catalog.stored_vectors(batch=INSERT_BATCH):
            self._insert(ids, vectors)
        self._synced = True

    def _insert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert chunks (ids in ascending order) with their scalar fields from SQLite."""
        fields = {r[0]: r for r in self.catalog.chunk_fields(int(ids[0]), int(ids[-1]))}
        data = []
        for chunk_id, vector in zip(ids.tolist(), vectors):
            _, article_id, start, end, source, published = fields[chunk_id]
            data.append({"id": chunk_id, "vector": vector.tolist(), "article_id": article_id,
                         "source": (source or "").casefold(), "start": start, "end": end,
                         "published_us": microseconds(datetime.fromisoformat(published))
                         if published else None})
        for offset in range(0, len(data), INSERT_BATCH):
            self.client.insert(self.collection, data[offset:offset + INSERT_BATCH])

    # ---- the DenseIndex protocol ---------------------------------------------------------

    def load(self, manifest: dict) -> bool:
        self._synced = (manifest.get("milvus_uri") == self.uri
                        and manifest.get("milvus_collection") == self.collection
                        and self._in_step())
        return self._synced

    def reset(self) -> None:
        self._synced = False

    def remove(self, ids: list[int]) -> None:
        if ids and self._synced:  # else rebuilt from SQLite when next needed
            self.client.delete(self.collection, ids=ids)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self._synced:  # else rebuilt from SQLite when next needed
            order = np.argsort(ids)
            self._insert(ids[order], vectors[order])

    def save(self, generation: int) -> dict:
        self._ready()
        self.client.flush(self.collection)
        return self.stats()  # the manifest records where the collection lives

    def check(self, manifest: dict) -> list[str]:
        named = (manifest.get("milvus_uri"), manifest.get("milvus_collection"))
        if named != (self.uri, self.collection):
            return [f"{MANIFEST_NAME} names no Milvus collection {self.collection} at "
                    f"{self.uri} (it names {named[1] or 'none'} at {named[0] or 'none'})"]
        if not self.client.has_collection(self.collection):
            return [f"the Milvus collection {self.collection} at {self.uri} is missing"]
        ids = self.ids()
        if ids != self.catalog.chunks.ids.tolist():
            return [f"the Milvus collection {self.collection} holds {len(ids)} vectors for "
                    f"{len(self.catalog.chunks.ids)} chunks"]
        return []

    def ids(self) -> list[int]:
        if not self.client.has_collection(self.collection):
            return []
        self.client.load_collection(self.collection)
        ids: list[int] = []
        iterator = self.client.query_iterator(self.collection, batch_size=10_000, filter="",
                                              output_fields=["id"])
        while batch := iterator.next():
            ids += [row["id"] for row in batch]
        iterator.close()
        return sorted(ids)

    def search(self, vector: np.ndarray, k: int,
               filters: Filters | None = None) -> list[tuple[int, float]]:
        """Nearest chunks; a filter becomes a Milvus boolean expression (`expression`)."""
        self._ready()
        if not len(self.catalog.chunks.ids):
            return []
        params = {"metric_type": "IP"}
        kind = self.catalog.dense_kind
        if kind is DenseKind.HNSW:
            params["params"] = {"ef": max(k, 64)}
        elif kind is DenseKind.IVF:
            params["params"] = {"nprobe": IVF_PROBES}
        hits = self.client.search(self.collection, data=[np.asarray(vector, np.float32).tolist()],
                                  anns_field="vector", limit=k, filter=expression(filters),
                                  output_fields=[], search_params=params)[0]
        return [(int(hit["id"]), float(hit["distance"])) for hit in hits]

    def scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray:
        if not len(chunk_ids):
            return np.zeros(0, dtype=np.float32)
        self._ready()
        rows = self.client.get(self.collection, ids=[int(i) for i in chunk_ids],
                               output_fields=["vector"])
        by_id = {row["id"]: row["vector"] for row in rows}
        vectors = np.asarray([by_id[int(i)] for i in chunk_ids], dtype=np.float32)
        return vectors @ np.asarray(vector, dtype=np.float32)

    def stats(self) -> dict:
        return {"milvus_uri": self.uri, "milvus_collection": self.collection}

    def close(self) -> None:
        self.client.close()

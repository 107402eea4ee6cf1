"""The index on disk: SQLite holds the truth, the search indexes are derived from it.

- `catalog.py`: the SQLite catalog (articles, chunks with their vectors, ingest runs,
  generations, the manifest), `connect.py` (the writer lock, the connection) and
  `records.py`, its rows as objects;
- `newscite.index.keywords`: the BM25 keyword index, in segments (`index/postings.py`,
  merged as `index/tiers.py` plans);
- `dense/`: the dense index protocol, `faiss.py` (the default) and `milvus.py`;
- `composite.py`: `Store`, which opens the three together and keeps them in step, and
  `derived.py`, which takes up the derived files of a manifest and catches them up;
- `protocols.py`: the narrow views callers use (search, ingest, remove, check, describe).

Example:
    >>> with Store.open("newscite-index", identity=identity, writable=True, create=True,
    ...                 engine="faiss") as store:
    ...     store.upsert([(article, chunks, vectors)])
"""

from newscite.index.store.catalog import (
                                          DB_NAME,
                                          MANIFEST_NAME,
                                          Catalog,
                                          IndexMismatchError,
                                          read_manifest,
)
from newscite.index.store.composite import Store
from newscite.index.store.connect import IndexLockedError
from newscite.index.store.dense import DenseIndex, DenseKind
from newscite.index.store.protocols import (
                                          CheckTarget,
                                          IndexInfo,
                                          IngestTarget,
                                          RemoveTarget,
                                          SearchIndex,
)
from newscite.index.store.records import StoredArticle, content_hash

__all__ = ["DB_NAME", "MANIFEST_NAME", "Catalog", "CheckTarget", "DenseIndex", "DenseKind",
           "IndexInfo", "IndexLockedError", "IndexMismatchError", "IngestTarget", "RemoveTarget",
           "SearchIndex", "Store", "StoredArticle", "content_hash", "read_manifest"]

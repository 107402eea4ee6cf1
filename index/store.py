"""The index on disk: SQLite holds the truth, the search indexes are derived from it.

`SqliteStore` keeps articles, chunks (with their vectors) and ingest runs in SQLite and the
BM25 keyword index beside it; a subclass supplies the dense index: `FaissStore` (a FAISS file
in the index directory, the default) or `index.milvus.MilvusStore` (a Milvus collection).
Both satisfy `Store`, the protocol the rest of newsrag uses.

An index directory of a `FaissStore` holds
- `newsrag.sqlite`: articles, chunks (with their vectors) and ingest runs; every write is
  one SQLite transaction, and each commit bumps a generation number;
- `dense-<generation>.faiss`: an ID-mapped inner-product index over the chunk vectors
  (flat by default; HNSW or IVF as options for large corpora, see `DenseKind`);
- `bm25-<generation>/`: the keyword index in bm25s' own format (numpy arrays + JSON);
- `manifest.json`: format version, embedding model, chunker settings, counts, and the
  generation the derived files belong to. It is replaced atomically, last.

A kill at any moment leaves SQLite at its last commit; when the manifest's generation does
not match SQLite's, the derived files are rebuilt from SQLite on open (no re-embedding).
No pickle is used anywhere. Only one process writes at a time (an exclusive file lock).

Example:
    >>> store = FaissStore.open("newsrag-index", identity={"model": "m", "dimension": 384, ...},
    ...                         writable=True, create=True)
    >>> store.upsert([(article, chunks, vectors)])
    >>> store.dense_search(query_vector, k=10)
    [(chunk_id, score), ...]
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Protocol, Sequence

import numpy as np

from index.articles import Article, Chunk, Coverage
from index.keywords import KeywordIndex
from rag.schema import Filters, Passage

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DB_NAME = "newsrag.sqlite"
MANIFEST_NAME = "manifest.json"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, source TEXT,
    published_at TEXT, url TEXT, authors TEXT NOT NULL, category TEXT,
    also_reported_by TEXT NOT NULL, origin TEXT NOT NULL, fingerprint TEXT NOT NULL,
    content_hash TEXT NOT NULL, minhash BLOB, feed TEXT);
CREATE INDEX IF NOT EXISTS articles_fingerprint ON articles (fingerprint);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    header TEXT NOT NULL, n_tokens INTEGER NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks (article_id);
CREATE TABLE IF NOT EXISTS ingests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
    paths TEXT NOT NULL, summary TEXT);
"""


class DenseKind(str, enum.Enum):
    """The FAISS index over the chunk vectors (figures: docs/performance.md, eval.bench_scale).

    - flat: exact search; a query reads every vector (about 1.5 KB a chunk), which takes
      tens of milliseconds from a few hundred thousand chunks on;
    - hnsw: a graph, fast to search but slow to build on few cores, and rebuilt from SQLite
      after every deletion;
    - ivf: inverted lists (IVF-Flat, `ivf_lists(n)` lists, IVF_PROBES searched): exact (flat)
      below IVF_MIN_CHUNKS, then recall@10 >= 0.95 in a few milliseconds at 1M chunks;
      updated in place, retrained from SQLite when the corpus outgrows its lists.
    """

    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"


IVF_MIN_CHUNKS = 20_000
IVF_PROBES = 32


def ivf_lists(n: int) -> int:
    """Inverted lists of an `ivf` store's index for n chunks: 4 sqrt(n) as a power of two
    (1,024 at 100k, 4,096 at 1M); 0 below IVF_MIN_CHUNKS, where the index is flat."""
    return 0 if n < IVF_MIN_CHUNKS else 2 ** round(math.log2(4 * math.sqrt(n)))


def _faiss_ids(index) -> list[int]:
    """Sorted chunk ids a FAISS index holds: an ID map's, or an IVF index's own."""
    import faiss

    if isinstance(index, faiss.IndexIVF):
        lists = index.invlists
        return sorted(int(i) for n in range(index.nlist) if lists.list_size(n)
                      for i in faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)))
    return sorted(faiss.vector_to_array(index.id_map).tolist())


class IndexMismatchError(RuntimeError):
    """The index was built with another embedding model or chunker than the one configured."""


class IndexLockedError(RuntimeError):
    """Another process is writing to the index."""


class Store(Protocol):
    """What ingestion, retrieval, the chat, the CLI and the evaluation need from an index.

    `FaissStore` and `index.milvus.MilvusStore` implement it; `rag.factory.open_store` picks
    one by the `store` setting. Chunk ids are integers given by the store; vectors are unit
    length, so inner product is cosine similarity.
    """

    path: Path

    # writing (a store opened with writable=True; one writer at a time)
    def upsert(self, items: Sequence[tuple[Article, list[Chunk], np.ndarray]],
               minhashes: dict[str, bytes] | None = None) -> None: ...
    def add_coverage(self, article_id: str, coverage: tuple[Coverage, ...]) -> None: ...
    def delete(self, article_ids: Iterable[str]) -> int: ...
    def replace_all_chunks(self, items: Sequence[tuple[str, list[Chunk], np.ndarray]],
                           identity: dict) -> None: ...
    def log_ingest(self, paths: list[str], started_at: datetime, summary: dict) -> None: ...
    def flush(self) -> None: ...
    def repair(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Store: ...
    def __exit__(self, *exc) -> None: ...

    # searching
    def dense_search(self, vector: np.ndarray, k: int,
                     filters: Filters | None = None) -> list[tuple[int, float]]: ...
    def keyword_search(self, query: str, k: int,
                       filters: Filters | None = None) -> list[tuple[int, float]]: ...
    def keyword_scores(self, query: str, chunk_ids: np.ndarray) -> np.ndarray: ...
    def dense_scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray: ...
    def chunk_dates(self, chunk_ids: np.ndarray) -> np.ndarray: ...

    # reading articles and passages
    def passages(self, chunk_ids: Sequence[int]) -> list[Passage]: ...
    def article(self, article_id: str) -> Article | None: ...
    def articles(self) -> Iterator[Article]: ...
    def known_articles(self) -> dict[str, StoredArticle]: ...
    def find_ids(self, keys: Iterable[str]) -> list[str]: ...
    def latest_titles(self, limit: int = 200) -> list[tuple[str, str]]: ...

    # describing and checking
    def counts(self) -> dict: ...
    def sources(self) -> list[tuple[str, int]]: ...
    def date_span(self) -> tuple[datetime | None, datetime | None]: ...
    def stats(self) -> dict: ...
    def check_files(self) -> list[str]: ...
    def verify(self) -> list[str]: ...


@dataclass(frozen=True)
class StoredArticle:
    """What ingestion needs to know about an article already in the index."""

    id: str
    fingerprint: str
    content_hash: str
    minhash: bytes | None


def content_hash(article: Article) -> str:
    """Changes whenever anything that is indexed about the article changes."""
    date = article.published_at.isoformat() if article.published_at else ""
    key = "\x1f".join((article.title, article.source or "", date, article.url or "",
                       article.body))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _coverage_json(coverage: tuple[Coverage, ...]) -> str:
    return json.dumps([{"source": c.source, "url": c.url, "published_at": _iso(c.published_at)}
                       for c in coverage])


def _coverage_from_json(text: str) -> tuple[Coverage, ...]:
    return tuple(Coverage(c["source"], c["url"],
                          datetime.fromisoformat(c["published_at"]) if c["published_at"] else None)
                 for c in json.loads(text))


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SqliteStore:
    """SQLite + BM25 in one directory; a subclass adds the dense index (see the module
    docstring). Subclasses implement the `_dense_*` hooks, `dense_search` and `dense_scores`.
    """

    engine = ""  # the store's name in stats and manifests

    def __init__(self, path: Path, db: sqlite3.Connection, *, writable: bool,
                 lock_fd: int | None):
        self.path = path
        self.db = db
        self.writable = writable
        self._lock_fd = lock_fd
        self._keywords: KeywordIndex | None = None
        self._chunk_ids = np.zeros(0, dtype=np.int64)
        self._source_names = np.zeros(0, dtype=str)  # casefolded outlets, sorted
        self._chunk_sources = np.zeros(0, dtype=np.int64)  # per chunk: its _source_names index
        self._chunk_dates = np.zeros(0, dtype=np.float64)
        self._dirty = False

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, identity: dict | None = None, writable: bool = False,
             create: bool = False, dense_kind: DenseKind | str = DenseKind.FLAT,
             **options) -> SqliteStore:
        """Open (or with `create`, make) the index at `path`.

        Each key of `identity` (embedding model, dimension, chunker settings) must match
        what the index was built with, else `IndexMismatchError`. `writable` takes the writer
        lock. `options` go to the subclass (e.g. MilvusStore's `uri`).
        """
        path = Path(path).expanduser()
        db_path = path / DB_NAME
        if not db_path.exists():
            if not create:
                raise FileNotFoundError(
                    f"no newsrag index at {path}: build one with `newsrag ingest PATH --index "
                    f"{path}`, or point --index (or NEWSRAG_INDEX) at an existing index")
            if identity is None:
                raise ValueError("a new index needs the embedding model and chunker identity")
            path.mkdir(parents=True, exist_ok=True)
        lock_fd = cls._take_lock(path) if writable else None
        db = cls._connect(db_path, writable)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        if writable:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.executescript(SCHEMA)
            cls._add_missing_columns(db)
        try:
            store = cls(path, db, writable=writable, lock_fd=lock_fd, **options)
        except BaseException:  # e.g. the engine's client is not installed or not reachable
            db.close()
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        store._check_identity(identity, DenseKind(dense_kind))
        store._load_derived()
        return store

    @staticmethod
    def _add_missing_columns(db: sqlite3.Connection) -> None:
        """Add the (nullable) columns newer than the index's database, so an index written
        by an earlier version keeps working. Until its first write, readers take them as
        empty."""
        columns = {row[1] for row in db.execute("PRAGMA table_info(articles)")}
        if "feed" not in columns:
            db.execute("ALTER TABLE articles ADD COLUMN feed TEXT")

    @staticmethod
    def _connect(db_path: Path, writable: bool) -> sqlite3.Connection:
        """A SQLite connection; a reader's is read-only (`mode=ro`), so it works on an index
        it may not write to. In a directory nobody may write to SQLite cannot create the WAL's
        shared-memory file, so the reader there opens the database as `immutable` (the
        writer's last close has checkpointed the WAL into it)."""
        if writable:
            return sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        uri = f"{db_path.resolve().as_uri()}?mode=ro"
        if not os.access(db_path.parent, os.W_OK):
            uri += "&immutable=1"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)

    @staticmethod
    def _take_lock(path: Path) -> int:
        try:
            fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            # EROFS: a read-only mount, which stops root too
            if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise PermissionError(
                f"the index directory {path} is not writable: searching it works, but "
                f"ingest, remove and reindex need write permission there") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IndexLockedError(
                f"another newsrag process is writing to the index at {path}; wait for it to "
                f"finish and run the command again") from None
        return fd

    def close(self) -> None:
        """Flush what is not yet written (a writer), then let go of the database and the
        writer lock, even when the flush fails (a full disk): SQLite keeps the commits."""
        try:
            if self.writable and self._dirty:
                self.flush()
        finally:
            self.db.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    @property
    def generation(self) -> int:
        return int(self.meta("generation", "0"))

    @property
    def identity(self) -> dict:
        return json.loads(self.meta("identity", "{}"))

    @property
    def dense_kind(self) -> DenseKind:
        return DenseKind(self.meta("dense_kind", DenseKind.FLAT.value))

    def _check_identity(self, identity: dict | None, dense_kind: DenseKind) -> None:
        stored = self.meta("identity")
        if stored is None:
            if not self.writable:
                raise FileNotFoundError(f"the index at {self.path} is empty: ingest articles first")
            self.db.execute("INSERT INTO meta VALUES ('identity', ?), ('dense_kind', ?), "
                            "('format_version', ?), ('generation', '0')",
                            (json.dumps(identity, sort_keys=True), dense_kind.value,
                             str(FORMAT_VERSION)))
            return
        version = int(self.meta("format_version", "0"))
        if version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"the index at {self.path} has format version {version}, this newsrag reads "
                f"{FORMAT_VERSION}: rebuild it by ingesting the articles into a new --index folder")
        built_with = json.loads(stored)
        differences = ", ".join(f"{key}: index has {built_with.get(key)!r}, configured {value!r}"
                                for key, value in (identity or {}).items()
                                if built_with.get(key) != value)
        if differences:
            raise IndexMismatchError(
                f"the index at {self.path} was built with other settings ({differences}); "
                f"run `newsrag reindex --index {self.path}` with the new settings to re-chunk "
                f"and re-embed it, or configure the settings it was built with")

    # ---- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic SQLite write that bumps the generation."""
        if not self.writable:
            raise PermissionError(f"the index at {self.path} was opened read-only")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                            "WHERE key = 'generation'")
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLite has rolled back itself after e.g. a full disk
                self.db.execute("ROLLBACK")
            raise
        self._dirty = True

    def upsert(self, items: Sequence[tuple[Article, list[Chunk], np.ndarray]],
               minhashes: dict[str, bytes] | None = None) -> None:
        """Insert or replace articles with their chunks and vectors, in one commit."""
        if not items:
            return
        minhashes = minhashes or {}
        removed: list[int] = []
        added: list[tuple[np.ndarray, np.ndarray]] = []
        with self.transaction() as db:
            for article, chunks, vectors in items:
                if len(chunks) != len(vectors):
                    raise ValueError(f"{article.id}: {len(chunks)} chunks but {len(vectors)} vectors")
                removed += [r[0] for r in db.execute(
                    "SELECT id FROM chunks WHERE article_id = ?", (article.id,))]
                db.execute("DELETE FROM chunks WHERE article_id = ?", (article.id,))
                db.execute(
                    "INSERT OR REPLACE INTO articles (id, title, body, source, published_at, "
                    "url, authors, category, also_reported_by, origin, fingerprint, "
                    "content_hash, minhash, feed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (article.id, article.title, article.body, article.source,
                     _iso(article.published_at), article.url, json.dumps(list(article.authors)),
                     article.category, _coverage_json(article.also_reported_by), article.origin,
                     article.fingerprint, content_hash(article), minhashes.get(article.id),
                     article.feed))
                ids = []
                for chunk, vector in zip(chunks, vectors):
                    cursor = db.execute(
                        'INSERT INTO chunks (article_id, ordinal, start, "end", header, n_tokens, '
                        "vector) VALUES (?,?,?,?,?,?,?)",
                        (article.id, chunk.ordinal, chunk.start, chunk.end, chunk.header,
                         chunk.n_tokens, np.asarray(vector, dtype=np.float32).tobytes()))
                    ids.append(cursor.lastrowid)
                if ids:
                    added.append((np.asarray(ids, dtype=np.int64),
                                  np.asarray(vectors, dtype=np.float32)))
        self._apply_changes(removed, added)

    def add_coverage(self, article_id: str, coverage: tuple[Coverage, ...]) -> None:
        """Record other outlets' copies on a stored article ("also reported by")."""
        row = self.db.execute("SELECT also_reported_by FROM articles WHERE id = ?",
                              (article_id,)).fetchone()
        known = _coverage_from_json(row[0])
        new = tuple(c for c in coverage if c not in known)
        if new:
            with self.transaction() as db:
                db.execute("UPDATE articles SET also_reported_by = ? WHERE id = ?",
                           (_coverage_json(known + new), article_id))

    def delete(self, article_ids: Iterable[str]) -> int:
        """Delete articles and their chunks; returns how many articles were deleted."""
        ids = list(dict.fromkeys(article_ids))
        removed: list[int] = []
        deleted = 0
        with self.transaction() as db:
            for article_id in ids:
                removed += [r[0] for r in db.execute(
                    "SELECT id FROM chunks WHERE article_id = ?", (article_id,))]
                db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
                deleted += db.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount
        self._apply_changes(removed, [])
        return deleted

    def replace_all_chunks(self, items: Sequence[tuple[str, list[Chunk], np.ndarray]],
                           identity: dict) -> None:
        """Swap every article's chunks and the index identity in one commit (reindex)."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks")
            for article_id, chunks, vectors in items:
                for chunk, vector in zip(chunks, vectors):
                    db.execute(
                        'INSERT INTO chunks (article_id, ordinal, start, "end", header, n_tokens, '
                        "vector) VALUES (?,?,?,?,?,?,?)",
                        (article_id, chunk.ordinal, chunk.start, chunk.end, chunk.header,
                         chunk.n_tokens, np.asarray(vector, dtype=np.float32).tobytes()))
            db.execute("UPDATE meta SET value = ? WHERE key = 'identity'",
                       (json.dumps(identity, sort_keys=True),))
        self._rebuild_derived()

    def log_ingest(self, paths: list[str], started_at: datetime, summary: dict) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO ingests (started_at, finished_at, paths, summary) "
                       "VALUES (?,?,?,?)", (started_at.isoformat(),
                                            datetime.now(timezone.utc).isoformat(),
                                            json.dumps(paths), json.dumps(summary)))

    def flush(self) -> None:
        """Write the derived files for the current generation, then the manifest, atomically."""
        if not self.writable:
            return
        generation = self.generation
        self._ensure_keywords()
        dense = self._dense_write(generation)
        bm25_dir = self.path / f"bm25-{generation}"
        tmp_dir = self.path / f"bm25-{generation}.tmp"
        shutil.rmtree(tmp_dir, ignore_errors=True)
        self._keywords.save(tmp_dir)
        shutil.rmtree(bm25_dir, ignore_errors=True)
        os.replace(tmp_dir, bm25_dir)
        manifest = {"format_version": FORMAT_VERSION, "generation": generation,
                    "identity": self.identity, "store": self.engine,
                    "dense_kind": self.dense_kind.value, **dense, "bm25_dir": bm25_dir.name,
                    "counts": self.counts(), "written_at": datetime.now(timezone.utc).isoformat()}
        _write_atomic(self.path / MANIFEST_NAME, json.dumps(manifest, indent=2).encode())
        _fsync_dir(self.path)
        self._remove_stale_files(keep={dense.get("dense_file"), bm25_dir.name})
        self._dirty = False

    def _remove_stale_files(self, keep: set[str]) -> None:
        for entry in self.path.iterdir():
            if entry.name.startswith(("dense-", "bm25-")) and entry.name not in keep:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    # ---- derived indexes -----------------------------------------------------------------

    def _read_manifest(self) -> dict | None:
        try:
            return json.loads((self.path / MANIFEST_NAME).read_text())
        except (OSError, ValueError):
            return None

    def _load_derived(self) -> None:
        self._load_chunk_metadata()
        manifest = self._read_manifest()
        if manifest and manifest.get("generation") == self.generation:
            try:
                self._keywords = KeywordIndex.load(self.path / manifest["bm25_dir"])
                if self._keywords.chunk_ids.tolist() == self._chunk_ids.tolist() and \
                        self._dense_load(manifest):
                    return
                log.warning("derived files of %s disagree with its database; rebuilding", self.path)
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                log.warning("could not read the derived files of %s (%s); rebuilding", self.path, exc)
        elif self.generation:
            log.info("index %s was not flushed after its last commit; rebuilding its FAISS and "
                     "BM25 files from SQLite (no re-embedding)", self.path)
        self._rebuild_derived()

    def repair(self) -> None:
        """Rewrite the dense index, the BM25 files and the manifest from SQLite (no
        re-embedding), whatever state they are in."""
        if not self.writable:
            raise PermissionError(f"the index at {self.path} was opened read-only")
        self._rebuild_derived()

    def _rebuild_derived(self) -> None:
        self._dense_reset()
        self._keywords = None
        self._load_chunk_metadata()
        self._dirty = True
        if self.writable:
            self.flush()

    def _load_chunk_metadata(self) -> None:
        rows = self.db.execute(
            "SELECT c.id, a.source, a.published_at FROM chunks c JOIN articles a "
            "ON a.id = c.article_id ORDER BY c.id").fetchall()
        self._chunk_ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        self._source_names, self._chunk_sources = np.unique(
            np.asarray([(r[1] or "").casefold() for r in rows], dtype=str), return_inverse=True)
        self._chunk_dates = np.asarray(
            [datetime.fromisoformat(r[2]).timestamp() if r[2] else np.nan for r in rows],
            dtype=np.float64)

    def _apply_changes(self, removed: list[int],
                       added: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Bring the in-memory metadata and the derived indexes up to a committed write."""
        self._load_chunk_metadata()
        self._keywords = None
        self._dense_apply(removed, added)

    def _stored_vectors(self, batch: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(chunk ids, vectors) of every stored chunk in id order, a batch at a time: what a
        dense index is rebuilt from without re-embedding."""
        for offset in range(0, len(self._chunk_ids), batch):
            rows = self.db.execute("SELECT id, vector FROM chunks ORDER BY id LIMIT ? OFFSET ?",
                                   (batch, offset)).fetchall()
            yield (np.asarray([r[0] for r in rows], dtype=np.int64),
                   np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))

    # ---- the dense index: implemented by subclasses ---------------------------------------

    def _dense_load(self, manifest: dict) -> bool:
        """Take up the dense index the manifest names; False when it disagrees with SQLite."""
        raise NotImplementedError

    def _dense_reset(self) -> None:
        """Forget the dense index: it is rebuilt from SQLite's vectors."""
        raise NotImplementedError

    def _dense_apply(self, removed: list[int], added: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Remove and add vectors after a committed write."""
        raise NotImplementedError

    def _dense_write(self, generation: int) -> dict:
        """Make the dense index durable for `generation`; what the manifest records of it."""
        raise NotImplementedError

    def _dense_file_problems(self, manifest: dict) -> list[str]:
        """What is wrong with the dense index the manifest names, read afresh."""
        raise NotImplementedError

    def _dense_ids(self) -> list[int]:
        """Sorted chunk ids the dense index holds now."""
        raise NotImplementedError

    def _ensure_keywords(self) -> KeywordIndex:
        if self._keywords is None:
            rows = self.db.execute(
                'SELECT c.id, c.header, substr(a.body, c.start + 1, c."end" - c.start) '
                "FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.id").fetchall()
            self._keywords = KeywordIndex.build(
                np.asarray([r[0] for r in rows], dtype=np.int64),
                [f"{r[1]}\n{r[2]}" for r in rows])
        return self._keywords

    # ---- reading -------------------------------------------------------------------------

    def allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Boolean mask over chunks (in id order) that pass `filters`; None when unfiltered."""
        if filters is None or filters.is_empty:
            return None
        mask = np.ones(len(self._chunk_ids), dtype=bool)
        if filters.sources:
            wanted = np.flatnonzero(np.isin(self._source_names,
                                            [s.casefold() for s in filters.sources]))
            mask &= np.isin(self._chunk_sources, wanted)
        if filters.since is not None:
            mask &= self._chunk_dates >= filters.since.timestamp()
        if filters.until is not None:
            mask &= self._chunk_dates <= filters.until.timestamp()
        return mask

    def keyword_search(self, query: str, k: int,
                       filters: Filters | None = None) -> list[tuple[int, float]]:
        return self._ensure_keywords().search(query, k, self.allowed(filters))

    def keyword_scores(self, query: str, chunk_ids: np.ndarray) -> np.ndarray:
        """BM25 score of `query` for each of `chunk_ids` (0 where no query word occurs)."""
        keywords = self._ensure_keywords()
        scores = keywords.scores(query)
        if not len(scores):
            return np.zeros(len(chunk_ids), dtype=np.float32)
        return scores[np.searchsorted(keywords.chunk_ids, chunk_ids)]

    def chunk_dates(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Publication time (POSIX seconds, NaN when unknown) of each chunk's article."""
        return self._chunk_dates[np.searchsorted(self._chunk_ids, chunk_ids)]

    def passages(self, chunk_ids: Sequence[int]) -> list[Passage]:
        """Passages for chunk ids, in the order given (unknown ids are skipped)."""
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            f'SELECT c.id, c.article_id, c.start, c."end", a.title, a.source, a.published_at, '
            f"a.url, substr(a.body, c.start + 1, c.\"end\" - c.start) AS text, a.also_reported_by "
            f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})",
            list(chunk_ids)).fetchall()
        by_id = {r["id"]: r for r in rows}
        return [Passage(chunk_id=r["id"], article_id=r["article_id"], title=r["title"],
                        source=r["source"],
                        published_at=datetime.fromisoformat(r["published_at"])
                        if r["published_at"] else None,
                        url=r["url"], text=r["text"], start=r["start"], end=r["end"],
                        also_reported_by=_coverage_from_json(r["also_reported_by"]))
                for r in (by_id.get(i) for i in chunk_ids) if r is not None]

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            return None
        return Article(id=row["id"], title=row["title"], body=row["body"], source=row["source"],
                       published_at=datetime.fromisoformat(row["published_at"])
                       if row["published_at"] else None,
                       url=row["url"], authors=tuple(json.loads(row["authors"])),
                       category=row["category"],
                       also_reported_by=_coverage_from_json(row["also_reported_by"]),
                       origin=row["origin"],
                       feed=row["feed"] if "feed" in row.keys() else None)

    def articles(self) -> Iterator[Article]:
        for (article_id,) in self.db.execute("SELECT id FROM articles ORDER BY id").fetchall():
            yield self.article(article_id)

    def known_articles(self) -> dict[str, StoredArticle]:
        """id -> what ingestion compares against to skip unchanged articles and copies."""
        return {r[0]: StoredArticle(*r) for r in self.db.execute(
            "SELECT id, fingerprint, content_hash, minhash FROM articles")}

    def find_ids(self, keys: Iterable[str]) -> list[str]:
        """Article ids for keys that are ids or URLs (as stored, or normalised)."""
        from index.articles import normalise_url

        found = []
        for key in keys:
            row = self.db.execute("SELECT id FROM articles WHERE id = ? OR url = ?",
                                  (key, key)).fetchone()
            if row is None and "://" in key:
                for article_id, url in self.db.execute(
                        "SELECT id, url FROM articles WHERE url IS NOT NULL"):
                    if normalise_url(url) == normalise_url(key):
                        row = (article_id,)
                        break
            if row:
                found.append(row[0])
        return found

    def check_files(self) -> list[str]:
        """Problems with the index as it is stored: SQLite's own integrity check, and the
        manifest and the derived indexes it names, read afresh. (Opening a store rebuilds stale
        derived files in memory, so `verify` alone does not see what is missing on disk.)"""
        problems = [f"SQLite: {row[0]}" for row in self.db.execute("PRAGMA integrity_check")
                    if row[0] != "ok"]
        manifest = self._read_manifest()
        if manifest is None:
            return problems + [f"{MANIFEST_NAME} is missing or not valid JSON"]
        if manifest.get("generation") != self.generation:
            problems.append(f"{MANIFEST_NAME} is for generation {manifest.get('generation')}, "
                            f"the database is at generation {self.generation}")
        name = manifest.get("bm25_dir")
        if not name or not (self.path / name).exists():
            problems.append(f"{name or 'the BM25 folder'} (named in {MANIFEST_NAME}) is missing")
        else:
            try:
                if KeywordIndex.load(self.path / name).chunk_ids.tolist() != \
                        self._chunk_ids.tolist():
                    problems.append(f"{name} does not cover exactly the stored chunks")
            except (OSError, ValueError):
                problems.append(f"{name} is not a readable BM25 index")
        return problems + self._dense_file_problems(manifest)

    def verify(self) -> list[str]:
        """Problems found when cross-checking SQLite, the dense index and BM25; empty when
        consistent."""
        problems = []
        chunk_ids = [r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id")]
        dense_ids = self._dense_ids()
        if dense_ids != chunk_ids:
            problems.append(f"the {self.engine} dense index holds {len(dense_ids)} vectors for "
                            f"{len(chunk_ids)} chunks")
        if self._ensure_keywords().chunk_ids.tolist() != chunk_ids:
            problems.append("the BM25 index does not cover exactly the stored chunks")
        orphans = self.db.execute("SELECT count(*) FROM chunks c LEFT JOIN articles a "
                                  "ON a.id = c.article_id WHERE a.id IS NULL").fetchone()[0]
        if orphans:
            problems.append(f"{orphans} chunks belong to no article")
        bad_spans = self.db.execute('SELECT count(*) FROM chunks c JOIN articles a ON '
                                    'a.id = c.article_id WHERE c.start < 0 OR c."end" > '
                                    'length(a.body) OR c.start >= c."end"').fetchone()[0]
        if bad_spans:
            problems.append(f"{bad_spans} chunks point outside their article's body")
        return problems

    def latest_titles(self, limit: int = 200) -> list[tuple[str, str]]:
        """(outlet, title) of the newest articles that have both, newest first."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT source, title FROM articles WHERE source IS NOT NULL AND title != '' "
            "ORDER BY published_at DESC LIMIT ?", (limit,))]

    def counts(self) -> dict:
        return {"articles": self.db.execute("SELECT count(*) FROM articles").fetchone()[0],
                "chunks": self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]}

    def sources(self) -> list[tuple[str, int]]:
        """Outlets with their article counts, most frequent first."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT source, count(*) FROM articles WHERE source IS NOT NULL "
            "GROUP BY source ORDER BY count(*) DESC, source")]

    def date_span(self) -> tuple[datetime | None, datetime | None]:
        low, high = self.db.execute(
            "SELECT min(published_at), max(published_at) FROM articles").fetchone()
        return (datetime.fromisoformat(low) if low else None,
                datetime.fromisoformat(high) if high else None)

    def stats(self) -> dict:
        low, high = self.date_span()
        size = sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
        return {"index": str(self.path), **self.counts(), "outlets": len(self.sources()),
                "first_date": _iso(low), "last_date": _iso(high), **self.identity,
                "store": self.engine, "dense_index": self.dense_kind.value, "generation": self.generation,
                "size_bytes": size}


class FaissStore(SqliteStore):
    """SQLite + BM25 + a FAISS file in one directory: the default store, no server needed.

    The dense index is an ID-mapped inner-product FAISS index (flat, or HNSW for large
    corpora) held in memory and written to `dense-<generation>.faiss` on flush.

    Example:
        >>> with FaissStore.open("newsrag-index", identity=identity, writable=True,
        ...                      create=True) as store:
        ...     store.upsert([(article, chunks, vectors)])
    """

    engine = "faiss"

    def __init__(self, path: Path, db: sqlite3.Connection, *, writable: bool,
                 lock_fd: int | None):
        super().__init__(path, db, writable=writable, lock_fd=lock_fd)
        self._dense = None

    def _dense_index(self):
        if self._dense is None:
            self._dense = self._new_dense_index()
            for ids, vectors in self._stored_vectors():
                self._dense.add_with_ids(vectors, ids)
        return self._dense

    def _new_dense_index(self):
        import faiss

        dimension = int(self.identity["dimension"])
        if self.dense_kind is DenseKind.HNSW:
            return faiss.IndexIDMap2(faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT))
        lists = ivf_lists(len(self._chunk_ids)) if self.dense_kind is DenseKind.IVF else 0
        if lists:
            return self._trained_ivf(dimension, lists)
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def _trained_ivf(self, dimension: int, lists: int):
        """An IVF-Flat index trained on every n-th stored vector (40 a list, as FAISS asks).
        It keeps the chunk ids itself (an ID map cannot remove from it), with a hash table
        from id to vector for removing and reconstructing."""
        import faiss

        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists,
                                   faiss.METRIC_INNER_PRODUCT)
        step = max(1, len(self._chunk_ids) // (40 * lists))
        index.train(np.vstack([vectors[::step] for _, vectors in self._stored_vectors()]))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.nprobe = IVF_PROBES
        return index

    def _ivf_outgrown(self) -> bool:
        """Whether an `ivf` store's index no longer fits its size: flat past IVF_MIN_CHUNKS
        (or IVF below it), or lists a factor 4 off what the size asks (16 times the chunks)."""
        import faiss

        have = self._dense.nlist if isinstance(self._dense, faiss.IndexIVF) else 0
        want = ivf_lists(len(self._chunk_ids))
        if not have or not want:
            return bool(have) != bool(want)
        return max(have, want) >= 4 * min(have, want)

    def _dense_load(self, manifest: dict) -> bool:
        import faiss

        self._dense = faiss.read_index(str(self.path / manifest["dense_file"]))
        return self._dense.ntotal == len(self._chunk_ids)

    def _dense_reset(self) -> None:
        self._dense = None

    def _dense_apply(self, removed: list[int], added: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if self._dense is None:
            return
        if removed and self.dense_kind is DenseKind.HNSW:
            self._dense = None  # HNSW cannot remove vectors: rebuilt lazily from SQLite
            return
        if self.dense_kind is DenseKind.IVF and self._ivf_outgrown():
            self._dense = None  # rebuilt (and trained) lazily from SQLite
            return
        if removed:
            self._dense.remove_ids(np.asarray(removed, dtype=np.int64))
        for ids, vectors in added:
            self._dense.add_with_ids(vectors, ids)

    def _dense_write(self, generation: int) -> dict:
        import faiss

        dense_file = self.path / f"dense-{generation}.faiss"
        faiss.write_index(self._dense_index(), str(dense_file) + ".tmp")
        with open(str(dense_file) + ".tmp", "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(str(dense_file) + ".tmp", dense_file)
        return {"dense_file": dense_file.name}

    def _dense_file_problems(self, manifest: dict) -> list[str]:
        import faiss

        name = manifest.get("dense_file")
        if not name or not (self.path / name).exists():
            return [f"{name or 'the FAISS file'} (named in {MANIFEST_NAME}) is missing"]
        try:
            dense = faiss.read_index(str(self.path / name))
        except RuntimeError:
            return [f"{name} is not a readable FAISS index"]
        if _faiss_ids(dense) != self._chunk_ids.tolist():
            return [f"{name} holds {dense.ntotal} vectors for {len(self._chunk_ids)} chunks"]
        return []

    def _dense_ids(self) -> list[int]:
        return _faiss_ids(self._dense_index())

    def dense_search(self, vector: np.ndarray, k: int,
                     filters: Filters | None = None) -> list[tuple[int, float]]:
        import faiss

        index = self._dense_index()
        if index.ntotal == 0:
            return []
        mask = self.allowed(filters)
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if mask is None:
            scores, ids = index.search(query, k)
        else:
            if not mask.any():
                return []
            selector = faiss.IDSelectorBatch(self._chunk_ids[mask])
            if self.dense_kind is DenseKind.HNSW:
                params = faiss.SearchParametersHNSW(sel=selector)
            elif isinstance(index, faiss.IndexIVF):
                # a filter leaves fewer candidates in each list: search more lists, in proportion
                params = faiss.SearchParametersIVF(
                    sel=selector, nprobe=min(index.nlist, math.ceil(IVF_PROBES / mask.mean())))
            else:
                params = faiss.SearchParameters(sel=selector)
            scores, ids = index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def dense_scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray:
        """Inner product (cosine: vectors are normalised) of `vector` with each chunk's vector."""
        if not len(chunk_ids):
            return np.zeros(0, dtype=np.float32)
        vectors = self._dense_index().reconstruct_batch(np.asarray(chunk_ids, dtype=np.int64))
        return vectors @ np.asarray(vector, dtype=np.float32)

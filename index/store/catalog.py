"""The catalog: the index's SQLite database, the truth every search index is derived from.

`newscite.sqlite` holds the articles, their chunks (character offsets and vectors), the ingest
runs and `meta`: format version, identity (embedding model and chunker settings), the kind of
dense index, and the generation number that every commit bumps. Beside it `manifest.json`
names the derived files written for one generation; it is replaced atomically, last, so a
manifest whose generation is not SQLite's says the derived files are stale.

Durability: every write is one SQLite transaction (WAL, synchronous FULL), so a kill at any
moment leaves the database at its last commit. Only one process writes at a time: a writer
takes an exclusive lock on `.lock` and fails at once when another holds it. A reader opens
the database read-only, so it works where it may not write.

For filtering searches without a query, the catalog keeps each chunk's outlet and date in
memory (`ChunkTable`); a write appends the new chunks' rows and drops the deleted ones (it
reads only what it wrote, not the whole table again).

Example:
    >>> catalog = Catalog.open(path, identity=identity, writable=True, create=True)
    >>> removed, added = catalog.upsert([(article, chunks, vectors)], {})
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from newscite.index.store import sentences
from newscite.index.store.connect import connect, take_lock
from newscite.index.store.dense import DenseKind
from newscite.index.store.records import (
    ChunkTable,
    StoredArticle,
    article_from_row,
    article_values,
    coverage_from_json,
    coverage_json,
    passage_from_row,
)
from newscite.types import Article, Chunk, Coverage, Passage, normalise_url

FORMAT_VERSION = 1
# The database keeps the file name of the product's first name (newsrag), so that every index
# built before the rename opens as it is.
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

_INSERT_CHUNK = ('INSERT INTO chunks (article_id, ordinal, start, "end", header, n_tokens, '
                 "vector) VALUES (?,?,?,?,?,?,?)")
_CHUNK_TEXT = 'substr(a.body, c.start + 1, c."end" - c.start)'

# (chunk ids, vectors) of one batch of chunks
Vectors = tuple[np.ndarray, np.ndarray]


class IndexMismatchError(RuntimeError):
    """The index was built with another embedding model or chunker than the one configured."""


class Catalog:
    """The SQLite database of one index directory (see the module docstring)."""

    def __init__(self, path: Path, db: sqlite3.Connection, *, writable: bool,
                 lock_fd: int | None):
        self.path = path
        self.db = db
        self.writable = writable
        self._lock_fd = lock_fd
        with self.snapshot():
            pass

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, identity: dict | None, writable: bool, create: bool,
             dense_kind: DenseKind) -> Catalog:
        """Open (or with `create`, make) the database at `path`; `writable` takes the writer
        lock. Each key of `identity` must match what the index was built with, else
        `IndexMismatchError`; a new index records it with `dense_kind`."""
        path = Path(path).expanduser()
        db_path = path / DB_NAME
        if not db_path.exists():
            if not create:
                raise FileNotFoundError(
                    f"no newscite index at {path}: build one with `newscite ingest PATH --index "
                    f"{path}`, or point --index (or NEWSCITE_INDEX) at an existing index")
            if identity is None:
                raise ValueError("a new index needs the embedding model and chunker identity")
            path.mkdir(parents=True, exist_ok=True)
        lock_fd = take_lock(path) if writable else None
        db = None
        try:
            db = connect(db_path, writable)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys = ON")
            if writable:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
                db.executescript(SCHEMA)
                db.execute(sentences.SCHEMA)
                _add_missing_columns(db)
            _check_identity(db, path, identity, dense_kind, writable)
            return cls(path, db, writable=writable, lock_fd=lock_fd)
        except BaseException:
            if db is not None:
                db.close()
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    def close(self) -> None:
        """Let go of the database and the writer lock (SQLite keeps every commit)."""
        try:
            self.db.close()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def meta(self, key: str, default: str | None = None) -> str | None:
        return _meta(self.db, key, default)

    @property
    def generation(self) -> int:
        """Bumped by every commit: the derived files of another generation are stale."""
        return int(self.meta("generation", "0"))

    @property
    def identity(self) -> dict:
        return json.loads(self.meta("identity", "{}"))

    @property
    def dense_kind(self) -> DenseKind:
        return DenseKind(self.meta("dense_kind", DenseKind.FLAT.value))

    # ---- writing (each method is one commit) ----------------------------------------------

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

    def upsert(self, items: Sequence[tuple[Article, list[Chunk], np.ndarray]],
               minhashes: dict[str, bytes]) -> tuple[list[int], list[Vectors]]:
        """Insert or replace articles with their chunks and vectors, in one commit; returns
        the chunk ids removed and the (chunk ids, vectors) added, for the search indexes."""
        removed: list[int] = []
        added: list[Vectors] = []
        with self.transaction() as db:
            for article, chunks, vectors in items:
                if len(chunks) != len(vectors):
                    raise ValueError(
                        f"{article.id}: {len(chunks)} chunks but {len(vectors)} vectors")
                removed += self._delete_chunks(article.id)
                db.execute(
                    "INSERT OR REPLACE INTO articles (id, title, body, source, published_at, "
                    "url, authors, category, also_reported_by, origin, fingerprint, "
                    "content_hash, minhash, feed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    article_values(article, minhashes.get(article.id)))
                ids = self._insert_chunks(article.id, chunks, vectors)
                if ids:
                    added.append((np.asarray(ids, dtype=np.int64),
                                  np.asarray(vectors, dtype=np.float32)))
        self.chunks = self.chunks.without(removed).appended(self.db)
        return removed, added

    def add_coverage(self, article_id: str, coverage: tuple[Coverage, ...]) -> bool:
        """Record other outlets' copies on a stored article ("also reported by"); whether
        anything new was committed."""
        row = self.db.execute("SELECT also_reported_by FROM articles WHERE id = ?",
                              (article_id,)).fetchone()
        known = coverage_from_json(row[0])
        new = tuple(c for c in coverage if c not in known)
        if new:
            with self.transaction() as db:
                db.execute("UPDATE articles SET also_reported_by = ? WHERE id = ?",
                           (coverage_json(known + new), article_id))
        return bool(new)

    def delete(self, article_ids: Iterable[str]) -> tuple[int, list[int]]:
        """Delete articles and their chunks in one commit; returns how many articles were
        deleted and the chunk ids removed."""
        removed: list[int] = []
        deleted = 0
        with self.transaction() as db:
            for article_id in dict.fromkeys(article_ids):
                removed += self._delete_chunks(article_id)
                deleted += db.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount
        self.chunks = self.chunks.without(removed)
        return deleted, removed

    def replace_all_chunks(self, items: Sequence[tuple[str, list[Chunk], np.ndarray]],
                           identity: dict) -> None:
        """Swap every article's chunks and the index identity in one commit (reindex)."""
        with self.transaction() as db:
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM sentence_vectors")  # they belong to the old model
            for article_id, chunks, vectors in items:
                self._insert_chunks(article_id, chunks, vectors)
            db.execute("UPDATE meta SET value = ? WHERE key = 'identity'",
                       (json.dumps(identity, sort_keys=True),))
        self.chunks = ChunkTable.read(self.db)

    def add_sentence_vectors(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store sentences' vectors (`index.store.sentences`), in one commit."""
        with self.transaction() as db:
            sentences.write(db, texts, vectors)

    def unembedded_sentences(self, texts: Sequence[str]) -> list[str]:
        """Those of `texts` (distinct, in order) without a stored vector."""
        return sentences.missing(self.db, texts)

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of `texts` that have one."""
        return sentences.read(self.db, texts)

    def sentence_count(self) -> int:
        return sentences.size(self.db)

    def log_ingest(self, paths: list[str], started_at: datetime, summary: dict) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO ingests (started_at, finished_at, paths, summary) "
                       "VALUES (?,?,?,?)", (started_at.isoformat(),
                                            datetime.now(timezone.utc).isoformat(),
                                            json.dumps(paths), json.dumps(summary)))

    def _delete_chunks(self, article_id: str) -> list[int]:
        """Delete an article's chunks (inside a transaction); their ids."""
        ids = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE article_id = ?",
                                             (article_id,))]
        self.db.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
        return ids

    def _insert_chunks(self, article_id: str, chunks: list[Chunk],
                       vectors: np.ndarray) -> list[int]:
        """Insert an article's chunks with their vectors (inside a transaction); their ids."""
        return [self.db.execute(_INSERT_CHUNK, (
            article_id, chunk.ordinal, chunk.start, chunk.end, chunk.header, chunk.n_tokens,
            np.asarray(vector, dtype=np.float32).tobytes())).lastrowid
            for chunk, vector in zip(chunks, vectors)]

    # ---- what the search indexes are built from -------------------------------------------

    def stored_vectors(self, after: int = 0, batch: int = 20_000) -> Iterator[Vectors]:
        """(chunk ids, vectors) of the stored chunks with ids above `after` (all by default)
        in id order, a batch at a time: what a dense index is built or caught up from
        without re-embedding."""
        while rows := self.db.execute("SELECT id, vector FROM chunks WHERE id > ? ORDER BY id "
                                      "LIMIT ?", (after, batch)).fetchall():
            yield (np.asarray([r[0] for r in rows], dtype=np.int64),
                   np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))
            after = rows[-1][0]

    def chunk_texts(self, after: int = 0) -> tuple[np.ndarray, list[str]]:
        """Ids (in order) of the chunks with ids above `after` (all by default) with what BM25
        indexes of each: its header line, then its text."""
        rows = self.db.execute(f"SELECT c.id, c.header, {_CHUNK_TEXT} FROM chunks c "
                               "JOIN articles a ON a.id = c.article_id WHERE c.id > ? "
                               "ORDER BY c.id", (after,)).fetchall()
        return (np.asarray([r[0] for r in rows], dtype=np.int64),
                [f"{r[1]}\n{r[2]}" for r in rows])

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read as of one commit: the chunk table (re-read only if a commit came since it
        was) and whatever is read inside come from the same generation, whatever a writer
        commits meanwhile (a WAL read transaction). A writer's reads are its own."""
        reader = not self.writable and not self.db.in_transaction
        if reader:
            self.db.execute("BEGIN")
        try:
            if not hasattr(self, "chunks") or reader and self._chunks_generation != self.generation:
                self.chunks, self._chunks_generation = ChunkTable.read(self.db), self.generation
            yield
        finally:
            if reader:
                self.db.execute("COMMIT")

    def chunk_fields(self, first: int, last: int) -> list[sqlite3.Row]:
        """(id, article_id, start, end, source, published_at) of the chunks with ids from
        `first` to `last`, in id order: the scalar fields a dense index may filter on."""
        return self.db.execute(
            'SELECT c.id, c.article_id, c.start, c."end", a.source, a.published_at FROM chunks c '
            "JOIN articles a ON a.id = c.article_id WHERE c.id BETWEEN ? AND ? ORDER BY c.id",
            (first, last)).fetchall()

    # ---- reading -------------------------------------------------------------------------

    def passages(self, chunk_ids: Sequence[int]) -> list[Passage]:
        """Passages for chunk ids, in the order given (unknown ids are skipped)."""
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        rows = self.db.execute(
            f'SELECT c.id, c.article_id, c.start, c."end", a.title, a.source, a.published_at, '
            f"a.url, {_CHUNK_TEXT} AS text, a.also_reported_by "
            f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})",
            list(chunk_ids)).fetchall()
        by_id = {r["id"]: r for r in rows}
        return [passage_from_row(r) for r in (by_id.get(i) for i in chunk_ids) if r is not None]

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return None if row is None else article_from_row(row)

    def articles(self) -> Iterator[Article]:
        for (article_id,) in self.db.execute("SELECT id FROM articles ORDER BY id").fetchall():
            yield self.article(article_id)

    def known_articles(self) -> dict[str, StoredArticle]:
        """id -> what ingestion compares against to skip unchanged articles and copies."""
        return {r[0]: StoredArticle(*r) for r in self.db.execute(
            "SELECT id, fingerprint, content_hash, minhash FROM articles")}

    def find_ids(self, keys: Iterable[str]) -> list[str]:
        """Article ids for keys that are ids or URLs (as stored, or normalised)."""
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

    # ---- the manifest and checking ---------------------------------------------------------

    def read_manifest(self) -> dict | None:
        """The manifest as stored; None when it is missing or not valid JSON."""
        return read_manifest(self.path)

    def write_manifest(self, generation: int, engine: str, derived: dict) -> None:
        """Name the derived files (`derived`) written for `generation`, atomically: the new
        manifest is fsynced under a temporary name, renamed over the old one, and the
        directory fsynced, so a kill leaves the old manifest or the new one."""
        manifest = {"format_version": FORMAT_VERSION, "generation": generation,
                    "identity": self.identity, "store": engine,
                    "dense_kind": self.dense_kind.value, **derived, "counts": self.counts(),
                    "written_at": datetime.now(timezone.utc).isoformat()}
        target = self.path / MANIFEST_NAME
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(json.dumps(manifest, indent=2).encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def check_files(self) -> tuple[list[str], dict | None]:
        """SQLite's own integrity check and the manifest read afresh: the problems found,
        and the manifest (None when it is unreadable) for checking the files it names."""
        problems = [f"SQLite: {row[0]}" for row in self.db.execute("PRAGMA integrity_check")
                    if row[0] != "ok"]
        manifest = self.read_manifest()
        if manifest is None:
            return problems + [f"{MANIFEST_NAME} is missing or not valid JSON"], None
        if manifest.get("generation") != self.generation:
            problems.append(f"{MANIFEST_NAME} is for generation {manifest.get('generation')}, "
                            f"the database is at generation {self.generation}")
        return problems, manifest

    def stored_chunk_ids(self) -> list[int]:
        """Chunk ids as SQLite has them now, in order (not the in-memory table)."""
        return [r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id")]

    def verify(self) -> list[str]:
        """Chunks that belong to no article or point outside their article's body."""
        problems = []
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


def _meta(db: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def read_manifest(path: str | Path) -> dict | None:
    """The manifest of the index at `path`; None when it is missing or not valid JSON. It is
    replaced last by every commit, so its generation tells a reader there is news to read."""
    try:
        return json.loads((Path(path).expanduser() / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Add the (nullable) columns newer than the index's database, so an index written by an
    earlier version keeps working. Until its first write, readers take them as empty."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(articles)")}
    if "feed" not in columns:
        db.execute("ALTER TABLE articles ADD COLUMN feed TEXT")


def _check_identity(db: sqlite3.Connection, path: Path, identity: dict | None,
                    dense_kind: DenseKind, writable: bool) -> None:
    """Refuse an index built with another format, model or chunker; record the identity of
    a new one (with its dense index kind and generation 0)."""
    stored = _meta(db, "identity")
    if stored is None:
        if not writable:
            raise FileNotFoundError(f"the index at {path} is empty: ingest articles first")
        db.execute("INSERT INTO meta VALUES ('identity', ?), ('dense_kind', ?), "
                   "('format_version', ?), ('generation', '0')",
                   (json.dumps(identity, sort_keys=True), dense_kind.value, str(FORMAT_VERSION)))
        return
    version = int(_meta(db, "format_version", "0"))
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {path} has format version {version}, this newscite reads "
            f"{FORMAT_VERSION}: rebuild it by ingesting the articles into a new --index folder")
    built_with = json.loads(stored)
    differences = ", ".join(f"{key}: index has {built_with.get(key)!r}, configured {value!r}"
                            for key, value in (identity or {}).items()
                            if built_with.get(key) != value)
    if differences:
        raise IndexMismatchError(
            f"the index at {path} was built with other settings ({differences}); "
            f"run `newscite reindex --index {path}` with the new settings to re-chunk "
            f"and re-embed it, or configure the settings it was built with" + (
                " (quantization 'int8-dynamic' is precision = 'onnx-int8'; None is 'fp32', "
                "'bf16' or 'onnx-fp32')" if "quantization:" in differences else ""))

"""`Store`: one index, the catalog (SQLite, the truth) with the two search indexes derived
from it, the BM25 keyword index and a dense index, kept in step.

An index directory holds `newscite.sqlite` (the catalog), `bm25-segments/` (the keyword
index: one `.npz` of postings per segment, `index/keywords.py`), the dense index's files
(FAISS: a base `dense-<generation>-<token>.faiss` and the deltas appended since; Milvus keeps
a collection instead) and `manifest.json`, which names the derived files of one generation
and is replaced atomically, last. Writes commit to SQLite first, then update the search
indexes in memory, incrementally (a new keyword segment, vectors added to FAISS); `flush`
(and `close`, for a writer) writes only what is new, under new names, then the manifest, so
its cost follows what was written, not the size of the index. Files the manifest no longer
names are removed one flush later, so a reader still loading the previous generation finds
them. A kill at any moment leaves SQLite at its last commit and the manifest at its last
flush; on open the derived indexes the manifest names catch up with SQLite (chunks added
since are read and indexed, deleted ones dropped; no re-embedding), and are rebuilt from
SQLite only when they are missing, damaged or of another identity. No pickle anywhere.

Example:
    >>> with Store.open("newscite-index", identity={"model": "m", "dimension": 384, ...},
    ...                 writable=True, create=True) as store:    # engine="faiss", the default
    ...     store.upsert([(article, chunks, vectors)])
    ...     store.dense_search(query_vector, k=10)
    [(chunk_id, score), ...]
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from newscite.index.keywords import KeywordIndex
from newscite.index.store.catalog import MANIFEST_NAME, Catalog, Vectors
from newscite.index.store.derived import BM25_DIR, catch_up, load_keywords, remove_unnamed
from newscite.index.store.dense import DenseIndex, DenseKind, open_dense
from newscite.index.store.records import StoredArticle, iso
from newscite.types import Article, Chunk, Coverage, Filters, Passage

log = logging.getLogger(__name__)


class Store:
    """A catalog, its keyword index and its dense index (see the module docstring). Callers
    see it through the narrow protocols of `newscite.index.store.protocols`."""

    def __init__(self, catalog: Catalog, dense: DenseIndex):
        self.catalog = catalog
        self.dense = dense
        self.path: Path = catalog.path
        self._keywords: KeywordIndex | None = None  # None: rebuilt from SQLite when needed
        self._dirty = False  # committed since the derived files were last written

    # ---- opening and closing ---------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, identity: dict | None = None, writable: bool = False,
             create: bool = False, dense_kind: DenseKind | str = DenseKind.FLAT,
             engine: str = "faiss") -> Store:
        """Open (or with `create`, make) the index at `path`, its vectors in `engine`: 'faiss'
        or a Milvus URI (the `store` setting).

        Each key of `identity` (embedding model, dimension, chunker settings) must match what
        the index was built with, else `IndexMismatchError`. `writable` takes the writer lock
        (`IndexLockedError` when another process holds it). A failed open lets go of the
        database, the lock and any connection.
        """
        catalog = Catalog.open(path, identity=identity, writable=writable, create=create,
                               dense_kind=DenseKind(dense_kind))
        dense = None
        try:
            dense = open_dense(engine, catalog)  # e.g. the engine's client is not installed
            store = cls(catalog, dense)
            with catalog.snapshot():  # a reader derives from one commit, not a half-written one
                store._load_derived()
            return store
        except BaseException:
            try:
                if dense is not None:
                    dense.close()
            finally:
                catalog.close()
            raise

    def close(self) -> None:
        """Flush what is not yet written (a writer), then let go of the database, the writer
        lock and the dense index, even when the flush fails (a full disk): SQLite keeps the
        commits."""
        try:
            if self.catalog.writable and self._dirty:
                self.flush()
        finally:
            try:
                self.catalog.close()
            finally:
                self.dense.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- writing -------------------------------------------------------------------------

    def upsert(self, items: Sequence[tuple[Article, list[Chunk], np.ndarray]],
               minhashes: dict[str, bytes] | None = None) -> None:
        """Insert or replace articles with their chunks and vectors, in one commit."""
        if items:
            self._changed(*self.catalog.upsert(items, minhashes or {}))

    def add_coverage(self, article_id: str, coverage: tuple[Coverage, ...]) -> None:
        """Record other outlets' copies on a stored article ("also reported by")."""
        if self.catalog.add_coverage(article_id, coverage):
            self._dirty = True

    def delete(self, article_ids: Iterable[str]) -> int:
        """Delete articles and their chunks; returns how many articles were deleted."""
        deleted, removed = self.catalog.delete(article_ids)
        self._changed(removed, [])
        return deleted

    def replace_all_chunks(self, items: Sequence[tuple[str, list[Chunk], np.ndarray]],
                           identity: dict) -> None:
        """Swap every article's chunks and the index identity in one commit (reindex)."""
        self.catalog.replace_all_chunks(items, identity)
        self._rebuild_derived()

    def add_sentence_vectors(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store sentences' vectors for the answer step (`index.store.sentences`)."""
        if len(texts):
            self.catalog.add_sentence_vectors(texts, vectors)
            self._dirty = True

    def unembedded_sentences(self, texts: Sequence[str]) -> list[str]:
        return self.catalog.unembedded_sentences(texts)

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of `texts` that have one."""
        return self.catalog.sentence_vectors(texts)

    def log_ingest(self, paths: list[str], started_at: datetime, summary: dict) -> None:
        self.catalog.log_ingest(paths, started_at, summary)
        self._dirty = True

    def _changed(self, removed: list[int], added: list[Vectors]) -> None:
        """Bring the search indexes up to a committed write, in place: the removed chunks
        are marked dead, the added ones (read back from this commit) become a keyword
        segment and join the dense index."""
        self._dirty = True
        self.dense.remove(removed)
        for ids, vectors in added:
            self.dense.add(ids, vectors)
        if self._keywords is not None:
            self._keywords.remove(removed)
            if added:
                first = min(int(ids[0]) for ids, _ in added)
                self._keywords.add(*self.catalog.chunk_texts(after=first - 1))

    def flush(self) -> None:
        """Write what is new in the derived indexes under new names (merging segments as
        `index.tiers` plans), then the manifest naming them (atomically), then remove the
        files that neither it nor the previous manifest names."""
        if not self.catalog.writable:
            return
        generation = self.catalog.generation
        keywords = self.keywords
        previous = self.catalog.read_manifest() or {}
        dense = self.dense.save(generation)
        segments = keywords.save(self.path / BM25_DIR, generation)
        chunk_ids = self.catalog.chunks.ids
        derived = {**dense, "bm25_dir": BM25_DIR, "bm25_segments": segments,
                   "covered": int(chunk_ids[-1]) if len(chunk_ids) else 0}
        self.catalog.write_manifest(generation, self.dense.engine, derived)
        remove_unnamed(self.path, derived, previous)
        self._dirty = False

    # ---- the derived indexes: loading, rebuilding, checking --------------------------------

    def _load_derived(self) -> None:
        """Take up the derived indexes the manifest names and catch them up with SQLite;
        rebuild them from SQLite when they cannot be read or disagree with it."""
        manifest = self.catalog.read_manifest()
        try:
            keywords = load_keywords(self.catalog, manifest)
            if keywords is not None and self.dense.load(manifest) and \
                    catch_up(self.catalog, self.dense, keywords, manifest):
                self._keywords = keywords
                if manifest["generation"] != self.catalog.generation:
                    log.info("index %s was not flushed after its last commit: caught up "
                             "from SQLite", self.path)
                    self._dirty = True
                    if self.catalog.writable:
                        self.flush()
                return
            if keywords is not None:
                log.warning("derived files of %s disagree with its database; rebuilding",
                            self.path)
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
            log.warning("could not read the derived files of %s (%s); rebuilding",
                        self.path, exc)
        if self.catalog.generation:
            log.info("rebuilding the dense and BM25 indexes of %s from SQLite (no "
                     "re-embedding)", self.path)
        self._rebuild_derived()

    def repair(self) -> None:
        """Rewrite the dense index, the BM25 files and the manifest from SQLite (no
        re-embedding), whatever state they are in."""
        if not self.catalog.writable:
            raise PermissionError(f"the index at {self.path} was opened read-only")
        self._rebuild_derived()

    def _rebuild_derived(self) -> None:
        self.dense.reset()
        self._keywords = None  # rebuilt in full from the catalog when next needed
        self._dirty = True
        if self.catalog.writable:
            self.flush()

    @property
    def keywords(self) -> KeywordIndex:
        """The BM25 index, built from the catalog's chunk texts if a write made it stale."""
        if self._keywords is None:
            self._keywords = KeywordIndex.build(*self.catalog.chunk_texts())
        return self._keywords

    def check_files(self) -> list[str]:
        """Problems with the index as it is stored: SQLite's own integrity check, and the
        manifest and the derived indexes it names, read afresh. (Opening a store rebuilds stale
        derived files in memory, so `verify` alone does not see what is missing on disk.)"""
        problems, manifest = self.catalog.check_files()
        if manifest is None:
            return problems
        name = manifest.get("bm25_dir")
        if not name or not (self.path / name).is_dir():
            problems.append(f"{name or 'the BM25 folder'} (named in {MANIFEST_NAME}) is missing")
        else:
            try:
                keywords = KeywordIndex.load(self.path / name, manifest["bm25_segments"],
                                             self.catalog.chunks.ids)
                if keywords.chunk_ids.tolist() != self.catalog.chunks.ids.tolist():
                    problems.append(f"{name} does not cover exactly the stored chunks")
            except (OSError, ValueError, KeyError):
                problems.append(f"{name} is not a readable BM25 index")
        return problems + self.dense.check(manifest)

    def verify(self) -> list[str]:
        """Problems found when cross-checking SQLite, the dense index and BM25; empty when
        consistent."""
        problems = []
        chunk_ids = self.catalog.stored_chunk_ids()
        dense_ids = self.dense.ids()
        if dense_ids != chunk_ids:
            problems.append(f"the {self.dense.engine} dense index holds {len(dense_ids)} "
                            f"vectors for {len(chunk_ids)} chunks")
        if self.keywords.chunk_ids.tolist() != chunk_ids:
            problems.append("the BM25 index does not cover exactly the stored chunks")
        return problems + self.catalog.verify()

    # ---- searching -------------------------------------------------------------------------

    def dense_search(self, vector: np.ndarray, k: int,
                     filters: Filters | None = None) -> list[tuple[int, float]]:
        return self.dense.search(vector, k, filters)

    def dense_scores(self, vector: np.ndarray, chunk_ids: np.ndarray) -> np.ndarray:
        """Inner product (cosine: vectors are normalised) of `vector` with each chunk's vector."""
        return self.dense.scores(vector, chunk_ids)

    def keyword_search(self, query: str, k: int,
                       filters: Filters | None = None) -> list[tuple[int, float]]:
        return self.keywords.search(query, k, self.catalog.chunks.allowed(filters))

    def keyword_scores(self, query: str, chunk_ids: np.ndarray) -> np.ndarray:
        """BM25 score of `query` for each of `chunk_ids` (0 where no query word occurs)."""
        keywords = self.keywords
        scores = keywords.scores(query)
        if not len(scores):
            return np.zeros(len(chunk_ids), dtype=np.float32)
        return scores[np.searchsorted(keywords.chunk_ids, chunk_ids)]

    def word_weights(self, words: Sequence[str]) -> dict[str, float]:
        """How rare each stemmed word is in the index (`KeywordIndex.word_weights`)."""
        return self.keywords.word_weights(list(words))

    def chunk_dates(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Publication time (POSIX seconds, NaN when unknown) of each chunk's article."""
        return self.catalog.chunks.dates_of(chunk_ids)

    # ---- reading and describing (the catalog's answers) ----------------------------------------

    def passages(self, chunk_ids: Sequence[int]) -> list[Passage]:
        return self.catalog.passages(chunk_ids)

    def article(self, article_id: str) -> Article | None:
        return self.catalog.article(article_id)

    def articles(self) -> Iterator[Article]:
        return self.catalog.articles()

    def known_articles(self) -> dict[str, StoredArticle]:
        return self.catalog.known_articles()

    def find_ids(self, keys: Iterable[str]) -> list[str]:
        return self.catalog.find_ids(keys)

    def latest_titles(self, limit: int = 200) -> list[tuple[str, str]]:
        return self.catalog.latest_titles(limit)

    def counts(self) -> dict:
        return self.catalog.counts()

    def sources(self) -> list[tuple[str, int]]:
        return self.catalog.sources()

    def date_span(self) -> tuple[datetime | None, datetime | None]:
        return self.catalog.date_span()

    def stats(self) -> dict:
        """Counts, outlets, dates, identity, engine and size on disk, for `newscite stats`."""
        low, high = self.catalog.date_span()
        size = sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
        return {"index": str(self.path), **self.catalog.counts(),
                "outlets": len(self.catalog.sources()), "first_date": iso(low),
                "last_date": iso(high), **self.catalog.identity, "store": self.dense.engine,
                "dense_index": self.catalog.dense_kind.value,
                "generation": self.catalog.generation, "size_bytes": size,
                "sentence_vectors": self.catalog.sentence_count(), **self.dense.stats()}

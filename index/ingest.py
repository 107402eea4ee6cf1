"""Ingestion: load -> skip unchanged -> dedup -> chunk -> embed -> commit, in batches.

Each batch of articles is one atomic commit, so a killed ingest keeps every batch committed
before the kill and a re-run picks up where it stopped (committed articles are unchanged
and cost nothing). Unchanged articles are never re-embedded; a changed article replaces its
chunks; exact and near-duplicates are merged into the first copy as "also reported by".
Before its chunks, a batch stores a vector for each of their sentences that the index has
none for (`index.store.sentences`), so that answering embeds only the question.

Chunking and embedding are done by an encoder: `LocalEncoder` in this process (the default),
or `index.distributed.RayEncoder` on a Ray cluster; either way the articles are classified
and written here, by the one writer.

Example:
    >>> ingester = Ingester(store, embedder, chunker, Deduplicator())
    >>> summary = ingester.run(["seeds/"])
    >>> print(summary)
    added 1, updated 0, unchanged 0, ...
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, Mapping, Protocol

import numpy as np
from tqdm import tqdm

from newscite.index import loaders
from newscite.index.chunking import SentenceChunker
from newscite.index.dedup import Deduplicator
from newscite.index.embedding import Embedder
from newscite.index.store import IngestTarget, StoredArticle, content_hash
from newscite.text import split_sentences
from newscite.types import Article, Chunk, Coverage, IngestSummary, Rejection

log = logging.getLogger(__name__)


def index_identity(embedder: Embedder, chunker: SentenceChunker) -> dict:
    """The settings an index is bound to: vectors and chunks from others do not mix."""
    return {**embedder.identity, **chunker.settings}


Encoded = tuple[Article, list[Chunk], np.ndarray]  # an article, its chunks and their vectors


def encode_articles(articles: list[Article], chunker: SentenceChunker,
                    embedder: Embedder) -> list[Encoded]:
    """Chunk the articles and embed all their chunks in one call (the embedder batches)."""
    chunks = [chunker.run(article) for article in articles]
    vectors = embedder.embed([chunk.indexed_text for article_chunks in chunks
                              for chunk in article_chunks])
    encoded, offset = [], 0
    for article, article_chunks in zip(articles, chunks):
        encoded.append((article, article_chunks, vectors[offset:offset + len(article_chunks)]))
        offset += len(article_chunks)
    return encoded


class Encoder(Protocol):
    """Turns batches of articles into their chunks and vectors, one result per batch, in the
    order given. It may read ahead: a distributed encoder takes all batches at once."""

    def encode(self, batches: Iterable[list[Article]]) -> Iterator[list[Encoded]]: ...


class LocalEncoder:
    """Chunks and embeds each batch in this process, as it comes."""

    def __init__(self, chunker: SentenceChunker, embedder: Embedder):
        self.chunker = chunker
        self.embedder = embedder

    def encode(self, batches: Iterable[list[Article]]) -> Iterator[list[Encoded]]:
        for articles in batches:
            yield encode_articles(articles, self.chunker, self.embedder)


@dataclass
class _Batch:
    articles: dict[str, Article] = field(default_factory=dict)
    minhashes: dict[str, bytes] = field(default_factory=dict)
    coverage: dict[str, tuple[Coverage, ...]] = field(default_factory=dict)


def _coverage_of(article: Article) -> Coverage:
    return Coverage(article.source, article.url, article.published_at)


class Ingester:
    """Adds articles from files and folders, or loaded elsewhere, to a store (see the module
    docstring). `encoder` chunks and embeds (default: `LocalEncoder(chunker, embedder)`)."""

    def __init__(self, store: IngestTarget, embedder: Embedder, chunker: SentenceChunker,
                 dedup: Deduplicator, *, batch_articles: int = 32, progress: bool = True,
                 encoder: Encoder | None = None,
                 on_progress: Callable[[int, int], None] | None = None,
                 sentence_vectors: bool = True):
        if batch_articles < 1:
            raise ValueError(f"batch_articles must be at least 1, got {batch_articles}")
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.dedup = dedup
        self.batch_articles = batch_articles
        self.progress = progress
        self.encoder = encoder or LocalEncoder(chunker, embedder)
        # called with (records done, records in the run) after each commit (the chat's upload)
        self.on_progress = on_progress
        self.sentence_vectors = sentence_vectors
        self._known: dict[str, StoredArticle] | None = None

    def _known_articles(self) -> dict[str, StoredArticle]:
        """What the index holds, for skipping unchanged articles and finding copies: read
        (and given to the deduplicator) on the first run only, then kept up to date by this
        ingester's own commits, so a later run does not cost the size of the index. The
        store holds the writer lock, so no other process writes meanwhile (after deleting
        through the same store, make a new Ingester: this one would not see the deletion)."""
        if self._known is None:
            self._known = self.store.known_articles()
            for stored in self._known.values():
                self.dedup.add(stored.id, stored.fingerprint,
                               self.dedup.from_bytes(stored.minhash) if stored.minhash else None)
        return self._known

    def run(self, paths: Iterable[str], field_map: Mapping[str, str] | None = None) -> IngestSummary:
        """Ingest the articles in files and folders (see `index.loaders`)."""
        paths = [str(p) for p in paths]
        return self.ingest(loaders.load(paths, field_map), paths)

    def ingest(self, items: Iterable[Article | Rejection], sources: list[str]) -> IngestSummary:
        """Ingest articles loaded elsewhere (e.g. from the web); `sources` names where they
        came from in the index's log of ingest runs."""
        started = datetime.now(timezone.utc)
        items = list(items)
        summary = IngestSummary()
        known = self._known_articles()
        bar = tqdm(total=len(items), unit="article", desc="ingest", disable=not self.progress)
        pending: deque[_Batch] = deque()

        def article_batches() -> Iterator[list[Article]]:
            for batch in self._batches(items, known, summary, bar):
                pending.append(batch)
                yield list(batch.articles.values())

        for encoded in self.encoder.encode(article_batches()):
            self._commit(pending.popleft(), encoded, summary)
            if self.on_progress is not None:
                self.on_progress(_records_done(summary), len(items))
        bar.close()
        self.store.log_ingest(sources, started, {k: v for k, v in vars(summary).items()
                                               if k != "rejections"})
        self.store.flush()
        log.info("ingest done: %s", summary)
        return summary

    def _batches(self, items: list[Article | Rejection], known: dict, summary: IngestSummary,
                 bar: tqdm) -> Iterator[_Batch]:
        """The articles to write, in batches of `batch_articles` (the last one may be empty:
        it still carries the coverage of copies found after the last full batch)."""
        batch, seen = _Batch(), {}
        for item in items:
            bar.update(1)
            if isinstance(item, Rejection):
                summary.rejected += 1
                summary.rejections.append(item)
                log.warning("rejected %s", item)
                continue
            self._classify(item, known, seen, batch, summary)
            if len(batch.articles) >= self.batch_articles:
                yield batch
                batch = _Batch()
        yield batch

    def _classify(self, article: Article, known: dict, seen: dict[str, str],
                  batch: _Batch, summary: IngestSummary) -> None:
        digest = content_hash(article)
        if article.id in seen and seen[article.id] != digest:
            log.warning("%s: same URL/id as an earlier record in this run (%s) with different "
                        "text; the later record replaces it", article.origin, article.id)
        seen[article.id] = digest
        stored = known.get(article.id)
        if stored is not None and stored.content_hash == digest and article.id not in batch.articles:
            summary.unchanged += 1
            return
        if stored is None and article.id not in batch.articles:
            original = self.dedup.exact_copy_of(article)
            if original is not None:
                summary.duplicates += 1
                self._add_coverage(original, article, batch)
                return
            minhash = self.dedup.signature(article.body)
            original = self.dedup.near_copy_of(article.id, minhash)
            if original is not None:
                summary.merged += 1
                log.info("%s is a near-duplicate of %s: merged as 'also reported by'",
                         article.origin, original)
                self._add_coverage(original, article, batch)
                return
        else:
            minhash = self.dedup.signature(article.body)
        if stored is not None or article.id in batch.articles:
            summary.updated += 1
        else:
            summary.added += 1
        self.dedup.add(article.id, article.fingerprint, minhash)
        batch.articles[article.id] = article
        batch.minhashes[article.id] = self.dedup.to_bytes(minhash)

    def _add_coverage(self, original_id: str, copy: Article, batch: _Batch) -> None:
        coverage = _coverage_of(copy)
        if original_id in batch.articles:
            original = batch.articles[original_id]
            if coverage != _coverage_of(original) and coverage not in original.also_reported_by:
                batch.articles[original_id] = original.with_coverage((coverage,))
        else:
            batch.coverage[original_id] = batch.coverage.get(original_id, ()) + (coverage,)

    def _commit(self, batch: _Batch, encoded: list[Encoded], summary: IngestSummary) -> None:
        if self.sentence_vectors:
            store_sentence_vectors(self.store, self.embedder,
                                   [chunk for _, chunks, _ in encoded for chunk in chunks])
        self.store.upsert(encoded, minhashes=batch.minhashes)
        for article, _, _ in encoded:
            self._known[article.id] = StoredArticle(article.id, article.fingerprint,
                                                    content_hash(article),
                                                    batch.minhashes.get(article.id))
        for original_id, coverage in batch.coverage.items():
            self.store.add_coverage(original_id, coverage)
        summary.chunks_embedded += sum(len(chunks) for _, chunks, _ in encoded)


def store_sentence_vectors(store: IngestTarget, embedder: Embedder, chunks: list[Chunk]) -> int:
    """Embed and store the sentences of `chunks` that the index holds no vector for, each
    distinct text once (overlapping chunks and copies share sentences); how many."""
    texts = [chunk.text[start:end] for chunk in chunks
             for start, end in split_sentences(chunk.text)]
    new = store.unembedded_sentences(texts)
    if new:
        store.add_sentence_vectors(new, embedder.embed(new))
    return len(new)


def _records_done(summary: IngestSummary) -> int:
    """Records classified so far: each counts once as added, updated, unchanged, duplicate,
    merged or rejected."""
    return (summary.added + summary.updated + summary.unchanged + summary.duplicates
            + summary.merged + summary.rejected)


def reindex(store: IngestTarget, embedder: Embedder, chunker: SentenceChunker,
            progress: bool = True, sentence_vectors: bool = True) -> int:
    """Re-chunk and re-embed every stored article with the current settings; one commit
    (and then one for the sentence vectors, which the first drops with the old model's).

    Returns the number of chunks written. Used after changing the model or the chunker.
    """
    articles = list(store.articles())
    log.info("reindex: chunking and embedding %d articles", len(articles))
    embedder.show_progress = progress
    encoded = encode_articles(articles, chunker, embedder)
    store.replace_all_chunks([(article.id, chunks, vectors) for article, chunks, vectors in encoded],
                             index_identity(embedder, chunker))
    if sentence_vectors:
        store_sentence_vectors(store, embedder, [chunk for _, chunks, _ in encoded
                                                 for chunk in chunks])
    return sum(len(chunks) for _, chunks, _ in encoded)

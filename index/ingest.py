"""Ingestion: load -> skip unchanged -> dedup -> chunk -> embed -> commit, in batches.

Each batch of articles is one atomic commit, so a killed ingest keeps every batch committed
before the kill and a re-run picks up where it stopped (committed articles are unchanged
and cost nothing). Unchanged articles are never re-embedded; a changed article replaces its
chunks; exact and near-duplicates are merged into the first copy as "also reported by".

Example:
    >>> ingester = Ingester(store, embedder, chunker, Deduplicator())
    >>> summary = ingester.run(["seeds/"])
    >>> print(summary)
    added 1, updated 0, unchanged 0, ...
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping

from tqdm import tqdm

from index import loaders
from index.articles import Article, Coverage, IngestSummary, Rejection
from index.chunking import SentenceChunker
from index.dedup import Deduplicator
from index.embedding import Embedder
from index.store import FaissStore, content_hash

log = logging.getLogger(__name__)


def index_identity(embedder: Embedder, chunker: SentenceChunker) -> dict:
    """The settings an index is bound to: vectors and chunks from others do not mix."""
    return {**embedder.identity, **chunker.settings}


@dataclass
class _Batch:
    articles: dict[str, Article] = field(default_factory=dict)
    minhashes: dict[str, bytes] = field(default_factory=dict)
    coverage: dict[str, tuple[Coverage, ...]] = field(default_factory=dict)


def _coverage_of(article: Article) -> Coverage:
    return Coverage(article.source, article.url, article.published_at)


class Ingester:
    """Adds articles from files and folders, or loaded elsewhere, to a store (see the module
    docstring)."""

    def __init__(self, store: FaissStore, embedder: Embedder, chunker: SentenceChunker,
                 dedup: Deduplicator, *, batch_articles: int = 32, progress: bool = True):
        if batch_articles < 1:
            raise ValueError(f"batch_articles must be at least 1, got {batch_articles}")
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.dedup = dedup
        self.batch_articles = batch_articles
        self.progress = progress

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
        known = self.store.known_articles()
        for stored in known.values():
            self.dedup.add(stored.id, stored.fingerprint,
                           self.dedup.from_bytes(stored.minhash) if stored.minhash else None)
        batch, seen = _Batch(), {}
        bar = tqdm(total=len(items), unit="article", desc="ingest", disable=not self.progress)
        for item in items:
            bar.update(1)
            if isinstance(item, Rejection):
                summary.rejected += 1
                summary.rejections.append(item)
                log.warning("rejected %s", item)
                continue
            self._classify(item, known, seen, batch, summary)
            if len(batch.articles) >= self.batch_articles:
                self._commit(batch, summary)
                batch = _Batch()
        self._commit(batch, summary)
        bar.close()
        self.store.log_ingest(sources, started, {k: v for k, v in vars(summary).items()
                                               if k != "rejections"})
        self.store.flush()
        log.info("ingest done: %s", summary)
        return summary

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

    def _commit(self, batch: _Batch, summary: IngestSummary) -> None:
        articles = list(batch.articles.values())
        chunks = [self.chunker.run(article) for article in articles]
        texts = [chunk.indexed_text for article_chunks in chunks for chunk in article_chunks]
        vectors = self.embedder.embed(texts)
        items, offset = [], 0
        for article, article_chunks in zip(articles, chunks):
            items.append((article, article_chunks, vectors[offset:offset + len(article_chunks)]))
            offset += len(article_chunks)
        self.store.upsert(items, minhashes=batch.minhashes)
        for original_id, coverage in batch.coverage.items():
            self.store.add_coverage(original_id, coverage)
        summary.chunks_embedded += len(texts)


def reindex(store: FaissStore, embedder: Embedder, chunker: SentenceChunker,
            progress: bool = True) -> int:
    """Re-chunk and re-embed every stored article with the current settings; one commit.

    Returns the number of chunks written. Used after changing the model or the chunker.
    """
    articles = list(store.articles())
    chunks = [chunker.run(article) for article in articles]
    texts = [chunk.indexed_text for article_chunks in chunks for chunk in article_chunks]
    log.info("reindex: embedding %d chunks of %d articles", len(texts), len(articles))
    embedder.show_progress = progress
    vectors = embedder.embed(texts)
    items, offset = [], 0
    for article, article_chunks in zip(articles, chunks):
        items.append((article.id, article_chunks, vectors[offset:offset + len(article_chunks)]))
        offset += len(article_chunks)
    store.replace_all_chunks(items, index_identity(embedder, chunker))
    return len(texts)

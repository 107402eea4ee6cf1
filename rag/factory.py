"""Small factories that build the pipeline's components from a `Config`.

Example:
    >>> config = Config.load()
    >>> retriever = make_retriever(config, open_store(config))
"""

from __future__ import annotations

from index.chunking import SentenceChunker
from index.dedup import Deduplicator
from index.embedding import Embedder
from index.ingest import Ingester, index_identity
from index.store import FaissStore
from rag.config import Config
from rag.retrieve import Retriever, Weights


def make_embedder(config: Config, show_progress: bool = False) -> Embedder:
    return Embedder(config.model, precision=config.precision, batch_size=config.batch_size,
                    show_progress=show_progress)


def make_chunker(config: Config, embedder: Embedder) -> SentenceChunker:
    return SentenceChunker(embedder.tokenizer, max_tokens=config.chunk_tokens,
                           overlap_tokens=config.chunk_overlap, model_limit=embedder.max_tokens)


def read_identity(config: Config) -> dict:
    """What a reader checks an index against without loading the model."""
    return {"model": config.model, "chunk_tokens": config.chunk_tokens,
            "chunk_overlap": config.chunk_overlap}


def open_store(config: Config, *, writable: bool = False,
               embedder: Embedder | None = None, chunker: SentenceChunker | None = None
               ) -> FaissStore:
    """Open the configured index; a writer (with embedder and chunker) creates it if missing."""
    if writable and embedder is not None and chunker is not None:
        return FaissStore.open(config.index, identity=index_identity(embedder, chunker),
                               writable=True, create=True, dense_kind=config.dense_index)
    return FaissStore.open(config.index, identity=read_identity(config), writable=writable)


def make_ingester(config: Config, progress: bool = True) -> Ingester:
    embedder = make_embedder(config)
    chunker = make_chunker(config, embedder)
    store = open_store(config, writable=True, embedder=embedder, chunker=chunker)
    return Ingester(store, embedder, chunker, Deduplicator(config.near_duplicate_threshold),
                    batch_articles=config.commit_every, progress=progress)


def make_retriever(config: Config, store: FaissStore) -> Retriever:
    weights = Weights(clause=config.weight_clause, dense=config.weight_dense,
                      date=config.weight_date, recency=config.weight_recency)
    return Retriever(store, make_embedder(config), mode=config.search_mode,
                     fusion=config.fusion, candidates=config.candidates, rrf_k=config.rrf_k,
                     weights=weights, article_decay=config.article_decay,
                     reference_date=config.reference_datetime)

"""The one place that builds newscite's objects from a `Config`: stores, embedders, chunkers,
ingesters, retrievers, the LLM and the answer chain. The chat, the command line and the
evaluation all build through here, so one setting means the same everywhere.

Example:
    >>> config = Config.load()
    >>> chain = make_chain(config, chat_model=make_chat_model(config))
    >>> retriever = make_retriever(config, open_store(config))
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from newscite.config import Config
from newscite.index.chunking import SentenceChunker
from newscite.index.dedup import Deduplicator
from newscite.index.embedding import Embedder, resolve_precision
from newscite.index.fetch import Fetcher
from newscite.index.ingest import Ingester, index_identity
from newscite.index.loaders.web import WebLoader
from newscite.index.store import Store, read_manifest
from newscite.index.watch import STATE_NAME, Ingest, Watcher
from newscite.rag.answer import ExtractiveAnswerer
from newscite.rag.chain import NewsRAG
from newscite.rag.ranker import RANKER_PATH, LinearRanker, load_ranker
from newscite.rag.rerank import CrossEncoderReranker
from newscite.rag.retrieve import Retriever, Weights
from newscite.types import Article, IngestSummary

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


def make_embedder(config: Config, show_progress: bool = False,
                  follow_index: bool = True) -> Embedder:
    """The configured embedder. With precision "auto" it follows the vectors the configured
    index already holds (`resolve_precision`); `follow_index=False` (reindex) picks for
    this CPU, as for a new index."""
    manifest = read_manifest(config.index) if follow_index else None
    precision = resolve_precision(config.precision, (manifest or {}).get("identity"))
    return Embedder(config.model, precision=precision, batch_size=config.batch_size,
                    show_progress=show_progress)


def make_chunker(config: Config, embedder: Embedder) -> SentenceChunker:
    return SentenceChunker(embedder.tokenizer, max_tokens=config.chunk_tokens,
                           overlap_tokens=config.chunk_overlap, model_limit=embedder.max_tokens)


def encoding_parts(config: Config) -> tuple[Embedder, SentenceChunker]:
    """The embedder and chunker of an ingest worker (a Ray actor builds its own)."""
    embedder = make_embedder(config)
    return embedder, make_chunker(config, embedder)


def read_identity(config: Config) -> dict:
    """What a reader checks an index against without loading the model."""
    return {"model": config.model, "chunk_tokens": config.chunk_tokens,
            "chunk_overlap": config.chunk_overlap}


def open_store(config: Config, *, writable: bool = False,
               embedder: Embedder | None = None, chunker: SentenceChunker | None = None,
               any_identity: bool = False) -> Store:
    """Open the configured index in the configured store (`faiss`, or a Milvus URI); a writer
    (with embedder and chunker) creates it if missing. `any_identity` skips the check that
    the index was built with the configured model and chunker (for reindex)."""
    if writable and embedder is not None and chunker is not None:
        return Store.open(config.index, identity=index_identity(embedder, chunker),
                          writable=True, create=True, dense_kind=config.dense_index,
                          engine=config.store)
    return Store.open(config.index, identity=None if any_identity else read_identity(config),
                      writable=writable, engine=config.store)


def make_ingester(config: Config, progress: bool = True,
                  embedder: Embedder | None = None) -> Ingester:
    """The configured ingester; with `ingest_workers` it chunks and embeds on Ray."""
    embedder = embedder or make_embedder(config)
    chunker = make_chunker(config, embedder)
    encoder = None
    if config.ingest_workers:
        from newscite.index.distributed import RayEncoder

        # workers embed with the precision resolved here: "auto" on a worker with other
        # CPU features would pick another backend, and its vectors would mix into the index
        worker_config = config.with_(precision=embedder.precision.value)
        encoder = RayEncoder(partial(encoding_parts, worker_config),
                             workers=config.ingest_workers, address=config.ray_address,
                             progress=progress)
    store = open_store(config, writable=True, embedder=embedder, chunker=chunker)
    return Ingester(store, embedder, chunker, Deduplicator(config.near_duplicate_threshold),
                    batch_articles=config.commit_every, progress=progress, encoder=encoder,
                    sentence_vectors=config.sentence_vectors)


def make_fetcher(config: Config) -> Fetcher:
    """The web client for feeds and pages; its page cache lives in the index directory."""
    return Fetcher(Path(config.index).expanduser() / "fetch-cache.sqlite",
                   user_agent=config.fetch_user_agent, timeout=config.fetch_timeout,
                   max_bytes=config.fetch_max_bytes, per_host_delay=config.fetch_per_host_delay,
                   per_host_connections=config.fetch_per_host_connections,
                   retries=config.fetch_retries, private_hosts=config.private_hosts)


def feed_state_path(config: Config) -> Path:
    """Where the feed watcher remembers what it ingested and how each feed fared."""
    return Path(config.index).expanduser() / STATE_NAME


def make_watcher(config: Config, feed_list: str | Path, fetcher: Fetcher,
                 ingest: Ingest) -> Watcher:
    return Watcher(Path(feed_list), WebLoader(fetcher), ingest, feed_state_path(config))


def make_batch_ingest(config: Config, embedder: Embedder) -> Ingest:
    """Adds a batch of articles to the configured index, which is open for writing (and
    locked) only while the batch is ingested."""

    def ingest(articles: list[Article], sources: list[str]) -> IngestSummary:
        ingester = make_ingester(config, progress=False, embedder=embedder)
        with ingester.store:
            return ingester.ingest(articles, sources)

    return ingest


def make_retriever(config: Config, store: Store, embedder: Embedder | None = None) -> Retriever:
    """The configured retriever over `store`; pass `embedder` to share a loaded model."""
    weights = Weights(clause=config.weight_clause, dense=config.weight_dense,
                      date=config.weight_date, recency=config.weight_recency,
                      sentence=config.weight_sentence,
                      clause_sentence=config.weight_clause_sentence)
    return Retriever(store, embedder or make_embedder(config), mode=config.search_mode,
                     fusion=config.fusion, candidates=config.candidates, rrf_k=config.rrf_k,
                     weights=weights, clause_candidates=config.clause_candidates,
                     reference_date=config.reference_datetime,
                     reranker=CrossEncoderReranker(config.reranker) if config.reranker else None,
                     rerank_top=config.rerank_top, ranker=make_ranker(config))


def make_ranker(config: Config) -> LinearRanker | None:
    """The configured learned ranker; None (the hand-set fusion) when off, or when its
    weights were fitted for another model or chunking than this index's."""
    if config.ranker == "off":
        return None
    return load_ranker(RANKER_PATH if config.ranker == "auto" else config.ranker,
                       read_identity(config))


def make_chat_model(config: Config) -> BaseChatModel | None:
    """The configured LLM, None when none is configured. rag.llm (and the OpenAI client it
    imports, seconds of start-up) is imported only when an LLM is configured."""
    if not (config.llm_base_url or config.llm_gguf):
        return None
    from newscite.rag.llm import make_chat_model as make

    return make(config)


def make_chain(config: Config, store: Store | None = None, *, embedder: Embedder | None = None,
               chat_model: BaseChatModel | None = None) -> NewsRAG:
    """The answer chain the chat, `newscite ask` and `newscite eval` share.

    `chat_model` is the LLM of generate mode (`make_chat_model(config)`), None for
    extractive answers only; `store` and `embedder` default to the configured ones.
    """
    store = store or open_store(config)
    embedder = embedder or make_embedder(config)
    answerer = ExtractiveAnswerer(embedder, abstain_below=config.abstain_below,
                                  min_coverage=config.min_coverage,
                                  stored_sentences=store.sentence_vectors,
                                  word_weights=store.word_weights)
    return NewsRAG(make_retriever(config, store, embedder), answerer, chat_model,
                   mode=config.answer_mode, k=config.k, history_turns=config.history_turns)

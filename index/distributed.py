"""Distributed ingest: chunking and embedding as a Ray Data pipeline on a Ray cluster.

Embedding is where ingest spends its time (over 90% on CPU), so it is what is spread out:
the driver (`newscite ingest --workers N [--ray ADDRESS]`) loads the files, skips unchanged
articles and merges duplicates as a single-process ingest does, then sends the articles to
write through a Ray Data pipeline whose `map_batches` stage runs on a pool of actors, each
holding one embedder and chunker (loaded once per actor, not per batch). Results come back
in input order and the driver alone writes them to the configured store, batch by batch,
so a killed run keeps every committed batch, as a single-process ingest does.

Articles travel to the actors as plain rows (id, title, outlet, date, body) and come back as
chunk offsets (JSON) and float32 vector bytes; nothing is written to disk on the way.

Example:
    >>> parts = functools.partial(factory.encoding_parts, config)  # picklable, for the actors
    >>> encoder = RayEncoder(parts, workers=2)           # starts a local Ray
    >>> encoder = RayEncoder(parts, workers=8, address="ray://head:10001")
    >>> Ingester(store, embedder, chunker, dedup, encoder=encoder).run(["corpus.json"])
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Callable, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from newscite.index.chunking import SentenceChunker
from newscite.index.embedding import Embedder
from newscite.index.ingest import Encoded, encode_articles
from newscite.types import Article, Chunk

log = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 256 * 1024 ** 2  # a local Ray's shared memory: articles are small


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the extra installs both)
    except ImportError as exc:
        raise ImportError("distributed ingest needs Ray: pip install 'newscite[scale]'") from exc
    return ray


def _to_row(article: Article) -> dict:
    """What an actor needs to chunk an article (the chunk header names title, outlet, date)."""
    return {"id": article.id, "title": article.title, "source": article.source or "",
            "published_at": article.published_at.isoformat() if article.published_at else "",
            "body": article.body}


def _from_row(row: dict) -> Article:
    return Article(id=row["id"], title=row["title"], body=row["body"],
                   source=row["source"] or None,
                   published_at=datetime.fromisoformat(row["published_at"])
                   if row["published_at"] else None)


# Builds the embedder and chunker an actor uses; sent to the actors, so it must pickle (a
# module-level function, or functools.partial of one, such as newscite.factory.encoding_parts).
MakeParts = Callable[[], tuple[Embedder, SentenceChunker]]


class ChunkEmbed:
    """The pipeline's actor: one embedder and chunker, built once by `make_parts`."""

    def __init__(self, make_parts: MakeParts):
        self.embedder, self.chunker = make_parts()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        articles = [_from_row({key: batch[key][n] for key in batch})
                    for n in range(len(batch["id"]))]
        encoded = encode_articles(articles, self.chunker, self.embedder)
        return {"id": np.asarray([article.id for article, _, _ in encoded], dtype=object),
                "chunks": np.asarray([json.dumps([[c.ordinal, c.start, c.end, c.header,
                                                   c.n_tokens] for c in chunks])
                                      for _, chunks, _ in encoded], dtype=object),
                "vectors": np.asarray([np.ascontiguousarray(vectors, dtype=np.float32).tobytes()
                                       for _, _, vectors in encoded], dtype=object)}


def _decode(article: Article, row: dict) -> Encoded:
    chunks = [Chunk(article_id=article.id, ordinal=ordinal, start=start, end=end,
                    text=article.body[start:end], header=header, n_tokens=n_tokens)
              for ordinal, start, end, header, n_tokens in json.loads(row["chunks"])]
    vectors = np.frombuffer(row["vectors"], dtype=np.float32).reshape(len(chunks), -1) \
        if chunks else np.zeros((0, 0), dtype=np.float32)
    return article, chunks, vectors


class RayEncoder:
    """Chunks and embeds on `workers` Ray actors (see the module docstring).

    `address` names a running cluster (`auto`, `HOST:6379` or `ray://HOST:10001`); without
    it a local Ray is started with `workers` CPUs and stopped afterwards. When Ray is already
    initialised in this process, that cluster is used. `articles_per_task` is the batch an
    actor embeds at once: about 16 articles, some 300 chunks, keep the model's own batches
    (`batch_size`, 64 texts) full without holding much in flight.
    """

    def __init__(self, make_parts: MakeParts, *, workers: int, address: str = "",
                 articles_per_task: int = 16, cpus_per_worker: float = 1.0,
                 progress: bool = False):
        if workers < 1:
            raise ValueError(f"setting 'ingest_workers' must be at least 1, got {workers}")
        if articles_per_task < 1:
            raise ValueError(f"articles_per_task must be at least 1, got {articles_per_task}")
        _ray()
        self.make_parts = make_parts
        self.workers = workers
        self.address = address
        self.articles_per_task = articles_per_task
        self.cpus_per_worker = cpus_per_worker
        self.progress = progress

    def encode(self, batches: Iterable[list[Article]]) -> Iterator[list[Encoded]]:
        """All batches go into one pipeline; each batch's result is yielded, in order, as soon
        as its last article comes back."""
        ray = _ray()
        batches = list(batches)
        articles = [article for batch in batches for article in batch]
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address or None, include_dashboard=False,
                     logging_level=logging.WARNING,
                     **({} if self.address else {"num_cpus": self.workers,
                                                 "object_store_memory": LOCAL_OBJECT_STORE_BYTES}))
        rows = iter(())
        bar = tqdm(total=len(articles), unit="article", desc=f"embed on {self.workers} Ray workers",
                   disable=not self.progress)
        try:
            if articles:
                rows = iter(self._pipeline(ray, articles).iter_rows())
            for batch in batches:
                yield [_decode(article, self._next(rows, article)) for article in batch]
                bar.update(len(batch))
        finally:
            bar.close()
            if hasattr(rows, "close"):
                rows.close()  # ends the pipeline while Ray is still up
            if started:
                ray.shutdown()

    def _pipeline(self, ray, articles: list[Article]):
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        log.info("embedding %d articles on %d Ray workers", len(articles), self.workers)
        return ray.data.from_items([_to_row(article) for article in articles]).map_batches(
            ChunkEmbed, fn_constructor_kwargs={"make_parts": self.make_parts},
            batch_size=self.articles_per_task, compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=self.cpus_per_worker, batch_format="numpy")

    @staticmethod
    def _next(rows: Iterator[dict], article: Article) -> dict:
        row = next(rows)
        if row["id"] != article.id:
            raise RuntimeError(f"the Ray pipeline returned {row['id']} where {article.id} was "
                               f"expected: results came back out of order")
        return row

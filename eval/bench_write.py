"""Write cost: seconds to add 100 articles to indexes of 10k, 100k and 1M chunks.

The indexes are SYNTHETIC: articles of PARAGRAPHS paragraphs of WORDS_PER_PARAGRAPH words
drawn with their corpus frequencies from the MultiHop-RAG vocabulary (pseudo-words when that
corpus is absent; the bulk-built ones reuse POOL_PARAGRAPHS paragraphs), one chunk per
paragraph, random unit vectors (384-d), each article's MinHash signature stored as ingest
stores it (the deduplicator reads them all when a writer starts). They are built by
direct bulk insertion into SQLite, keyword segments of BUILD_BATCH chunks and one FAISS flat
file, once, and kept in --dir for later runs (signatures are added to a base built before
they were). The measured adds go through the normal path:
`Ingester.ingest` (dedup, the real sentence chunker, sentence vectors, upsert per batch of
32, flush with its merges) on a writer kept open, as `newscite watch` keeps it; only the
embedding of chunks and sentences is replaced by random vectors (the model is loaded, for its
tokenizer, but its cost does not depend on the index size; ~55 chunks/s, see the README). The stores are measured in one process, in rotating order, so that machine load
falls on all sizes alike; opening each store is timed apart (it reads the whole index).
Peak memory is measured in a separate process that opens only the largest index and adds to
it (its own high-water mark, VmHWM: see `peak_rss`).

    python -m newscite.eval.bench_write [--sizes 10000,100000,1000000] [--adds 6] \\
        [--dir /tmp/newscite-bench-write]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import zlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from newscite.eval.crash import ROOT
from newscite.index.chunking import header_for
from newscite.index.dedup import Deduplicator
from newscite.index.embedding import Embedder
from newscite.index.keywords import KeywordIndex
from newscite.index.store import Store
from newscite.index.store.records import ChunkTable, article_values
from newscite.types import Article, Chunk

log = logging.getLogger("bench_write")

CORPUS = ROOT.parent / "shared" / "data" / "multihop-rag" / "corpus.json"
DIMENSION = 384  # all-MiniLM-L6-v2's
IDENTITY = {"model": "synthetic", "dimension": DIMENSION, "chunker": "sentence",
            "chunk_tokens": 320, "chunk_overlap": 40}
PARAGRAPHS = 5  # chunks of a bulk-built article
WORDS_PER_PARAGRAPH = 170  # about a 320-word-piece chunk of real news
WORDS_PER_SENTENCE = 17
BUILD_BATCH = 50_000  # chunks per bulk transaction and per keyword segment of the base
ARTICLES_PER_ADD = 100
OUTLETS = 40
POOL_PARAGRAPHS = 20_000  # distinct paragraphs the bulk-built articles are made of
POOL_TITLES = 5_000
SIGNATURE_BATCH = 5_000  # articles given their MinHash per transaction in an older base


class Words:
    """Words drawn with their frequencies in a real news corpus (or pseudo-words)."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        if CORPUS.exists():
            counts = Counter(w for a in json.loads(CORPUS.read_text())[:400]
                             for w in a["body"].split() if w.isalpha())
            self.words = np.array(list(counts))
            freq = np.array(list(counts.values()), dtype=np.float64)
        else:  # Zipf over pseudo-words
            letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
            self.words = np.array(["".join(self.rng.choice(letters, 7)) for _ in range(30_000)])
            freq = 1.0 / np.arange(1, len(self.words) + 1)
        self.cumulative = np.cumsum(freq) / freq.sum()

    def draw(self, n: int) -> np.ndarray:
        """`n` words, each with its corpus frequency."""
        picks = np.searchsorted(self.cumulative, self.rng.random(n))
        return self.words[np.minimum(picks, len(self.words) - 1)]

    def paragraph(self) -> str:
        words = self.draw(WORDS_PER_PARAGRAPH)
        return " ".join(" ".join(words[i:i + WORDS_PER_SENTENCE]).capitalize() + "."
                        for i in range(0, WORDS_PER_PARAGRAPH, WORDS_PER_SENTENCE))

    def article(self, key: str) -> Article:
        code = zlib.crc32(key.encode())
        day = datetime(2023, 1, 1, tzinfo=timezone.utc) + timedelta(days=code % 700)
        title = " ".join(self.draw(8)).capitalize()
        return Article.create(title=title, body="\n\n".join(self.paragraph()
                                                             for _ in range(PARAGRAPHS)),
                              source=f"Outlet {code % OUTLETS}", published_at=day,
                              url=f"https://synthetic.example/{key}")


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMENSION), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build_base(path: Path, chunks: int) -> None:
    """A synthetic index of `chunks` chunks by bulk insertion (see the module docstring).
    Its articles combine paragraphs and titles from pools tokenized once (tokenizing a
    million chunks one by one would take an hour on a loaded machine): the keyword segments
    hold exactly the tokens of the stored text, as the store's own writes would."""
    import bm25s

    from newscite.index.keywords import _stemmer

    words, rng, dedup = Words(seed=chunks), np.random.default_rng(chunks), Deduplicator()
    paragraphs = [words.paragraph() for _ in range(POOL_PARAGRAPHS)]
    titles = [" ".join(words.draw(8)).capitalize() for _ in range(POOL_TITLES)]
    outlets = [f"Outlet {n}" for n in range(OUTLETS)]
    days = [datetime(2023, 1, 1, tzinfo=timezone.utc) + timedelta(days=n) for n in range(700)]
    pieces = paragraphs + titles + outlets + [d.date().isoformat() for d in days]
    tokens = bm25s.tokenize(pieces, stopwords="en", stemmer=_stemmer(), return_ids=True,
                            show_progress=False)
    terms = sorted(tokens.vocab, key=tokens.vocab.get)
    ids_of = [np.asarray(doc, dtype=np.int64) for doc in tokens.ids]
    para_ids, title_ids = ids_of[:POOL_PARAGRAPHS], ids_of[POOL_PARAGRAPHS:-len(days) - OUTLETS]
    outlet_ids, day_ids = ids_of[-len(days) - OUTLETS:-len(days)], ids_of[-len(days):]
    started = time.monotonic()
    with Store.open(path, identity=IDENTITY, writable=True, create=True) as store:
        catalog, keywords = store.catalog, KeywordIndex([], [])
        for first in range(0, chunks, BUILD_BATCH):
            count = min(chunks, first + BUILD_BATCH) // PARAGRAPHS - first // PARAGRAPHS
            picks = rng.integers(0, POOL_PARAGRAPHS, (count, PARAGRAPHS))
            title, outlet, day = (rng.integers(0, len(pool), count)
                                  for pool in (titles, outlets, days))
            articles, rows, token_ids = [], [], []
            for n in range(count):
                article = Article.create(
                    title=titles[title[n]], source=outlets[outlet[n]], published_at=days[day[n]],
                    body="\n\n".join(paragraphs[p] for p in picks[n]),
                    url=f"https://synthetic.example/base-{first // PARAGRAPHS + n}")
                header, start = header_for(article), 0
                head = np.concatenate([title_ids[title[n]], outlet_ids[outlet[n]],
                                       day_ids[day[n]]])
                for ordinal, p in enumerate(picks[n]):
                    rows.append((article.id, ordinal, start, start + len(paragraphs[p]), header,
                                 WORDS_PER_PARAGRAPH))
                    token_ids.append(np.concatenate([head, para_ids[p]]))
                    start += len(paragraphs[p]) + 2
                articles.append(article)
            vectors = unit_vectors(rng, len(rows))
            with catalog.transaction() as db:
                db.executemany("INSERT INTO articles (id, title, body, source, published_at, "
                               "url, authors, category, also_reported_by, origin, fingerprint, "
                               "content_hash, minhash, feed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                               [article_values(a, dedup.to_bytes(dedup.signature(a.body)))
                                for a in articles])
                last = db.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()[0]
                db.executemany('INSERT INTO chunks (article_id, ordinal, start, "end", header, '
                               "n_tokens, vector) VALUES (?,?,?,?,?,?,?)",
                               [(*row, v.tobytes()) for row, v in zip(rows, vectors)])
            keywords.add_tokenized(np.arange(last + 1, last + 1 + len(rows), dtype=np.int64),
                                   token_ids, terms)
            log.info("%s: %d of %d chunks inserted (%.0f s)", path.name,
                     min(chunks, first + BUILD_BATCH), chunks, time.monotonic() - started)
        catalog.chunks = ChunkTable.read(catalog.db)
        store._keywords = keywords  # bulk-built: the store's own writes are what is measured
        store.dense.reset()  # built from SQLite's vectors when flushed
        store._dirty = True
    log.info("%s built in %.0f s", path, time.monotonic() - started)


def add_signatures(path: Path) -> None:
    """Store the MinHash signature of each article of a base built without them (before
    bases stored them), as ingest would have: a writer's deduplicator reads them all when it
    starts. Derived indexes do not depend on them, so the generation is left as it is."""
    import sqlite3

    from newscite.index.store.catalog import DB_NAME

    dedup = Deduplicator()
    db = sqlite3.connect(path / DB_NAME, isolation_level=None)
    try:
        while rows := db.execute("SELECT id, body FROM articles WHERE minhash IS NULL LIMIT ?",
                                 (SIGNATURE_BATCH,)).fetchall():
            db.execute("BEGIN IMMEDIATE")
            db.executemany("UPDATE articles SET minhash = ? WHERE id = ?",
                           [(dedup.to_bytes(dedup.signature(body)), article_id)
                            for article_id, body in rows])
            db.execute("COMMIT")
            log.info("%s: %d more articles signed", path.name, len(rows))
    finally:
        db.close()


class SyntheticEmbedder(Embedder):
    """The embedding model, loaded (its tokenizer chunks, and a writer holds it), with random
    unit vectors instead of its output: the sentence vectors the ingester stores for each
    batch cost random numbers, not the model's time."""

    def __init__(self, seed: int):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def embed(self, texts: list[str]) -> np.ndarray:
        return unit_vectors(self.rng, len(texts))


class SyntheticEncoder:
    """The real sentence chunker with random unit vectors instead of the embedding model."""

    def __init__(self, chunker, seed: int):
        self.chunker = chunker
        self.rng = np.random.default_rng(seed)

    def encode(self, batches):
        for articles in batches:
            encoded = []
            for article in articles:
                chunks: list[Chunk] = self.chunker.run(article)
                encoded.append((article, chunks, unit_vectors(self.rng, len(chunks))))
            yield encoded


class TimedStore:
    """A store that adds up the seconds of its writes (upsert, coverage, log, flush): the
    part of an add that the index size could make grow."""

    def __init__(self, store: Store):
        self.store = store
        self.seconds = 0.0

    def __getattr__(self, name: str):
        method = getattr(self.store, name)
        if name not in ("upsert", "add_coverage", "log_ingest", "flush"):
            return method

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return timed


def _writers(paths: dict[int, Path]):
    """Open writers with their ingesters: {size: (store, ingester, open seconds)}."""
    from newscite.index.chunking import SentenceChunker
    from newscite.index.ingest import Ingester

    embedder = SyntheticEmbedder(seed=len(paths))
    chunker = SentenceChunker(embedder.tokenizer, model_limit=embedder.max_tokens)
    writers = {}
    for size, path in paths.items():
        started = time.perf_counter()
        store = Store.open(path, writable=True)
        ingester = Ingester(TimedStore(store), embedder, chunker, Deduplicator(), progress=False,
                            encoder=SyntheticEncoder(chunker, seed=size))
        ingester._known_articles()  # read once per writer session, like the first run
        writers[size] = (store, ingester, time.perf_counter() - started)
    return writers


def add(ingester, words: Words, key: str) -> tuple[float, float]:
    """Seconds to ingest ARTICLES_PER_ADD new synthetic articles, flush included, and the
    seconds of that spent in the store's writes."""
    articles = [words.article(f"{key}-{n}") for n in range(ARTICLES_PER_ADD)]
    ingester.store.seconds = 0.0
    started = time.perf_counter()
    summary = ingester.ingest(articles, ["bench_write"])
    seconds = time.perf_counter() - started
    if summary.added != ARTICLES_PER_ADD:
        raise RuntimeError(f"expected {ARTICLES_PER_ADD} new articles, got {summary}")
    return seconds, ingester.store.seconds


def peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM, the high-water mark of its own
    address space. Not ru_maxrss: Linux carries that over from the parent through fork and
    exec, so a child started by a large process reports at least the parent's peak (the
    separate memory process reported the three-writer process's 4.44 GiB that way)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux: kilobytes


def peak_memory(path: Path, adds: int) -> dict:
    """In this process: open one index, add to it `adds` times; the peak resident memory
    (bytes) once the writer is open and at the end."""
    writers = _writers({0: path})
    store, ingester, opened = writers[0]
    after_open = peak_rss()
    words = Words(seed=time.time_ns())
    for n in range(adds):
        add(ingester, words, f"mem-{os.getpid()}-{n}")
    chunks = len(store.catalog.chunks.ids)
    store.close()
    return {"chunks": chunks, "open_s": round(opened, 2), "peak_rss_open_bytes": after_open,
            "peak_rss_bytes": peak_rss()}


QUERIES = ("council budget vote", "police said the investigation", "market shares fell",
           "election results announced", "new technology company")


def keyword_search_ms(store: Store, repeats: int = 3) -> float:
    """Median milliseconds of a top-10 BM25 search over the whole index (the segments'
    weights are computed at query time, so this is what the write design costs a query)."""
    timings = []
    for _ in range(repeats):
        for query in QUERIES:
            started = time.perf_counter()
            store.keyword_search(query, 10)
            timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--adds", type=int, default=6, help="measured adds per size")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/newscite-bench-write"))
    parser.add_argument("--out", type=Path, default=Path("eval-out/bench_write.json"))
    parser.add_argument("--memory-of", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("newscite").setLevel(logging.WARNING)
    if args.memory_of:  # the separate process of the peak-memory figure
        print(json.dumps(peak_memory(args.memory_of, args.adds)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    paths = {size: args.dir / f"synthetic-{size}" for size in sizes}
    for size, path in paths.items():
        if not (path / "manifest.json").exists():
            subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                            "from newscite.eval.bench_write import build_base; "
                            "build_base(Path(sys.argv[1]), int(sys.argv[2]))",
                            str(path), str(size)], check=True)
        add_signatures(path)
    load_before = os.getloadavg()
    writers = _writers(paths)
    words = Words(seed=time.time_ns())  # new text each run: earlier runs' are stored
    run = f"{os.getpid()}-{int(time.time())}"
    for size, (_, ingester, _) in writers.items():  # warm-up, not counted
        add(ingester, words, f"warm-{run}-{size}")
    times: dict[int, list[float]] = {size: [] for size in sizes}
    writes: dict[int, list[float]] = {size: [] for size in sizes}
    for round_ in range(args.adds):
        order = sizes[round_ % len(sizes):] + sizes[:round_ % len(sizes)]
        for size in order:
            total, store = add(writers[size][1], words, f"add-{run}-{size}-{round_}")
            times[size].append(total)
            writes[size].append(store)
            log.info("%d chunks: add %d took %.2f s, %.2f s of it in store writes", size,
                     round_, total, store)
    search_ms = {size: keyword_search_ms(store) for size, (store, _, _) in writers.items()}
    rss_all = peak_rss()
    chunks_after = {size: len(store.catalog.chunks.ids) for size, (store, _, _) in writers.items()}
    for store, _, _ in writers.values():
        store.close()
    load_after = os.getloadavg()
    memory = json.loads(subprocess.run(
        [sys.executable, "-m", "newscite.eval.bench_write", "--memory-of",
         str(paths[max(sizes)]), "--adds", "2"], check=True, capture_output=True,
        text=True).stdout.splitlines()[-1])
    medians = {size: statistics.median(t) for size, t in times.items()}
    write_medians = {size: statistics.median(t) for size, t in writes.items()}
    report = {"cpu": cpu_name(), "cores": os.cpu_count(),
              "load_average_1min": [round(load_before[0], 2), round(load_after[0], 2)],
              "articles_per_add": ARTICLES_PER_ADD, "adds_per_size": args.adds,
              "sizes": {size: {"open_s": round(writers[size][2], 2),
                               "add_median_s": round(medians[size], 3),
                               "add_min_s": round(min(times[size]), 3),
                               "add_max_s": round(max(times[size]), 3),
                               "store_writes_median_s": round(write_medians[size], 3),
                               "store_writes_max_s": round(max(writes[size]), 3),
                               "chunks_after": chunks_after[size],
                               "keyword_search_median_ms": search_ms[size]}
                        for size in sizes},
              "ratio_largest_to_smallest": round(medians[max(sizes)] / medians[min(sizes)], 2),
              "store_writes_ratio": round(write_medians[max(sizes)] / write_medians[min(sizes)],
                                          2),
              "peak_rss_all_stores_bytes": rss_all, "peak_memory_largest": memory}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nWrite cost: {ARTICLES_PER_ADD} synthetic articles added through Ingester.ingest "
          f"(flush included), {args.adds} adds per size\n{report['cpu']}, {os.cpu_count()} "
          f"cores, load average {load_before[0]:.1f} -> {load_after[0]:.1f}")
    print(f"{'chunks':>9} {'open s':>8} {'add median s':>13} {'min':>7} {'max':>7} "
          f"{'store writes median s':>22} {'max':>7}")
    for size in sizes:
        row = report["sizes"][size]
        print(f"{size:>9,} {row['open_s']:>8.2f} {row['add_median_s']:>13.3f} "
              f"{row['add_min_s']:>7.3f} {row['add_max_s']:>7.3f} "
              f"{row['store_writes_median_s']:>22.3f} {row['store_writes_max_s']:>7.3f}")
    print("BM25 top-10 search, median ms: " + ", ".join(
        f"{size:,} chunks {search_ms[size]}" for size in sizes))
    print(f"ratio largest/smallest (medians): add {report['ratio_largest_to_smallest']}, "
          f"store writes {report['store_writes_ratio']}")
    print(f"peak RSS, {memory['chunks']:,} chunks alone: "
          f"{memory['peak_rss_bytes'] / 2**30:.2f} GiB (open {memory['open_s']} s, "
          f"{memory['peak_rss_open_bytes'] / 2**30:.2f} GiB once open); all "
          f"stores in one process: {rss_all / 2**30:.2f} GiB")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()

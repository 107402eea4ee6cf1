"""Search latency and memory of the two stores: FAISS on local disk and Milvus (Milvus Lite).

1. MultiHop scale: the ready MultiHop-RAG index (read-only; its SQLite is copied, and the
   Milvus collection built from the stored vectors, no re-embedding), the first QUESTIONS dev
   questions: dense search (k = 100, unfiltered and filtered to one outlet) and the whole
   retriever (`newscite search`'s path) on each store; the retriever's top 10 must agree.
2. Synthetic: N random unit vectors of 384 dimensions with an outlet and a date each, in a
   FAISS flat index and in a Milvus Lite FLAT collection: load time, memory, and search
   latency unfiltered and filtered (one outlet of 50, and a date range).

Latencies are per query, p50 and p95 in milliseconds, after 5 warm-up queries. Memory is
the resident size of this process and its children (Milvus Lite runs as a child process).

    .venv/bin/python -m newscite.eval.bench_stores --index /tmp/mh --synthetic 1000000 \\
        --out eval-out/bench_stores.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from newscite import factory
from newscite.config import Config
from newscite.index.store import DenseKind
from newscite.index.store.dense.milvus import (
    INSERT_BATCH,
    connect,
    create_collection,
    expression,
    microseconds,
)
from newscite.types import Filters

DIMENSION = 384
OUTLETS = 50
WARM_UP = 5


def rss_bytes(pid: int | None = None) -> int:
    """Resident memory of `pid` (default: this process) and all its descendants."""
    pid = pid or os.getpid()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def latencies(run, queries) -> dict:
    """p50/p95 milliseconds of `run(query)` over `queries` (after a warm-up)."""
    for query in queries[:WARM_UP]:
        run(query)
    times = []
    for query in queries:
        started = time.perf_counter()
        run(query)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))],
            "queries": len(times)}


def multihop(index: Path, questions: Path, n: int, workdir: Path) -> dict:
    """Dense search and the whole retriever on both stores over the ready MultiHop index."""
    copy = workdir / "mh"
    shutil.copytree(index, copy)
    texts = [q["query"] for q in json.loads(questions.read_text())[:n]]
    built_with = json.loads((index / "manifest.json").read_text())["identity"]
    results = {}
    top10 = {}
    for store_setting in ("faiss", f"milvus://{workdir}/mh.db"):
        config = Config.load({"index": str(copy), "store": store_setting,
                              "chunk_tokens": built_with["chunk_tokens"],
                              "chunk_overlap": built_with["chunk_overlap"]}, environ={})
        name = "faiss" if store_setting == "faiss" else "milvus-lite"
        started = time.perf_counter()
        with factory.open_store(config, writable=True) as store:  # builds the collection
            store.flush()
        opened = time.perf_counter() - started
        with factory.open_store(config) as store:
            retriever = factory.make_retriever(config, store)
            vectors = retriever.embedder.embed(texts)
            outlet = store.sources()[0][0]
            row = {"open_s": opened, "chunks": store.counts()["chunks"],
                   "dense": latencies(lambda v: store.dense_search(v, 100), list(vectors)),
                   "dense_one_outlet": latencies(
                       lambda v: store.dense_search(v, 100, Filters(sources=(outlet,))),
                       list(vectors)),
                   "retriever": latencies(lambda t: retriever.run(t, 10), texts)}
            top10[name] = [[p.chunk_id for p in retriever.run(t, 10)] for t in texts]
        results[name] = row
    same = sum(a == b for a, b in zip(top10["faiss"], top10["milvus-lite"]))
    return {"stores": results, "same_top10": same, "questions": len(texts)}


def synthetic(n: int, n_queries: int, workdir: Path) -> dict:
    """FAISS flat vs a Milvus Lite FLAT collection over `n` random unit vectors."""
    import faiss

    rng = np.random.default_rng(7)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    outlets = np.asarray([f"outlet {i}" for i in range(OUTLETS)])
    sources = outlets[rng.integers(0, OUTLETS, n)]
    days = rng.integers(0, 4 * 365, n)
    queries = rng.standard_normal((n_queries, DIMENSION)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    date_range = Filters(since=start + timedelta(days=100), until=start + timedelta(days=130))
    one_outlet = Filters(sources=("outlet 3",))
    results = {}

    def batches():
        batch_rng = np.random.default_rng(11)
        for offset in range(0, n, INSERT_BATCH * 4):
            size = min(INSERT_BATCH * 4, n - offset)
            vectors = batch_rng.standard_normal((size, DIMENSION)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            yield offset, vectors

    before = rss_bytes()
    started = time.perf_counter()
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))
    for offset, vectors in batches():
        index.add_with_ids(vectors, np.arange(offset, offset + len(vectors), dtype=np.int64))
    stamps = np.asarray([(start + timedelta(days=int(d))).timestamp() for d in days])
    loaded = time.perf_counter() - started

    def faiss_search(query, filters=None):
        if filters is None:
            return index.search(query[None, :], 100)
        mask = np.ones(n, dtype=bool)
        if filters.sources:
            mask &= np.isin(sources, [s for s in filters.sources])
        if filters.since:
            mask &= (stamps >= filters.since.timestamp()) & (stamps <= filters.until.timestamp())
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(mask)))
        return index.search(query[None, :], 100, params=params)

    results["faiss"] = {"load_s": loaded, "memory_bytes": rss_bytes() - before,
                        "dense": latencies(faiss_search, list(queries)),
                        "dense_one_outlet": latencies(lambda q: faiss_search(q, one_outlet),
                                                      list(queries)),
                        "dense_one_month": latencies(lambda q: faiss_search(q, date_range),
                                                     list(queries))}
    index.reset()  # frees the vectors before the next store is measured

    client = connect(f"milvus://{workdir}/synthetic.db")
    before = rss_bytes()
    started = time.perf_counter()
    create_collection(client, "synthetic", DIMENSION, DenseKind.FLAT)
    for offset, vectors in batches():
        rows = [{"id": offset + i, "vector": vector, "article_id": str(offset + i),
                 "source": sources[offset + i], "start": 0, "end": 1,
                 "published_us": microseconds(start + timedelta(days=int(days[offset + i])))}
                for i, vector in enumerate(vectors)]
        for at in range(0, len(rows), INSERT_BATCH):
            client.insert("synthetic", rows[at:at + INSERT_BATCH])
    client.flush("synthetic")
    loaded = time.perf_counter() - started

    def milvus_search(query, filters=None):
        return client.search("synthetic", data=[query.tolist()], anns_field="vector", limit=100,
                             filter=expression(filters), output_fields=[],
                             search_params={"metric_type": "IP"})

    results["milvus-lite"] = {
        "load_s": loaded, "memory_bytes": rss_bytes() - before,
        "dense": latencies(milvus_search, list(queries)),
        "dense_one_outlet": latencies(lambda q: milvus_search(q, one_outlet), list(queries)),
        "dense_one_month": latencies(lambda q: milvus_search(q, date_range), list(queries))}
    client.close()
    return {"vectors": n, "stores": results}


def _table(title: str, stores: dict) -> None:
    print(f"\n{title}")
    columns = [c for c in ("dense", "dense_one_outlet", "dense_one_month", "retriever")
               if c in next(iter(stores.values()))]
    print(f"{'store':<12}" + "".join(f"{c + ' p50/p95 ms':>30}" for c in columns)
          + f"{'load s':>9}{'memory MB':>11}")
    for name, row in stores.items():
        cells = "".join(f"{row[c]['p50_ms']:>20.2f} / {row[c]['p95_ms']:>7.2f}" for c in columns)
        memory = row.get("memory_bytes")
        print(f"{name:<12}{cells}{row.get('load_s', row.get('open_s', 0)):>9.1f}"
              f"{(memory / 1e6 if memory else float('nan')):>11.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default="/tmp/mh", help="a ready MultiHop-RAG FAISS index")
    parser.add_argument("--questions",
                        default="../shared/data/multihop-rag/queries-dev.json")
    parser.add_argument("--queries", type=int, default=200, help="questions / random queries")
    parser.add_argument("--synthetic", type=int, default=1_000_000,
                        help="random vectors (0 = skip)")
    parser.add_argument("--out", default="eval-out/bench_stores.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report = {"machine": f"{os.cpu_count()} CPUs", "run_at": datetime.now(timezone.utc)
              .isoformat()}
    with tempfile.TemporaryDirectory(prefix="bench-stores-") as folder:
        if args.index:
            report["multihop"] = multihop(Path(args.index), Path(args.questions), args.queries,
                                          Path(folder))
            _table(f"MultiHop-RAG index ({report['multihop']['stores']['faiss']['chunks']:,} "
                   f"chunks), {args.queries} dev questions; identical top 10: "
                   f"{report['multihop']['same_top10']}/{args.queries}",
                   report["multihop"]["stores"])
        if args.synthetic:
            report["synthetic"] = synthetic(args.synthetic, args.queries, Path(folder))
            _table(f"{args.synthetic:,} synthetic 384-d vectors, k = 100",
                   report["synthetic"]["stores"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()

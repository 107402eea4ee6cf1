"""Question latency by stage, one client and 8 concurrent ones; newscite beside the baseline.

Over the first N MultiHop-RAG dev questions and an existing index of the corpus (read
only), each question is answered as the chat does (no LLM: retrieve + extractive answer),
and timed by stage: query parsing, query embedding, dense search (FAISS search and
candidate scores), BM25 (search and candidate scores), passages (SQLite reads), fusion
(the rest of retrieval: scoring, round robin, collapsing) and answer (extractive). The
stages are timed by wrapping the store's and embedder's methods on their objects in this
process; the library is not changed. Then the same questions from 8 client threads in this
process at once (the GIL and 2 cores are shared: this measures queueing, not speed-up).

The baseline is the LangChain tutorial's query path, HuggingFaceEmbeddings.embed_query
(fp32) + FAISS similarity_search, over the same chunks and vectors as the newscite index
(FAISS.from_embeddings: no re-embedding), so its latency is comparable; its retrieval
quality on its own chunks is in eval.bench_ingest.

Start-up: `newscite serve` (over a copy of the index) from launch to the first answer shown
in headless Chromium (the browser's own start is not counted), and `newscite ask` from launch
to the printed answer, with the import, index and model loading times inside them.

Run from the repository root (the baseline needs the `bench` extra):

    .venv/bin/python -m newscite.eval.bench_query --index /tmp/mh --out eval-out/bench/query.json \\
        [--questions 200] [--clients 8]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from newscite.eval.benchkit import (
    ROOT,
    StageTimer,
    dev_questions,
    percentiles,
    print_table,
    write_json,
)

STAGES = ["parse", "query embedding", "dense", "bm25", "passages", "fusion", "answer", "total"]
STARTUP_QUESTION = "Which missile defense system did Kyiv ask NATO allies for?"


def instrument(rag, timer: StageTimer) -> None:
    """Time the retriever's calls into the embedder and the store, by stage."""
    retriever = rag.retriever
    retriever.embedder = _Embedding(retriever.embedder, timer)
    store = retriever.store
    for name, stage in (("dense_search", "dense"), ("dense_scores", "dense"),
                        ("keyword_search", "bm25"), ("keyword_scores", "bm25"),
                        ("passages", "passages")):
        timer.wrap(store, name, stage)


class _Embedding:
    """The retriever's embedder, timed (the answerer keeps the untimed one)."""

    def __init__(self, embedder, timer: StageTimer):
        self._embedder, self._timer = embedder, timer

    def embed(self, texts):
        with self._timer.stage("query embedding"):
            return self._embedder.embed(texts)

    def __getattr__(self, name):
        return getattr(self._embedder, name)


def index_settings(index: Path) -> dict:
    """The chunker settings an existing index was built with: it is refused under others."""
    from newscite.index.store import Store

    with Store.open(index) as store:
        built = store.catalog.identity
    return {key: built[key] for key in ("chunk_tokens", "chunk_overlap") if key in built}


def index_config(index: Path):
    """The settings for an existing index: its own chunker settings, the rest default."""
    from newscite.config import Config

    return Config.load({"index": str(index), **index_settings(index)}, environ={})


def index_env(index: Path) -> dict[str, str]:
    """The same chunker settings as environment variables, for a `newscite` command."""
    return {f"NEWSCITE_{key.upper()}": str(value) for key, value in index_settings(index).items()}


def answer_timed(rag, timer: StageTimer, question: str) -> dict[str, float]:
    """Seconds per stage of one question (parsing, retrieval, extractive answer)."""
    timer.reset()
    started = time.perf_counter()
    with timer.stage("parse"):
        query = rag.retriever.understand(question)
    with timer.stage("retrieve"):
        passages = rag.retriever.run(query, rag.k)
    with timer.stage("answer"):
        rag.answerer.run(query, passages)
    seconds = timer.reset()
    seconds["total"] = time.perf_counter() - started
    seconds["fusion"] = seconds.pop("retrieve") - sum(
        seconds.get(s, 0.0) for s in ("query embedding", "dense", "bm25", "passages"))
    return seconds


def run_clients(work, questions: list[str], clients: int) -> tuple[list, float]:
    """(per-question results, wall seconds) with `clients` threads sharing the questions."""
    started = time.perf_counter()
    if clients == 1:
        results = [work(q) for q in questions]
    else:
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(work, questions))
    return results, time.perf_counter() - started


def baseline_search(store):
    """The LangChain query path over the newscite index's chunks and vectors."""
    import numpy as np
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    from newscite.index.embedding import DEFAULT_MODEL, resolve_model_path

    embeddings = HuggingFaceEmbeddings(model_name=str(resolve_model_path(DEFAULT_MODEL)),
                                       model_kwargs={"device": "cpu", "local_files_only": True})
    rows = store.catalog.db.execute('SELECT c.id, substr(a.body, c.start + 1, c."end" - c.start), '
                            "c.vector FROM chunks c JOIN articles a ON a.id = c.article_id"
                            ).fetchall()
    pairs = [(text, np.frombuffer(vector, dtype=np.float32).tolist()) for _, text, vector in rows]
    vectorstore = FAISS.from_embeddings(pairs, embeddings)
    vectorstore.similarity_search("warm up", k=10)
    return lambda question: vectorstore.similarity_search(question, k=10)


def serve_startup(index: Path) -> dict:
    """Seconds from launching `newscite serve` until it answers HTTP, and until the answer to
    a first question is shown in the page (the browser's own start not counted)."""
    from playwright.sync_api import expect, sync_playwright

    from newscite.eval import serving
    from newscite.eval.bench_chat import ask

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        served = shutil.copytree(index, Path(tmp) / "index")
        started = time.perf_counter()
        process, url = serving.start_server(served, Path(tmp), **index_env(index))
        ready = time.perf_counter() - started
        try:
            with sync_playwright() as driver:
                browser_started = time.perf_counter()
                browser = driver.chromium.launch(executable_path=str(serving.CHROMIUM),
                                                 args=serving.CHROMIUM_ARGS)
                page = browser.new_page()
                browser_s = time.perf_counter() - browser_started
                page.goto(url)
                expect(page.locator("#status")).to_contain_text("articles", timeout=60_000)
                ask(page, STARTUP_QUESTION)
                answered = time.perf_counter() - started - browser_s
                browser.close()
        finally:
            serving.stop(process)
    return {"serve_ready_s": ready, "serve_first_answer_s": answered}


def startup(index: Path) -> dict:
    """Seconds from launching `newscite ask` to its answer, and what the time went to."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **index_env(index)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "newscite.cli", "ask", STARTUP_QUESTION,
                           "--index", str(index)], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=True)
    total = time.perf_counter() - started
    probe = ("import time; t = [time.perf_counter()]; import newscite.cli, newscite.rag.chain, newscite.factory; "
             "t += [time.perf_counter()]; from newscite import factory; "
             f"from newscite.eval.bench_query import index_config; c = index_config({str(index)!r}); "
             "s = factory.open_store(c); "
             "t += [time.perf_counter()]; import torch, sentence_transformers; "
             "t += [time.perf_counter()]; e = factory.make_embedder(c); e.model; "
             "t += [time.perf_counter()]; e.embed(['warm up']); t += [time.perf_counter()]; "
             "print(*(b - a for a, b in zip(t, t[1:])))")
    parts = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    names = ["newscite imports", "index open", "torch + sentence-transformers imports",
             "model load", "first embedding"]
    return {"ask_total_s": total, **{f"{n}_s": float(v) for n, v in zip(names, parts[-5:])},
            "answered": bool(done.stdout.strip())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True,
                        help="an index of the MultiHop-RAG corpus (opened read-only)")
    parser.add_argument("--questions", type=int, default=200, help="dev questions (default 200)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LangChain baseline")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timing")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from newscite import factory

    questions = [q.question for q in dev_questions(args.questions)]
    rag = factory.make_chain(index_config(args.index))
    timer = StageTimer()
    instrument(rag, timer)
    for question in questions[:3]:  # warm-up: model, caches of the parser
        rag.answer(question)
    figures, rows = {}, []
    # Each pass starts with no sentence vector cached, but the last: the same questions again.
    for clients, cached in ((1, False), (args.clients, False), (1, True)):
        if not cached:
            rag.answerer.sentence_vectors.clear()
        results, wall = run_clients(lambda q: answer_timed(rag, timer, q), questions, clients)
        stages = {s: percentiles([r.get(s, 0.0) for r in results]) for s in STAGES}
        name = f"newscite, {clients} client(s){', asked again' if cached else ''}"
        figures[name] = {"stages": stages, "wall_s": wall, "questions_per_s": len(results) / wall}
        rows += [[f"{name}: {s}", v["p50"], v["p95"], v["p99"]] for s, v in stages.items()]
        rows.append([f"  throughput {len(results) / wall:.2f} questions/s", "", "", ""])
    if not args.no_baseline:
        search = baseline_search(rag.retriever.store)
        for clients in (1, args.clients):
            def timed(question, search=search):
                started = time.perf_counter()
                search(question)
                return time.perf_counter() - started
            results, wall = run_clients(timed, questions, clients)
            figures[f"baseline dense, {clients} client(s)"] = {
                "stages": {"total": percentiles(results)}, "wall_s": wall,
                "questions_per_s": len(results) / wall}
            v = percentiles(results)
            rows.append([f"baseline (embed_query + similarity_search), {clients} client(s)",
                         v["p50"], v["p95"], v["p99"]])
            rows.append([f"  throughput {len(results) / wall:.2f} questions/s", "", "", ""])
    print_table(["stage", "p50 ms", "p95 ms", "p99 ms"], rows,
                f"Latency per question, {len(questions)} dev questions, extractive, no LLM")
    if not args.no_startup:
        figures["startup"] = {**serve_startup(args.index), **startup(args.index)}
        print_table(["start-up (fresh processes): newscite serve, newscite ask", "s"],
                    [[k, v] for k, v in figures["startup"].items() if k != "answered"])
    write_json(args.out, {"index": str(args.index), "questions": len(questions),
                          "figures": figures, "command": " ".join(sys.argv)})


if __name__ == "__main__":
    main()

"""`newscite eval`: build the chat's own code path from the configuration and evaluate it.

Questions are answered by exactly what the chat and `newscite ask` use: the configured
retriever (and, unless `--mode retrieval`, the answer chain). `--corpus` ingests a corpus
into a cached index first (incremental: unchanged articles cost nothing on a re-run).

Example:
    newscite eval ../shared/data/multihop-rag/queries-dev.json \\
        --corpus ../shared/data/multihop-rag/corpus.json --out eval-out/dev
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from newscite.config import Config
from newscite.eval.questions import load_questions
from newscite.eval.report import write_report
from newscite.eval.runner import run_eval

log = logging.getLogger(__name__)


def corpus_index(config: Config, corpus: str) -> Config:
    """Ingest `corpus` into an index cached per corpus and settings; the config pointing at it."""
    from newscite.factory import make_ingester
    from newscite.index.embedding import Precision, resolve_precision

    # The resolved precision is part of the key: one cached index per embedding backend, so
    # a run comparing backends never reuses (or adds to) another backend's vectors; the
    # default float precision keeps the key it had before precisions were part of it.
    precision = resolve_precision(config.precision)
    key = hashlib.sha1("|".join((str(Path(corpus).resolve()), config.model,
                                 str(config.chunk_tokens), str(config.chunk_overlap))
                                + (() if precision is Precision.BF16 else (precision.value,))
                                ).encode()).hexdigest()[:12]
    config = config.with_(index=str(Path(".newscite") / "eval-cache" / key))
    ingester = make_ingester(config)
    with ingester.store:
        ingester.run([corpus])
    return config


class Pipeline:
    """The chat's retriever and answer chain as the evaluation calls them: `retrieve(question,
    k)` and `answer(question, passages)`. The question is read and embedded once, in
    `retrieve`, and the answer reuses that (as the chat does)."""

    def __init__(self, rag):
        self.rag = rag
        self._queries: dict[str, object] = {}

    def retrieve(self, question, k):
        query = self.rag.retriever.understand(question.question, question.reference_date,
                                              embed=True)
        self._queries[question.id] = query
        return self.rag.retriever.run(query, k=k)

    def query(self, question):
        """The question as `retrieve` read it (read again if it was not retrieved here)."""
        return self._queries.pop(question.id, None) or self.rag.retriever.understand(
            question.question, question.reference_date, embed=True)

    def answer(self, question, passages):
        return list(self.rag.respond(self.query(question), passages))[-1].answer


def run_settings(config: Config, store, questions_path: str, corpus: str | None,
                 mode: str) -> dict:
    """What a report states about the run: mode, chunking, questions, config, index."""
    return {"mode": mode, "chunk_size": f"{config.chunk_tokens} word pieces",
            "chunk_overlap": f"{config.chunk_overlap} word pieces",
            "chunker": "sentence-packed", "questions": str(questions_path),
            "corpus": corpus, **{k: v for k, v in config.describe().items()
                                 if k not in ("host", "port", "log_level")},
            "index": store.stats()}


def evaluate(config: Config, questions_path: str, *, corpus: str | None = None,
             mode: str = "retrieval", limit: int | None = None, out: str = "eval-out",
             progress: bool = True) -> dict[str, Path]:
    """Run the question set through the configured pipeline and write the report to `out`."""
    from newscite import factory

    questions = load_questions(questions_path)
    if limit is not None:
        questions = questions[:limit]
    if corpus:
        config = corpus_index(config, corpus)
    with factory.open_store(config) as store:
        chain_config = config.with_(answer_mode="extractive" if mode == "retrieval" else mode)
        rag = factory.make_chain(chain_config, store,
                                 chat_model=factory.make_chat_model(chain_config))
        rag.retriever.embedder.embed(["warm-up"])  # model load is not a question's latency
        pipeline = Pipeline(rag)
        result = run_eval(questions, pipeline.retrieve,
                          None if mode == "retrieval" else pipeline.answer, k=config.k,
                          settings=run_settings(config, store, questions_path, corpus, mode),
                          progress=progress)
    paths = write_report(result, out, title=f"newscite eval: {Path(questions_path).name}")
    log.info("report written to %s", paths["report.md"])
    return paths


def training_main(argv: list[str] | None, *, prog: str, doc: str, questions_help: str,
                  weights_help: str, train: Callable[..., object]) -> int:
    """The command line shared by the trainers (`train_answerer`, `train_ranker`): a
    question set, where its index comes from, where to write the weights and report."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("questions", help=questions_help)
    parser.add_argument("--corpus", help="ingest this corpus into the cached eval index first")
    parser.add_argument("--index", help="index directory (default: the configured one)")
    parser.add_argument("--config", help="TOML settings file")
    parser.add_argument("--weights", help=weights_help)
    parser.add_argument("--report", help="write the cross-validated report to this folder")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = Config.load({"index": args.index} if args.index else {}, path=args.config)
    extra = {"weights": args.weights} if args.weights else {}
    train(config, args.questions, corpus=args.corpus, report=args.report, limit=args.limit,
          **extra)
    return 0

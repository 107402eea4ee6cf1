"""Learn the retriever's ranker from a question set with evidence facts, and report its
retrieval figures by cross-validation.

    newscite train-ranker QUESTIONS [--index DIR | --corpus PATH] [--weights rag/ranker.json]
        [--report eval-out/ranker-cv]

Every question is read and its candidate pools gathered once, as the chat's retriever does
(`Retriever.pools`, with the ranker's features); a candidate is labelled relevant when a
gold fact lies inside its text (the benchmark's rule: only spaces and newlines removed).
A standardised L2 logistic regression (scikit-learn) is fitted on the candidates of the
questions with facts; the article-diversity penalty and the clause-coverage bonus of
`rag.ranker.diversify` are then chosen among `PENALTIES` by cross-validation (below). The weights, fitted on every
question, are written as JSON (`rag.ranker.LinearRanker`), with the index identity (model,
chunking) they hold for.

The questions are split into `RECIPE.train_folds` folds by question; each fold is ranked by
a model fitted on the other folds only, through the retriever's own `select`, at every
penalty; each fold keeps the penalty that served the other folds best. The other folds'
candidates are fitted without the chunks that hold the fold's own evidence: MultiHop-RAG's
questions share evidence chunks, and a model able to recognise a chunk would otherwise be
scored on chunks it was taught were evidence (a LightGBM model went from MRR 0.716 to 0.813
that way; see the README, "Learned ranker"). With `--report` the
folds' records form one report, comparable with `newscite eval compare`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from newscite.config import Config
from newscite.eval import metrics
from newscite.eval.command import corpus_index, run_settings, training_main
from newscite.eval.questions import Question, load_questions
from newscite.eval.report import write_report
from newscite.eval.runner import EvalResult, aggregate, run_eval
from newscite.rag.ranker import FEATURES, RANKER_PATH, LinearRanker
from newscite.rag.retrieve import Pool, Retriever
from newscite.recipe import RECIPE
from newscite.types import Passage

log = logging.getLogger(__name__)

SEED = 0
"""Folds are seeded, so a rerun gives the same weights and figures."""

DIVERSITY_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)
"""Log-odds a candidate loses per chunk of its article already placed: none to strong."""

COVERAGE_GRID = (0.0, 1.0, 2.0)
"""Log-odds a candidate gains per clause it covers better than the chunks placed before it."""

PENALTIES = tuple((d, c) for d in DIVERSITY_GRID for c in COVERAGE_GRID)
"""Every (diversity, coverage) pair cross-validation tries."""

OBJECTIVE = ("mrr@10", "evidence_recall@10", "all_evidence@10")
"""What the diversity penalty is chosen for: their sum over the training questions."""


class CachedPassages:
    """A store whose passages are read from it once: cross-validation ranks every question
    at every penalty, and each ranking reads the passages it shows."""

    def __init__(self, store):
        self.store = store
        self.cache: dict[int, Passage] = {}

    def passages(self, chunk_ids: list[int]) -> list[Passage]:
        missing = [i for i in chunk_ids if i not in self.cache]
        if missing:
            self.cache.update((p.chunk_id, p) for p in self.store.passages(missing))
        return [self.cache[i] for i in chunk_ids if i in self.cache]

    def __getattr__(self, name: str):
        return getattr(self.store, name)


@dataclass
class Example:
    """One question's candidate pools (with features) and each candidate's label."""

    question: Question
    pools: list[Pool]
    labels: list[np.ndarray]


def collect(retriever: Retriever, questions: list[Question]) -> list[Example]:
    """Gather every question's pools once and label their candidates by the gold facts."""
    examples = []
    for n, question in enumerate(questions):
        query = retriever.understand(question.question, question.reference_date, embed=True)
        pools = retriever.pools(query, features=True)
        facts = [metrics.strip_spaces_and_newlines(f) for f in question.evidence_facts]
        labels = []
        for pool in pools:
            texts = [metrics.strip_spaces_and_newlines(p.text)
                     for p in retriever.store.passages(pool.ids.tolist())]
            labels.append(np.asarray([any(f in t for f in facts) for t in texts], dtype=int))
        examples.append(Example(question, pools, labels))
        if (n + 1) % 200 == 0:
            log.info("gathered the candidates of %d of %d questions", n + 1, len(questions))
    return examples


def rows(examples: list[Example], held_out: frozenset[int] = frozenset()
         ) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix (columns in `FEATURES` order) and labels of every candidate of the
    questions that have evidence facts, except the chunks in `held_out`."""
    x, y = [], []
    held = np.fromiter(held_out, dtype=np.int64, count=len(held_out))
    for example in examples:
        if not example.question.evidence_facts:
            continue
        for pool, labels in zip(example.pools, example.labels):
            if pool.features is None or not len(pool.ids):
                continue
            keep = ~np.isin(pool.ids, held)
            x.append(np.column_stack([pool.features[name] for name in FEATURES])[keep])
            y.append(labels[keep])
    return np.vstack(x), np.concatenate(y)


def evidence_chunks(examples: list[Example]) -> frozenset[int]:
    """The chunks that hold a gold fact of any of `examples`."""
    return frozenset(int(i) for example in examples
                     for pool, labels in zip(example.pools, example.labels)
                     for i in pool.ids[labels == 1])


def fit_logistic(examples: list[Example], identity: dict,
                 held_out: frozenset[int] = frozenset()) -> LinearRanker:
    """A standardised L2 logistic regression over the candidates (without the chunks in
    `held_out`), as a `LinearRanker`."""
    x, y = rows(examples, held_out)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=RECIPE.train_regularisation, max_iter=2000,
                               random_state=SEED).fit(scaler.transform(x), y)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return LinearRanker(coef=dict(zip(FEATURES, map(float, model.coef_[0]))),
                        intercept=float(model.intercept_[0]),
                        mean=dict(zip(FEATURES, map(float, scaler.mean_))),
                        scale=dict(zip(FEATURES, map(float, scale))), identity=identity)


def evaluate(retriever: Retriever, examples: list[Example], k: int, settings: dict
             ) -> EvalResult:
    """Retrieval figures of `examples` ranked by the retriever's current ranker."""
    pools = {e.question.id: e.pools for e in examples}
    return run_eval([e.question for e in examples],
                    lambda question, k: retriever.select(question.question, pools[question.id], k),
                    k=k, settings=settings, progress=False)


def objective(records: list) -> float:
    """The sum of the `OBJECTIVE` figures' means over the records of questions with facts."""
    scored = [r for r in records if OBJECTIVE[0] in r.scores]
    return sum(np.mean([r.scores[name] for r in scored]) for name in OBJECTIVE) if scored else 0.0


def folds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """`RECIPE.train_folds` (train, test) splits of n questions."""
    splitter = KFold(RECIPE.train_folds, shuffle=True, random_state=SEED)
    return list(splitter.split(np.arange(n)))


def cross_validate(retriever: Retriever, examples: list[Example], k: int, settings: dict,
                   identity: dict) -> tuple[EvalResult, tuple[float, float]]:
    """Rank each fold with a model fitted on the other folds, at every pair of `PENALTIES`;
    each fold keeps the pair that served the other folds best (their own out-of-fold
    records). Returns one result for all folds, and the (diversity, coverage) pair that
    served all questions best (for the model fitted on all of them)."""
    splits = folds(len(examples))
    records: dict[tuple, list] = {pair: [None] * len(examples) for pair in PENALTIES}
    for fold, (train, test) in enumerate(splits):
        base = fit_logistic([examples[i] for i in train], identity,
                            evidence_chunks([examples[i] for i in test]))
        for pair in PENALTIES:
            retriever.ranker = replace(base, diversity=pair[0], coverage=pair[1])
            for i, record in zip(test, evaluate(retriever, [examples[i] for i in test], k,
                                                settings).records):
                records[pair][i] = record
        log.info("fold %d of %d ranked at every penalty", fold + 1, len(splits))
    for pair in PENALTIES:
        log.info("diversity %.1f, coverage %.1f, out of fold: %s", *pair, " ".join(
            f"{n} {np.mean([r.scores[n] for r in records[pair] if n in r.scores]):.3f}"
            for n in OBJECTIVE))
    chosen = []
    for fold, (train, test) in enumerate(splits):
        pair = max(PENALTIES, key=lambda p: objective([records[p][i] for i in train]))
        log.info("fold %d keeps diversity %.1f, coverage %.1f", fold + 1, *pair)
        chosen += [records[pair][i] for i in test]
    order = {e.question.id: i for i, e in enumerate(examples)}
    chosen.sort(key=lambda r: order[r.id])
    by_type: dict[str, list] = {}
    for record in chosen:
        by_type.setdefault(record.question_type, []).append(record)
    wall = sum(r.seconds["retrieve"] for r in chosen)
    result = EvalResult(
        settings={**settings, "cross_validated": f"{RECIPE.train_folds} folds by question",
                  "ranker": "learned (cross-validated)"},
        k=k, answered=False, overall=aggregate(chosen, k),
        by_type={name: aggregate(group, k) for name, group in sorted(by_type.items())},
        latency={"retrieve": metrics.latency_summary([r.seconds["retrieve"] for r in chosen])},
        wall_seconds=wall, questions_per_second=len(chosen) / wall if wall else 0.0,
        records=chosen)
    return result, max(PENALTIES, key=lambda p: objective(records[p]))


def train(config: Config, questions_path: str, *, corpus: str | None = None,
          weights: str | Path | None = None, report: str | None = None,
          limit: int | None = None) -> LinearRanker:
    """Fit the ranker on the question set, write it to `weights`, and with `report` write
    the cross-validated evaluation there (see the module docstring)."""
    from newscite import factory

    questions = load_questions(questions_path)[:limit]
    if corpus:
        config = corpus_index(config, corpus)
    identity = factory.read_identity(config)
    with factory.open_store(config) as store:
        retriever = factory.make_retriever(config.with_(ranker="off"), CachedPassages(store))
        retriever.embedder.embed(["warm-up"])
        started = time.perf_counter()
        examples = collect(retriever, questions)
        log.info("candidates gathered in %.0f s", time.perf_counter() - started)
        settings = run_settings(config, store, questions_path, corpus, "retrieval")
        result, (diversity, coverage) = cross_validate(retriever, examples, config.k, settings,
                                                       identity)
        if report:
            paths = write_report(result, report, title="newscite ranker, cross-validated: "
                                                       f"{Path(questions_path).name}")
            log.info("cross-validated report written to %s", paths["report.md"])
        model = replace(fit_logistic(examples, identity), diversity=diversity, coverage=coverage,
                        about={
            "questions": Path(questions_path).name, "n_questions": len(questions),
            "fitted_by": "newscite train-ranker", "cross_validated": {
                name: round(result.overall[name].value, 4) for name in
                ("hits@4", "hits@10", "mrr@10", "evidence_recall@10", "all_evidence@10")}})
        weights = Path(weights or RANKER_PATH)
        weights.write_text(model.to_json() + "\n")
        log.info("weights written to %s (diversity %.1f, coverage %.1f)", weights,
                 model.diversity, model.coverage)
    return model


def main(argv: list[str] | None = None) -> int:
    return training_main(argv, prog="python -m newscite.eval.train_ranker", doc=__doc__,
                         questions_help="question set with evidence facts (JSON/JSONL)",
                         weights_help="where to write weights (default rag/ranker.json)", train=train)


if __name__ == "__main__":
    raise SystemExit(main())

"""Learn the extractive answer's models from a question set with answers, and report their
figures by cross-validation.

    python -m newscite.eval.train_answerer QUESTIONS [--corpus PATH | --index DIR]
        [--weights rag/answer/weights.json] [--report eval-out/cv] [--folds 5]

Every question is retrieved and analysed once, as the chat would (`ExtractiveAnswerer.
analyse`); then three logistic regressions (scikit-learn) are fitted on the features:
- candidate: is this typed candidate (name, number, date, outlet) the gold answer?
  Its threshold is the lowest that keeps out-of-fold lead precision at
  `RECIPE.lead_precision_target`;
- verdict: is a yes/no question's answer "Yes" (a choice question's the agreeing option)?
- abstain: is the question unanswerable? Its threshold maximises out-of-fold F1 of
  abstention with false abstentions at most `RECIPE.false_abstention_target`.
Thresholds come from out-of-fold predictions within the training questions. The weights,
fitted on every question, are written as JSON (`rag.answer.model`).

With `--report`, the figures are cross-validated: the questions are split in `--folds`
folds; each fold is answered by models fitted on the other folds only, through the chat's
own code path, and the folds' records form one report (report.json, report.md), comparable
with `newscite eval compare`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from newscite.config import Config
from newscite.eval.command import Pipeline, corpus_index, run_settings, training_main
from newscite.eval.metrics import normalise_answer
from newscite.eval.questions import Question, load_questions
from newscite.eval.report import write_report
from newscite.eval.runner import EvalResult, aggregate, run_eval
from newscite.eval import metrics
from newscite.rag.answer import Analysis, AnswerModels, ExtractiveAnswerer
from newscite.rag.answer.model import (HAND_ABSTAIN, HAND_CANDIDATE, HAND_VERDICT, WEIGHTS_PATH,
                                       Logistic)
from newscite.rag.answer.questions import OPPOSITES
from newscite.recipe import RECIPE

log = logging.getLogger(__name__)

SEED = 0
"""Folds and models are seeded, so a rerun gives the same weights and figures."""


@dataclass
class Example:
    """One question as the answerer saw it, and whether its hard rules abstain."""

    question: Question
    analysis: Analysis
    guarded: bool  # the hard rules (floors, missing number or date) abstain by themselves


def collect(answerer: ExtractiveAnswerer, pipeline: Pipeline, questions: list[Question],
            k: int) -> list[Example]:
    """Retrieve and analyse every question once."""
    examples = []
    for i, question in enumerate(questions):
        passages = pipeline.retrieve(question, k)
        query = pipeline.query(question)
        analysis = answerer.analyse(query, passages)
        examples.append(Example(question, analysis, answerer.guarded(analysis, passages)))
        if (i + 1) % 200 == 0:
            log.info("analysed %d of %d questions", i + 1, len(questions))
    return examples


def candidate_rows(examples: list[Example]) -> tuple[list[dict], list[int], list[int]]:
    """(features, label, question number) of every candidate of an answerable question."""
    rows, labels, groups = [], [], []
    for number, example in enumerate(examples):
        if example.question.unanswerable:
            continue
        golds = {normalise_answer(g) for g in example.question.answers}
        for candidate, features in example.analysis.candidates:
            # a weekday or "today" is shown as the day it stands for ("Thursday, October
            # 19, 2023"), which is right when its date is
            day = re.sub(r"^\w+day,\s*", "", candidate.day or "")
            shown = {normalise_answer(candidate.text), normalise_answer(day),
                     normalise_answer(f"{candidate.text} {candidate.unit or ''}")}
            rows.append(features)
            labels.append(int(bool(shown & golds)))
            groups.append(number)
    return rows, labels, groups


def verdict_label(example: Example) -> int | None:
    """1 for a "Yes" (or agreeing option) gold answer, 0 for "No" (or the opposing one)."""
    golds = {normalise_answer(g) for g in example.question.answers}
    if not example.analysis.verdict or example.question.unanswerable:
        return None
    if golds & {"yes", "no"}:
        return int("yes" in golds)
    agreeing = set(OPPOSITES) | {"agree", "align", "aligned", "consistently"}
    opposing = set(OPPOSITES.values())
    if golds & agreeing:
        return 1
    return 0 if golds & opposing else None


def fit_logistic(rows: list[dict], labels: list[int], threshold: float = 0.5) -> Logistic:
    """A standardised L2 logistic regression, as a `Logistic` the answerer reads."""
    names = sorted(rows[0])
    x = np.array([[row[n] for n in names] for row in rows], dtype=float)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=RECIPE.train_regularisation, max_iter=2000,
                               random_state=SEED).fit(scaler.transform(x), labels)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return Logistic(coef=dict(zip(names, map(float, model.coef_[0]))),
                    intercept=float(model.intercept_[0]), threshold=threshold,
                    mean=dict(zip(names, map(float, scaler.mean_))),
                    scale=dict(zip(names, map(float, scale))))


def out_of_fold(rows: list[dict], labels: list[int], groups: list[int]) -> np.ndarray:
    """Each row's probability from a model fitted without its question's fold."""
    names = sorted(rows[0])
    x = np.array([[row[n] for n in names] for row in rows], dtype=float)
    folds = _folds(groups)
    probabilities = np.zeros(len(rows))
    for train, test in folds:
        model = fit_logistic([rows[i] for i in train], [labels[i] for i in train])
        probabilities[test] = [model.probability(dict(zip(names, row))) for row in x[test]]
    return probabilities


def fit(examples: list[Example]) -> AnswerModels:
    """The three models fitted on `examples`, thresholds from out-of-fold predictions. A
    model whose labels are all alike (a set without yes/no or unanswerable questions) stays
    hand-set."""
    return AnswerModels(candidate=fit_candidate(examples), verdict=fit_verdict(examples),
                        abstain=fit_abstain(examples), source="trained",
                        trained=trained_kinds(examples))


def fit_verdict(examples: list[Example]) -> Logistic:
    """The verdict model of the yes/no and choice questions, with its confidence threshold."""
    verdicts = [(e.analysis.verdict, verdict_label(e)) for e in examples]
    verdicts = [(row, label) for row, label in verdicts if label is not None]
    rows, labels = [r for r, _ in verdicts], [label for _, label in verdicts]
    if len(set(labels)) < 2:
        return HAND_VERDICT
    verdict = fit_logistic(rows, labels)
    return Logistic(**{**verdict.__dict__, "threshold": _verdict_threshold(
        labels, out_of_fold(rows, labels, list(range(len(rows)))))})


def fit_abstain(examples: list[Example]) -> Logistic:
    """The abstention model, with its threshold (`_abstain_threshold`)."""
    scored = [e for e in examples if e.analysis.abstain]
    rows = [e.analysis.abstain for e in scored]
    labels = [int(e.question.unanswerable) for e in scored]
    if len(set(labels)) < 2:
        return HAND_ABSTAIN
    abstain = fit_logistic(rows, labels)
    threshold = _abstain_threshold(scored, out_of_fold(rows, labels, list(range(len(scored)))))
    return Logistic(**{**abstain.__dict__, "threshold": threshold})


def fit_candidate(examples: list[Example]) -> Logistic:
    """The candidate model, with its lead threshold (`_lead_threshold`)."""
    rows, labels, groups = candidate_rows(examples)
    if len(set(labels)) < 2:
        return HAND_CANDIDATE
    candidate = fit_logistic(rows, labels)
    return Logistic(**{**candidate.__dict__,
                       "threshold": _lead_threshold(rows, labels, groups)})


def trained_kinds(examples: list[Example]) -> tuple[str, ...]:
    """The kinds of question seen at least `RECIPE.train_min_questions` times with labels:
    candidate kinds, and "named"/"single" for yes/no questions (see `AnswerModels`)."""
    counts: dict[str, int] = {}
    for example in examples:
        analysis = example.analysis
        if analysis.candidates and not example.question.unanswerable:
            counts[analysis.asked.kind.value] = counts.get(analysis.asked.kind.value, 0) + 1
        if verdict_label(example) is not None:
            kind = "named" if analysis.query.sources else "single"
            counts[kind] = counts.get(kind, 0) + 1
    log.info("questions per kind: %s", counts)
    return tuple(sorted(k for k, n in counts.items() if n >= RECIPE.train_min_questions))


def _lead_threshold(rows: list[dict], labels: list[int], groups: list[int]) -> float:
    """The lowest threshold at which the best candidate of each question, when shown, is
    right at least `RECIPE.lead_precision_target` of the time (out of fold)."""
    probabilities = out_of_fold(rows, labels, groups)
    best: dict[int, tuple[float, int]] = {}
    for p, label, group in zip(probabilities, labels, groups):
        if p > best.get(group, (-1.0, 0))[0]:
            best[group] = (p, label)
    ranked = sorted(best.values(), key=lambda pl: -pl[0])
    threshold, right = 1.0, 0
    for shown, (p, label) in enumerate(ranked, start=1):
        right += label
        if right / shown >= RECIPE.lead_precision_target:
            threshold = p
    return float(threshold)


def _verdict_threshold(labels: list[int], probabilities: np.ndarray) -> float:
    """The lowest confidence, max(p, 1 - p), from which the out-of-fold verdicts shown are
    right at least `RECIPE.verdict_precision_target` of the time (0.5: always shown)."""
    confidence = np.maximum(probabilities, 1 - probabilities)
    right = (probabilities >= 0.5) == np.asarray(labels, dtype=bool)
    order = np.argsort(-confidence)
    precision = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    reached = np.flatnonzero(precision >= RECIPE.verdict_precision_target)
    return 0.5 if not len(reached) or reached[-1] == len(order) - 1 else \
        float(confidence[order][reached[-1]])


def _abstain_threshold(examples: list[Example], probabilities: np.ndarray) -> float:
    """The threshold whose abstention (hard rules included) has the best worse-of precision
    and recall, with false abstentions at most `RECIPE.false_abstention_target`: both
    figures matter to a reader, and F1 would trade precision away for recall."""
    unanswerable = np.array([e.question.unanswerable for e in examples])
    guarded = np.array([e.guarded for e in examples])
    best, best_worse = 1.0, -1.0
    for threshold in np.unique(np.round(probabilities, 3)):
        abstained = guarded | (probabilities >= threshold)
        false_rate = abstained[~unanswerable].mean()
        true = (abstained & unanswerable).sum()
        worse = min(true / max(abstained.sum(), 1), true / max(unanswerable.sum(), 1))
        if false_rate <= RECIPE.false_abstention_target and worse > best_worse:
            best, best_worse = float(threshold), worse
    return best


def _folds(groups: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row indices of `RECIPE.train_folds` folds that never split a question."""
    questions = np.unique(groups)
    splitter = KFold(RECIPE.train_folds, shuffle=True, random_state=SEED)
    groups_array = np.asarray(groups)
    return [(np.flatnonzero(np.isin(groups_array, questions[train])),
             np.flatnonzero(np.isin(groups_array, questions[test])))
            for train, test in splitter.split(questions)]


def cross_validate(answerer: ExtractiveAnswerer, pipeline: Pipeline, examples: list[Example],
                   k: int, settings: dict) -> EvalResult:
    """Answer each fold with models fitted on the other folds; one result for all folds."""
    records = []
    for fold, (train, test) in enumerate(_folds(list(range(len(examples))))):
        answerer.models = fit([examples[i] for i in train])
        log.info("fold %d: answering %d held-out questions", fold + 1, len(test))
        result = run_eval([examples[i].question for i in test], pipeline.retrieve,
                          pipeline.answer, k=k, settings=settings, progress=False)
        records += result.records
    order = {e.question.id: i for i, e in enumerate(examples)}
    records.sort(key=lambda r: order[r.id])
    by_type: dict[str, list] = {}
    for record in records:
        by_type.setdefault(record.question_type, []).append(record)
    wall = sum(sum(r.seconds.values()) - r.seconds.get("total", 0.0) for r in records)
    return EvalResult(
        settings={**settings, "cross_validated": f"{RECIPE.train_folds} folds by question"},
        k=k, answered=True, overall=aggregate(records, k),
        by_type={name: aggregate(group, k) for name, group in sorted(by_type.items())},
        latency={stage: metrics.latency_summary([r.seconds[stage] for r in records])
                 for stage in ("retrieve", "answer", "total")},
        wall_seconds=wall, questions_per_second=len(records) / wall if wall else 0.0,
        records=records)


def train(config: Config, questions_path: str, *, corpus: str | None = None,
          weights: str | Path = WEIGHTS_PATH, report: str | None = None,
          limit: int | None = None) -> AnswerModels:
    """Fit the models on the question set, write them to `weights`, and with `report`
    write the cross-validated evaluation there (see the module docstring)."""
    from newscite import factory

    questions = load_questions(questions_path)[:limit]
    if corpus:
        config = corpus_index(config, corpus)
    with factory.open_store(config) as store:
        rag = factory.make_chain(config.with_(answer_mode="extractive"), store)
        rag.retriever.embedder.embed(["warm-up"])
        pipeline = Pipeline(rag)
        examples = collect(rag.answerer, pipeline, questions, config.k)
        models = fit(examples)
        Path(weights).write_text(models.to_json(questions=str(questions_path),
                                                n_questions=len(questions)) + "\n")
        log.info("weights written to %s", weights)
        if report:
            settings = run_settings(config, store, questions_path, corpus, "extractive")
            result = cross_validate(rag.answerer, pipeline, examples, config.k, settings)
            paths = write_report(result, report, title="newscite answerer, cross-validated: "
                                                       f"{Path(questions_path).name}")
            log.info("cross-validated report written to %s", paths["report.md"])
        rag.answerer.models = models
    return models


def main(argv: list[str] | None = None) -> int:
    return training_main(argv, prog="python -m newscite.eval.train_answerer", doc=__doc__,
                         questions_help="question set with answers (JSON/JSONL)",
                         weights_help="where to write weights (default rag/answer/weights.json)", train=train)


if __name__ == "__main__":
    raise SystemExit(main())

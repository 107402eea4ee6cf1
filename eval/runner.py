"""Run a retriever, and optionally an answerer, over a question set and aggregate the scores.

The retriever and answerer are the caller's own code path (the chat's), passed in as
callables, so the evaluation measures exactly what users get:

    retrieve(question: Question, k: int) -> list[Passage]          (best first)
    answer(question: Question, passages: list[Passage]) -> Answer   (optional)

Every question gets a `QuestionRecord` with its per-question metric values (see
eval.metrics for the definitions), what was retrieved and how long each stage took. A
metric's figure is the mean of its per-question values over the questions where it is
defined, with a 95% bootstrap interval:

- retrieval metrics (hits@4, hits@k, mrr@k, evidence_recall@c, all_evidence@c for c in 4
  and k): questions with gold facts that are not unanswerable, as in MultiHop-RAG;
- article_recall@k: questions with gold articles that are not unanswerable;
- exact_match (of the answer's lead line, `metrics.lead`: the first line unless it is a
  quote; an answer without a lead scores 0), gold_contained (whole text), lenient_match:
  answerable questions (unanswerable ones are scored by abstention instead);
- lead_precision (answers showing a lead: is it right?) and lead_coverage (answerable
  questions: is a lead shown?): see eval.metrics.lead_indicators;
- abstention_precision / abstention_recall / false_abstention_rate: see
  eval.metrics.abstention_indicators; an answer abstains when `Answer.abstained` is set;
- citation_markers_resolve, cited_sentence_share, citation_support: answers that did not
  abstain, checked against the passages shown (`Answer.passages`, else those retrieved);
- llm_answer_kept: in generate mode, the share of answers in which the LLM's own text
  passed the citation check (the rest fell back to the extractive answer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from newscite.eval import metrics
from newscite.eval.questions import Question
from newscite.types import Answer, Passage

logger = logging.getLogger(__name__)

Retrieve = Callable[[Question, int], Sequence[Passage]]
AnswerFn = Callable[[Question, list[Passage]], Answer]

EXCERPT_CHARS = 200


@dataclass(frozen=True)
class RetrievedPassage:
    """What a failing-question listing shows of one retrieved passage."""

    rank: int
    title: str
    source: str | None
    date: str
    article_id: str
    url: str | None
    excerpt: str  # the first EXCERPT_CHARS characters of the passage text
    relevant: bool  # contains a gold fact (benchmark definition)


@dataclass
class QuestionRecord:
    """Everything measured for one question; `scores` holds only the metrics defined for it."""

    id: str
    question: str
    question_type: str
    unanswerable: bool
    gold_answers: list[str]
    retrieved: list[RetrievedPassage]
    relevant_ranks: list[int]
    facts_found: list[str]
    facts_missed: list[str]
    answer_text: str | None
    abstained: bool | None
    scores: dict[str, float]
    seconds: dict[str, float]  # wall time per stage: "retrieve", and "answer" when answered

    @property
    def failures(self) -> list[str]:
        """Why this question counts as failing; empty when it does not."""
        reasons = []
        retrieval_scored = any(name.startswith("mrr@") for name in self.scores)
        if retrieval_scored and not self.relevant_ranks:
            reasons.append("no relevant chunk retrieved")
        if self.abstained is not None:
            if self.abstained and not self.unanswerable:
                reasons.append("abstained although answerable")
            elif not self.abstained and self.unanswerable:
                reasons.append("answered although unanswerable")
            elif self.scores.get("exact_match") == 0.0:
                reasons.append("answer does not match gold (strict)")
        return reasons


@dataclass(frozen=True)
class MetricSummary:
    """A metric over a set of questions: mean, how many questions, 95% bootstrap interval."""

    value: float
    n: int
    ci_low: float
    ci_high: float


@dataclass
class EvalResult:
    """The outcome of `run_eval`: settings, aggregates, latencies and per-question records."""

    settings: dict[str, Any]
    k: int
    answered: bool  # an answerer was given, so answer metrics exist
    overall: dict[str, MetricSummary]
    by_type: dict[str, dict[str, MetricSummary]]
    latency: dict[str, dict[str, float | int]]  # stage -> eval.metrics.latency_summary
    wall_seconds: float
    questions_per_second: float
    records: list[QuestionRecord]


def cutoffs(k: int) -> list[int]:
    """The ranks at which retrieval is scored: 4 (the benchmark's small cutoff) and k."""
    return sorted({min(4, k), k})


def metric_names(k: int) -> list[str]:
    """Every metric name `run_eval` can produce, in report order."""
    names = [f"hits@{c}" for c in cutoffs(k)] + [f"mrr@{k}"]
    for c in cutoffs(k):
        names += [f"evidence_recall@{c}", f"all_evidence@{c}"]
    return names + [
        f"article_recall@{k}",
        "exact_match",
        "gold_contained",
        "lenient_match",
        "lead_precision",
        "lead_coverage",
        "abstention_precision",
        "abstention_recall",
        "false_abstention_rate",
        "citation_markers_resolve",
        "cited_sentence_share",
        "citation_support",
        "llm_answer_kept",
    ]


def headline_metrics(k: int) -> list[str]:
    """The figures a report leads with and `compare_reports` tests for differences."""
    return [f"hits@{c}" for c in cutoffs(k)] + [
        f"mrr@{k}",
        f"evidence_recall@{k}",
        f"all_evidence@{k}",
        "exact_match",
        "gold_contained",
        "lead_precision",
        "lead_coverage",
        "abstention_precision",
        "abstention_recall",
        "false_abstention_rate",
    ]


def run_eval(
    questions: Sequence[Question],
    retrieve: Retrieve,
    answer: AnswerFn | None = None,
    *,
    k: int = 10,
    settings: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> EvalResult:
    """Retrieve the top k passages for every question (and answer it, if `answer` is given),
    score each question and aggregate overall and per question_type.

    `settings` (chunk size, overlap, index manifest, model names, ...) is stored unchanged
    for the report. An exception from `retrieve` or `answer` stops the run, naming the
    question.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not questions:
        raise ValueError("run_eval needs at least one question")
    records = []
    started = time.perf_counter()
    for question in tqdm(questions, desc="eval", unit="q", disable=not progress):
        records.append(_evaluate(question, retrieve, answer, k))
    wall = time.perf_counter() - started

    by_type: dict[str, list[QuestionRecord]] = {}
    for record in records:
        by_type.setdefault(record.question_type, []).append(record)
    stages = ["retrieve"] + (["answer", "total"] if answer else [])
    for record in records:
        if answer:
            record.seconds["total"] = record.seconds["retrieve"] + record.seconds["answer"]
    result = EvalResult(
        settings=dict(settings or {}),
        k=k,
        answered=answer is not None,
        overall=aggregate(records, k),
        by_type={name: aggregate(group, k) for name, group in sorted(by_type.items())},
        latency={
            stage: metrics.latency_summary([r.seconds[stage] for r in records])
            for stage in stages
        },
        wall_seconds=wall,
        questions_per_second=len(records) / wall if wall > 0 else 0.0,
        records=records,
    )
    logger.info(
        "evaluated %d questions in %.1f s (%.2f questions/s)",
        len(records),
        wall,
        result.questions_per_second,
    )
    return result


def aggregate(records: Sequence[QuestionRecord], k: int) -> dict[str, MetricSummary]:
    """Mean and 95% bootstrap interval of each metric over the records where it is defined."""
    summaries = {}
    for name in metric_names(k):
        values = [r.scores[name] for r in records if name in r.scores]
        if values:
            low, high = metrics.bootstrap_ci(values)
            summaries[name] = MetricSummary(sum(values) / len(values), len(values), low, high)
    return summaries


def _evaluate(
    question: Question, retrieve: Retrieve, answer: AnswerFn | None, k: int
) -> QuestionRecord:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    try:
        passages = list(retrieve(question, k))[:k]
    except Exception as exc:
        raise RuntimeError(f"retrieve failed on question {question.id!r}") from exc
    seconds["retrieve"] = time.perf_counter() - started

    scores = _retrieval_scores(question, passages, k)
    ranks: list[int] = []
    found: list[bool] = []
    if question.evidence_facts:
        ranks = metrics.relevant_ranks(question.evidence_facts, passages, k)
        found = metrics.facts_found(question.evidence_facts, passages, k)

    reply = None
    if answer is not None:
        started = time.perf_counter()
        try:
            reply = answer(question, passages)
        except Exception as exc:
            raise RuntimeError(f"answer failed on question {question.id!r}") from exc
        seconds["answer"] = time.perf_counter() - started
        scores.update(_answer_scores(question, reply, passages))

    return QuestionRecord(
        id=question.id,
        question=question.question,
        question_type=question.question_type,
        unanswerable=question.unanswerable,
        gold_answers=list(question.answers),
        retrieved=[
            RetrievedPassage(
                rank=rank,
                title=p.title,
                source=p.source,
                date=p.date,
                article_id=p.article_id,
                url=p.url,
                excerpt=p.text[:EXCERPT_CHARS],
                relevant=rank in ranks,
            )
            for rank, p in enumerate(passages, start=1)
        ],
        relevant_ranks=ranks,
        facts_found=[f for f, hit in zip(question.evidence_facts, found) if hit],
        facts_missed=[f for f, hit in zip(question.evidence_facts, found) if not hit],
        answer_text=reply.text if reply else None,
        abstained=reply.abstained if reply else None,
        scores=scores,
        seconds=seconds,
    )


def _retrieval_scores(question: Question, passages: list[Passage], k: int) -> dict[str, float]:
    if question.unanswerable:
        return {}
    scores = {}
    facts = question.evidence_facts
    if facts:
        for c in cutoffs(k):
            scores[f"hits@{c}"] = metrics.hits_at_k(facts, passages, c)
        scores[f"mrr@{k}"] = metrics.mrr_at_k(facts, passages, k)
        for c in cutoffs(k):
            scores[f"evidence_recall@{c}"] = metrics.evidence_recall_at_k(facts, passages, c)
            scores[f"all_evidence@{c}"] = metrics.all_evidence_at_k(facts, passages, c)
    if question.evidence_articles:
        scores[f"article_recall@{k}"] = metrics.article_recall_at_k(
            question.evidence_articles, passages, k
        )
    return scores


def _answer_scores(question: Question, reply: Answer, passages: list[Passage]) -> dict[str, float]:
    scores: dict[str, float | None] = dict(
        metrics.abstention_indicators(reply.abstained, question.unanswerable)
    )
    scores.update(metrics.lead_indicators(reply.text, reply.abstained, question.answers,
                                          question.unanswerable))
    if not question.unanswerable:
        first = metrics.lead(reply.text) if not reply.abstained else None
        scores["exact_match"] = metrics.exact_match(first, question.answers) if first else 0.0
        scores["gold_contained"] = metrics.gold_contained(reply.text, question.answers)
        scores["lenient_match"] = metrics.lenient_match(reply.text, question.answers)
    if not reply.abstained:
        shown = reply.passages or passages
        scores["citation_markers_resolve"] = metrics.markers_resolve(reply.text, len(shown))
        scores["cited_sentence_share"] = metrics.cited_sentence_share(reply.text)
        scores["citation_support"] = metrics.citation_support(reply.text, shown)
    if reply.origin != "extractive":
        # generate mode: did the LLM's own answer pass the citation check?
        scores["llm_answer_kept"] = float(reply.origin == "generated")
    return {name: value for name, value in scores.items() if value is not None}

"""Load evaluation questions, with their gold answers and gold evidence, from JSON or JSONL.

Two record layouts are accepted, detected per record:

* This project's layout (one object per line in JSONL, or a JSON list of objects)::

    {"id": "seed-01", "question": "Where did ...?", "answers": ["Brussels"],
     "question_type": "fact", "evidence": [...], "reference_date": "2024-12-03",
     "unanswerable": false}

  `evidence` items may be
    - a verbatim fact string copied from an article body,
    - an article URL (a string starting with http:// or https://),
    - an article id (16 lower-case hex digits, as made by `index.articles.article_id`),
    - an object with `fact` and/or `url` and/or `article_id` (other keys are ignored).
  `reference_date` (ISO 8601, "now" for questions such as "last week") and `unanswerable`
  (default false) are optional; `evidence` may be empty.

* MultiHop-RAG's layout, read as is (e.g. shared/data/multihop-rag/queries-dev.json)::

    {"id": ..., "query": ..., "answer": "Yes", "question_type": "comparison_query",
     "evidence_list": [{"fact": ..., "url": ..., "title": ..., ...}]}

  `question_type == "null_query"` marks a question the corpus cannot answer.

Facts go through the same `clean_text` as article bodies (one MultiHop-RAG fact carries a
byte-order mark that cleaning removes from its article), so they stay substrings of bodies.

Bad input raises `QuestionFormatError` naming the file, the line (JSONL) or record (JSON)
and the field, so a hand-edited question set can be fixed without guessing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from newscite.index.clean import clean_text
from newscite.types import as_utc, normalise_url

NULL_QUERY_TYPE = "null_query"
ARTICLE_ID_PATTERN = re.compile(r"[0-9a-f]{16}")
URL_PATTERN = re.compile(r"https?://\S+")


class QuestionFormatError(ValueError):
    """A question file or record that cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Question:
    """One evaluation question.

    `evidence_facts` are verbatim sentences from article bodies (what retrieval must find);
    `evidence_articles` are normalised article URLs or article ids (the articles they come
    from). `unanswerable` questions have no support in the corpus: the right reply abstains.
    """

    id: str
    question: str
    answers: tuple[str, ...]
    question_type: str
    evidence_facts: tuple[str, ...]
    evidence_articles: tuple[str, ...]
    reference_date: datetime | None
    unanswerable: bool


def load_questions(path: str | Path) -> list[Question]:
    """Read every question in `path` (a JSON list or JSONL), in file order.

    Raises QuestionFormatError for unreadable JSON, a bad field or a repeated id.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    questions: list[Question] = []
    first_seen: dict[str, str] = {}
    for where, record in _records(text, path):
        question = _parse_record(record, f"{path}: {where}")
        if question.id in first_seen:
            earlier = first_seen[question.id]
            raise QuestionFormatError(
                f"{path}: {where}: field 'id': {question.id!r} already used at {earlier}"
            )
        first_seen[question.id] = where
        questions.append(question)
    return questions


def _records(text: str, path: Path) -> list[tuple[str, Any]]:
    """(location, parsed object) pairs: "record N" for a JSON list, "line N" for JSONL."""
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QuestionFormatError(f"{path}: invalid JSON: {exc}") from exc
        return [(f"record {i}", record) for i, record in enumerate(data, start=1)]
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise QuestionFormatError(f"{path}: line {number}: invalid JSON: {exc}") from exc
    return records


def _parse_record(record: Any, where: str) -> Question:
    if not isinstance(record, dict):
        raise QuestionFormatError(f"{where}: expected an object, got {type(record).__name__}")
    if "query" in record and "evidence_list" in record:
        return _parse_multihop(record, where)
    return _parse_native(record, where)


def _parse_native(record: dict, where: str) -> Question:
    question_id = _field(record, "id", (str, int), where)
    unanswerable = record.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise QuestionFormatError(f"{where}: field 'unanswerable': expected true or false")
    facts, articles = _parse_evidence(_field(record, "evidence", list, where), where)
    return Question(
        id=str(question_id),
        question=_text(record, "question", where),
        answers=_answers(_field(record, "answers", list, where), where),
        question_type=_text(record, "question_type", where),
        evidence_facts=facts,
        evidence_articles=articles,
        reference_date=_reference_date(record.get("reference_date"), where),
        unanswerable=unanswerable,
    )


def _parse_multihop(record: dict, where: str) -> Question:
    facts, articles = [], []
    for i, item in enumerate(_field(record, "evidence_list", list, where), start=1):
        item_where = f"{where}: field 'evidence_list' item {i}"
        if not isinstance(item, dict):
            raise QuestionFormatError(f"{item_where}: expected an object")
        facts.append(clean_text(_text(item, "fact", item_where)))
        articles.append(normalise_url(_text(item, "url", item_where)))
    question_type = _text(record, "question_type", where)
    return Question(
        id=str(_field(record, "id", (str, int), where)),
        question=_text(record, "query", where),
        answers=(_text(record, "answer", where),),
        question_type=question_type,
        evidence_facts=_unique(facts),
        evidence_articles=_unique(articles),
        reference_date=None,
        unanswerable=question_type == NULL_QUERY_TYPE,
    )


def _parse_evidence(items: list, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split evidence items into (facts, article keys); see the module docstring."""
    facts: list[str] = []
    articles: list[str] = []
    for i, item in enumerate(items, start=1):
        item_where = f"{where}: field 'evidence' item {i}"
        if isinstance(item, str):
            if not item.strip():
                raise QuestionFormatError(f"{item_where}: empty string")
            _classify(item, facts, articles)
        elif isinstance(item, dict):
            known = [key for key in ("fact", "url", "article_id") if key in item]
            if not known:
                raise QuestionFormatError(f"{item_where}: needs 'fact', 'url' or 'article_id'")
            for key in known:
                value = _text(item, key, item_where)
                if key == "fact":
                    facts.append(clean_text(value))
                else:
                    articles.append(normalise_url(value) if key == "url" else value)
        else:
            raise QuestionFormatError(f"{item_where}: expected a string or an object")
    return _unique(facts), _unique(articles)


def _classify(item: str, facts: list[str], articles: list[str]) -> None:
    """A bare evidence string is an article URL, an article id, or else a fact."""
    if URL_PATTERN.fullmatch(item):
        articles.append(normalise_url(item))
    elif ARTICLE_ID_PATTERN.fullmatch(item):
        articles.append(item)
    else:
        facts.append(clean_text(item))


def _answers(items: list, where: str) -> tuple[str, ...]:
    if not items or not all(isinstance(a, str) and a.strip() for a in items):
        raise QuestionFormatError(f"{where}: field 'answers': expected a non-empty list of strings")
    return tuple(items)


def _reference_date(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except (TypeError, ValueError) as exc:
        raise QuestionFormatError(
            f"{where}: field 'reference_date': expected an ISO 8601 date, got {value!r}"
        ) from exc


def _field(record: dict, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in record:
        raise QuestionFormatError(f"{where}: missing field {name!r}")
    value = record[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise QuestionFormatError(
            f"{where}: field {name!r}: unexpected type {type(value).__name__}"
        )
    return value


def _text(record: dict, name: str, where: str) -> str:
    value = _field(record, name, str, where)
    if not value.strip():
        raise QuestionFormatError(f"{where}: field {name!r}: empty string")
    return value


def _unique(values: list[str]) -> tuple[str, ...]:
    """Values in first-seen order without repeats (several facts often share one article)."""
    return tuple(dict.fromkeys(values))

"""Loading question sets: this project's JSONL and JSON, MultiHop-RAG's JSON, and bad input."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from newscite.eval.questions import QuestionFormatError, load_questions

SEED_QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions" / "seed.jsonl"

NATIVE = [
    {
        "id": "n1",
        "question": "Where did NATO ministers meet?",
        "answers": ["Brussels"],
        "question_type": "fact",
        "evidence": [
            "NATO foreign ministers met in Brussels.",
            "https://Example.com/nato/",
            "0123456789abcdef",
            {"fact": "They met on Tuesday.", "url": "https://example.com/nato"},
            {"article_id": "fedcba9876543210"},
        ],
        "reference_date": "2024-12-03",
    },
    {
        "id": 2,
        "question": "Who is NATO's Secretary General?",
        "answers": ["Insufficient information."],
        "question_type": "null_query",
        "evidence": [],
        "unanswerable": True,
    },
]


def _write_jsonl(path: Path, records: list) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    return path


def test_native_jsonl(tmp_path):
    first, second = load_questions(_write_jsonl(tmp_path / "q.jsonl", NATIVE))
    assert first.id == "n1" and first.answers == ("Brussels",)
    assert first.evidence_facts == (
        "NATO foreign ministers met in Brussels.",
        "They met on Tuesday.",
    )
    assert first.evidence_articles == (
        "https://example.com/nato",  # normalised, and given twice
        "0123456789abcdef",
        "fedcba9876543210",
    )
    assert first.reference_date == datetime(2024, 12, 3, tzinfo=timezone.utc)
    assert first.unanswerable is False
    assert second.id == "2" and second.unanswerable and second.evidence_facts == ()
    assert second.reference_date is None


def test_native_json_list_gives_the_same_questions(tmp_path):
    path = tmp_path / "q.json"
    path.write_text(json.dumps(NATIVE, indent=2), encoding="utf-8")
    assert load_questions(path) == load_questions(_write_jsonl(tmp_path / "q.jsonl", NATIVE))


def test_multihop_format(tmp_path):
    record = {
        "id": "mh-1",
        "query": "Did both outlets report it?",
        "answer": "Yes",
        "question_type": "comparison_query",
        "evidence_list": [
            {"title": "t", "url": "https://a.com/x/", "source": "A", "fact": "Fact one."},
            {"title": "t", "url": "https://a.com/x", "source": "A", "fact": "Fact two."},
        ],
    }
    null = {
        **record,
        "id": "mh-2",
        "answer": "Insufficient information.",
        "question_type": "null_query",
        "evidence_list": [],
    }
    path = tmp_path / "mh.json"
    path.write_text(json.dumps([record, null]), encoding="utf-8")
    question, unanswerable = load_questions(path)
    assert question.question == "Did both outlets report it?" and question.answers == ("Yes",)
    assert question.evidence_facts == ("Fact one.", "Fact two.")
    assert question.evidence_articles == ("https://a.com/x",)
    assert not question.unanswerable
    assert unanswerable.unanswerable and unanswerable.evidence_facts == ()


def test_real_multihop_dev_set(multihop_dev_path):
    questions = load_questions(multihop_dev_path)
    assert len(questions) == 1277
    assert sum(q.unanswerable for q in questions) == 150
    assert all(q.unanswerable == (q.question_type == "null_query") for q in questions)
    assert all(2 <= len(q.evidence_facts) <= 4 for q in questions if not q.unanswerable)
    assert questions[0].id == "mh-0000" and questions[0].answers == ("Sam Bankman-Fried",)


def test_seed_questions(seed_article_path):
    article = seed_article_path.read_text(encoding="utf-8")
    questions = load_questions(SEED_QUESTIONS)
    answerable = [q for q in questions if not q.unanswerable]
    unanswerable = [q for q in questions if q.unanswerable]
    assert len(answerable) >= 10 and len(unanswerable) >= 3
    for q in answerable:
        assert q.evidence_facts, q.id
        for fact in q.evidence_facts:
            assert fact in article, f"{q.id}: fact is not verbatim in the article: {fact}"
        for answer in q.answers:
            if answer not in ("Yes", "No"):
                assert answer.lower() in article.lower(), f"{q.id}: {answer} not in the article"
    for q in unanswerable:
        assert q.answers == ("Insufficient information.",) and not q.evidence_facts


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answers": "Brussels"}, "line 2: field 'answers'"),
        ({"answers": []}, "line 2: field 'answers'"),
        ({"question": ""}, "line 2: field 'question': empty string"),
        ({"unanswerable": "yes"}, "line 2: field 'unanswerable'"),
        ({"reference_date": "3 Dec"}, "line 2: field 'reference_date'"),
        ({"evidence": [42]}, "line 2: field 'evidence' item 1"),
        ({"evidence": [{"title": "x"}]}, "line 2: field 'evidence' item 1"),
        ({"id": "n1"}, "line 2: field 'id': 'n1' already used at line 1"),
    ],
)
def test_bad_fields_are_named(tmp_path, change, message):
    path = _write_jsonl(tmp_path / "bad.jsonl", [NATIVE[0], {**NATIVE[1], **change}])
    with pytest.raises(QuestionFormatError, match=re.escape(f"{path}: {message}")):
        load_questions(path)


def test_missing_field_and_bad_json_are_named(tmp_path):
    record = {k: v for k, v in NATIVE[0].items() if k != "question_type"}
    path = _write_jsonl(tmp_path / "missing.jsonl", [record])
    expected = f"{path}: line 1: missing field 'question_type'"
    with pytest.raises(QuestionFormatError, match=re.escape(expected)):
        load_questions(path)
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(NATIVE[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(QuestionFormatError, match=re.escape(f"{path}: line 2: invalid JSON")):
        load_questions(path)


def test_multihop_errors_name_the_record(tmp_path):
    bad = {
        "id": "mh-1",
        "query": "q?",
        "answer": "Yes",
        "question_type": "comparison_query",
        "evidence_list": [{"url": "https://a.com/x"}],
    }
    path = tmp_path / "mh.json"
    path.write_text(json.dumps([bad]), encoding="utf-8")
    expected = f"{path}: record 1: field 'evidence_list' item 1: missing field 'fact'"
    with pytest.raises(QuestionFormatError, match=re.escape(expected)):
        load_questions(path)

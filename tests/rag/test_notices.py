"""The chain says what it did: a `Notice` before the answer when the question was cut or a
date range holds no articles (over the fixture index: news of 2024-03-04 to 2024-07-19)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from newscite.index.store import Store
from newscite.rag.answer import ExtractiveAnswerer
from newscite.rag.chain import MAX_QUESTION_CHARS, NewsRAG
from newscite.rag.retrieve import Retriever
from newscite.types import Filters, Final, Notice, Text


@pytest.fixture(scope="module")
def rag(news_index, embedder):
    store = Store.open(news_index)
    yield NewsRAG(Retriever(store, embedder), ExtractiveAnswerer(embedder))
    store.close()


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=timezone.utc)


def test_a_cut_question_says_so_before_the_answer(rag):
    question = "How much will the new tram line cost? " + "Please explain in detail. " * 120
    events = list(rag.stream(question))
    assert isinstance(events[0], Notice)
    assert f"{len(question.strip()):,} characters" in events[0].message
    assert f"limit is {MAX_QUESTION_CHARS:,}" in events[0].message
    assert isinstance(events[-1], Final)  # the answer still comes, to the question's start
    assert len(events[-1].answer.question) <= MAX_QUESTION_CHARS


def test_a_question_within_the_limit_has_no_notice(rag):
    events = list(rag.stream("How much will the new tram line cost?"))
    assert not any(isinstance(e, Notice) for e in events)
    assert isinstance(events[-1], Final)


def test_an_empty_date_range_names_the_dates_the_index_covers(rag):
    filters = Filters(since=utc(2030, 1, 1), until=utc(2030, 2, 1))
    events = list(rag.stream("How much will the new tram line cost?", filters=filters))
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert notices == ["No articles between 2030-01-01 and 2030-02-01; the index covers "
                       "2024-03-04 to 2024-07-19."]
    kinds = [type(e) for e in events]
    assert kinds.index(Notice) < kinds.index(Text) and events[-1].answer.abstained


def test_an_open_ended_range_and_outlets_are_named(rag):
    filters = Filters(since=utc(2030, 1, 1), sources=("Harbor Gazette",))
    answer_events = list(rag.stream("What did the council approve?", filters=filters))
    [notice] = [e.message for e in answer_events if isinstance(e, Notice)]
    assert notice.startswith("No articles from Harbor Gazette since 2030-01-01;")


def test_a_range_with_articles_has_no_notice(rag):
    filters = Filters(since=utc(2024, 3, 1), until=utc(2024, 3, 31))
    events = list(rag.stream("How much will the new tram line cost?", filters=filters))
    assert not any(isinstance(e, Notice) for e in events)
    assert "240 million euros" in events[-1].answer.text

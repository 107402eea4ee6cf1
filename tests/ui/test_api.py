"""The chat server's API: /ask's data, its errors, and a real server called with gradio_client.

The pure parts (the answer as data, the filters, the endpoint's errors) run over a fake
backend; the end-to-end tests start `newscite serve` over a copy of the fixture index, once
for the module, and call it as a user's script would.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import gradio as gr
import pytest

from newscite.eval.serving import served
from newscite.types import Answer, Citation, Final, Notice, Passage, Retracted, Text
from newscite.ui.api import FAILED, answer_record, ask_endpoint, final_answer, parse_filters
from newscite.ui.backend import Unavailable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRAM = "How much will the new tram line cost?"
DAY = datetime(2024, 3, 4, 9, tzinfo=timezone.utc)
TEXT = "The council voted on Monday. The line will cost 240 million euros."


def passage(chunk_id=1, source="Harbor Gazette", when=DAY, url="https://h.example/a"):
    return Passage(chunk_id=chunk_id, article_id=f"a{chunk_id}", title="Council approves tram",
                   source=source, published_at=when, url=url, text=TEXT, start=0,
                   end=len(TEXT))


class FakeBackend:
    """Answers every question with `events`, or raises `error`; records what it was asked."""

    def __init__(self, events=(), error: Exception | None = None):
        self.events, self.error, self.asked = list(events), error, []

    def ask(self, question, history=(), filters=None, mode=None, k=None):
        self.asked.append((question, filters, k))
        if self.error:
            raise self.error
        if not question.strip():
            raise ValueError("the question is empty: type a question about the news")
        yield from self.events


def test_an_answer_becomes_data_with_one_verbatim_quote_per_cited_span():
    undated = passage(2, source=None, when=None, url=None)
    answer = Answer(question="How much?", text="It costs 240 million euros [1]. Voted [2].",
                    citations=[Citation(2, undated, None), Citation(1, passage(), (29, 66)),
                               Citation(1, passage(), (0, 28))],
                    passages=[passage(), undated], origin="fallback")
    record = answer_record(answer, ["The LLM could not answer."])
    assert {k: v for k, v in record.items() if k != "citations"} == {
        "question": "How much?", "answer": answer.text, "abstained": False,
        "origin": "fallback", "notices": ["The LLM could not answer."]}
    assert record["citations"] == [
        {"n": 1, "outlet": "Harbor Gazette", "date": "2024-03-04",
         "title": "Council approves tram", "url": "https://h.example/a",
         "quote": "The line will cost 240 million euros."},
        {"n": 1, "outlet": "Harbor Gazette", "date": "2024-03-04",
         "title": "Council approves tram", "url": "https://h.example/a",
         "quote": "The council voted on Monday."},
        {"n": 2, "outlet": None, "date": None, "title": "Council approves tram", "url": None,
         "quote": TEXT}]  # no span: the whole passage
    assert json.loads(json.dumps(record)) == record


def test_the_final_answer_and_every_notice_are_kept_from_the_events():
    answer = Answer(question="q", text="a [1]")
    events = [Notice("The question was cut."), Text("draft"), Retracted(),
              Notice("The LLM could not answer."), Text("a [1]"), Final(answer)]
    assert final_answer(events) == (answer, ["The question was cut.",
                                             "The LLM could not answer."])
    assert final_answer([Final(answer)]) == (answer, [])
    with pytest.raises(RuntimeError, match="without a final answer"):
        final_answer([Text("cut off")])


def test_parse_filters_reads_inclusive_days_and_explains_mistakes():
    filters = parse_filters(" 2024-03-01 ", "2024-03-04", ["Harbor Gazette"])
    assert filters.since == datetime(2024, 3, 1, tzinfo=timezone.utc)
    assert filters.until.date().isoformat() == "2024-03-04" and filters.until.hour == 23
    assert filters.sources == ("Harbor Gazette",)
    assert parse_filters("", None, None).is_empty
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_filters("March 4", "", [])
    with pytest.raises(ValueError, match="after"):
        parse_filters("2024-03-05", "2024-03-04", [])


def test_the_endpoint_passes_filters_and_k_and_defaults_them():
    answer = Answer(question=TRAM, text="240 million euros [1].",
                    citations=[Citation(1, passage(), (29, 66))])
    backend = FakeBackend([Text("240 million euros [1]."), Final(answer)])
    ask = ask_endpoint(backend)
    assert ask(TRAM)["citations"][0]["quote"] == "The line will cost 240 million euros."
    ask(TRAM, since="2024-03-01", outlets=["Harbor Gazette"], k=3)
    (_, plain, default_k), (_, filtered, k) = backend.asked
    assert plain.is_empty and default_k == 10
    assert filtered.sources == ("Harbor Gazette",) and filtered.since.day == 1 and k == 3


@pytest.mark.parametrize("call, message", [
    (lambda ask: ask("   "), "the question is empty"),
    (lambda ask: ask(TRAM, since="March 4"), "YYYY-MM-DD"),
    (lambda ask: ask(TRAM, since="2024-03-05", until="2024-03-04"), "swap them"),
    (lambda ask: ask(TRAM, k=0), "k must be between 1 and 30"),
])
def test_mistakes_come_back_as_gradio_errors_that_say_what_to_fix(call, message):
    with pytest.raises(gr.Error, match=message):
        call(ask_endpoint(FakeBackend([Final(Answer(question=TRAM, text="a"))])))


def test_failures_come_back_as_gradio_errors_without_internals():
    with pytest.raises(gr.Error, match="no newscite index"):
        ask_endpoint(FakeBackend(error=Unavailable("no newscite index at /x")))(TRAM)
    with pytest.raises(gr.Error) as caught:
        ask_endpoint(FakeBackend(error=KeyError("/secret/path")))(TRAM)
    assert caught.value.message == FAILED


@pytest.fixture(scope="module")
def client(news_index, tmp_path_factory):
    """A gradio_client Client of `newscite serve` over a copy of the fixture index."""
    gradio_client = pytest.importorskip("gradio_client")
    folder = tmp_path_factory.mktemp("api")
    with served(shutil.copytree(news_index, folder / "idx"), folder) as url:
        yield gradio_client.Client(url, verbose=False)


def articles() -> dict[str, str]:
    """The fixture articles' bodies by URL."""
    lines = (FIXTURES / "news.jsonl").read_text().splitlines()
    return {record["url"]: record["body"] for record in map(json.loads, lines) if record}


def test_a_question_alone_gets_the_answer_and_its_citations_as_data(client):
    result = client.predict(TRAM, api_name="/ask")
    assert result["question"] == TRAM and not result["abstained"]
    assert "[1]" in result["answer"] and "240 million euros" in result["answer"]
    bodies = articles()
    first = next(c for c in result["citations"] if c["n"] == 1)
    assert first["outlet"] in {"Harbor Gazette", "Metro Daily"} and first["date"] == "2024-03-04"
    assert first["title"] and first["url"] in bodies
    for citation in result["citations"]:
        assert citation["quote"] and citation["quote"] in bodies[citation["url"]]


def test_filters_are_optional_keyword_arguments(client):
    result = client.predict(question="What did officials decide?", outlets=["Valley Herald"],
                            since="2024-07-01", k=5, api_name="/ask")
    assert result["citations"]
    assert {c["outlet"] for c in result["citations"]} == {"Valley Herald"}


def test_mistakes_come_back_as_messages(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="YYYY-MM-DD"):
        client.predict(TRAM, since="yesterday", api_name="/ask")
    with pytest.raises(AppError, match="empty"):
        client.predict("  ", api_name="/ask")


def test_only_ask_is_on_the_api_page_and_the_page_handlers_are_refused(client):
    info = client.view_api(return_format="dict", print_info=False)
    assert list(info["named_endpoints"]) == ["/ask"]
    assert not info["unnamed_endpoints"]
    parameters = {p["parameter_name"]: p for p in info["named_endpoints"]["/ask"]["parameters"]}
    assert list(parameters) == ["question", "since", "until", "outlets", "k"]
    assert not parameters["question"]["parameter_has_default"]
    assert all(p["parameter_has_default"] for name, p in parameters.items() if name != "question")
    with pytest.raises(ValueError):
        client.predict(TRAM, api_name="/respond")

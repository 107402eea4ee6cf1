"""The chat server's programmatic API: one documented endpoint, /ask, for scripts and tools.

The chat page's own handlers stream rendered HTML into components and are kept off the API
page; /ask takes plain arguments (only the question is required) and returns the answer as
data: its text with the [n] markers and, for each quoted span, where it comes from. The
filter parsing the chat and /ask share lives here too.

This module deliberately does not use `from __future__ import annotations`: Gradio reads
the endpoint's return annotation as an object to document its JSON schema.

Example:
    >>> from gradio_client import Client
    >>> Client("http://127.0.0.1:7860/").predict("How much will the new tram line cost?",
    ...                                           api_name="/ask")
    {'question': 'How much will the new tram line cost?', 'answer': '... [1]', ...}
"""

import logging
from datetime import date, datetime, time, timezone
from typing import Callable, Iterable, Sequence, TypedDict

import gradio as gr

from newscite.types import Answer, Citation, Event, Filters, Final, Notice
from newscite.ui.backend import Backend, Unavailable

log = logging.getLogger(__name__)

MAX_PASSAGES = 30
FAILED = "Something went wrong while answering; please try again. (The details are in the " \
         "server log.)"


class CitationRecord(TypedDict):
    """One quoted span behind marker [n]: the article it comes from and the exact quote.

    `quote` is a verbatim substring of the article's text (the whole passage when the
    marker has no narrower span); `outlet`, `date` (YYYY-MM-DD) and `url` are None when
    unknown. A marker that quotes several spans of its passage has one record per span.
    """

    n: int
    outlet: str | None
    date: str | None
    title: str
    url: str | None
    quote: str


class AskResult(TypedDict):
    """What /ask returns: the answer text with [n] markers and its citations as data.

    `origin` is "extractive", "generated" or "fallback" (the LLM failed or cited nothing
    valid, so the extractive answer replaced it); `notices` are what the reader should know
    (the LLM failed, the question was cut, a date range holds no article), in order;
    `abstained` is True when the index holds no answer.
    """

    question: str
    answer: str
    abstained: bool
    origin: str
    notices: list[str]
    citations: list[CitationRecord]


def parse_filters(since: str | None, until: str | None,
                  outlets: Sequence[str] | None) -> Filters:
    """Filters from the form or the API: dates are YYYY-MM-DD (inclusive); raises a friendly
    ValueError that can be shown to the user as it is."""

    def day(text: str | None, label: str, end_of_day: bool) -> datetime | None:
        text = (text or "").strip()
        if not text:
            return None
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"The {label} date {text!r} is not a date: use YYYY-MM-DD, for "
                             f"example 2024-03-04.") from None
        return datetime.combine(parsed, time.max if end_of_day else time.min, timezone.utc)

    first, last = day(since, "'From'", False), day(until, "'To'", True)
    if first and last and first > last:
        raise ValueError("The 'From' date is after the 'To' date: swap them.")
    return Filters(since=first, until=last, sources=tuple(outlets or ()))


def citation_record(citation: Citation) -> CitationRecord:
    """`citation` as JSON-able data, its span cut out of the passage as the quote."""
    p = citation.passage
    quote = p.text[citation.span[0]:citation.span[1]] if citation.span else p.text
    return {"n": citation.n, "outlet": p.source,
            "date": p.published_at.date().isoformat() if p.published_at else None,
            "title": p.title, "url": p.url, "quote": quote}


def answer_record(answer: Answer, notices: Sequence[str] = ()) -> AskResult:
    """`answer` as JSON-able data for API clients, citations in marker order."""
    return {"question": answer.question, "answer": answer.text, "abstained": answer.abstained,
            "origin": answer.origin, "notices": list(notices),
            "citations": [citation_record(c) for c in
                          sorted(answer.citations, key=lambda c: c.n)]}


def final_answer(events: Iterable[Event]) -> tuple[Answer, list[str]]:
    """The `Final` answer of a streamed answer's events and its `Notice` messages, in order;
    `Text` and `Retracted` only matter to a reader watching the stream."""
    notices = []
    for event in events:
        if isinstance(event, Notice):
            notices.append(event.message)
        elif isinstance(event, Final):
            return event.answer, notices
    raise RuntimeError("the answer stream ended without a final answer")


def ask_endpoint(backend: Backend) -> Callable[..., AskResult]:
    """The /ask function over `backend`, typed so that Gradio documents its parameters."""

    def ask(question: str, since: str = "", until: str = "", outlets: list[str] | None = None,
            k: int = 10) -> AskResult:
        """Answer `question` from the news index, citing its sources.

        Args:
            question: the question about the news.
            since: only articles published on or after this day (YYYY-MM-DD); "" for any.
            until: only articles published on or before this day (YYYY-MM-DD); "" for any.
            outlets: only articles from these outlets; empty or null for all.
            k: how many passages to retrieve (1 to 30).
        Returns:
            the answer text with [n] markers and, for each quoted span, its outlet, date,
            title, URL and the verbatim quote.
        """
        try:
            if not 1 <= int(k) <= MAX_PASSAGES:
                raise ValueError(f"k must be between 1 and {MAX_PASSAGES}, not {k}.")
            filters = parse_filters(since, until, outlets)
            answer, notices = final_answer(backend.ask(question or "", (), filters, None,
                                                      int(k)))
        except (Unavailable, ValueError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception:  # noqa: BLE001 - the client gets a message, the log the details
            log.exception("answering %r over the API failed", question)
            raise gr.Error(FAILED, print_exception=False) from None
        return answer_record(answer, notices)

    return ask

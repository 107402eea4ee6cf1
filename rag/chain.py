"""The answer chain: question (+ history) -> standalone question -> passages -> cited answer.

`NewsRAG` is what the chat, `newscite ask` and `newscite eval` share:
1. greetings and thanks get a short reply, with no retrieval;
2. a follow-up (a question that cannot stand alone: "and what did Germany say?", "who did
   they beat?"; see rag.followup) is made standalone: by the LLM in generate mode, else by
   carrying over the outlets, days and names it refers to; any other question, however
   short, is answered as it is;
3. the news-aware retriever finds passages (outlets, dates, filters; see rag.retrieve);
4. `extractive` mode quotes the sentences that answer (rag.answer); `generate` mode asks
   the chat model with numbered passages (rag.prompt), streaming its tokens;
5. citations are checked in code (rag.citations): markers that point nowhere are removed;
   an answer with an unsupported or no valid citation falls back to the extractive answer;
6. weak evidence (below the calibrated threshold) gives "not found" without calling the LLM.

`stream` yields typed events (`newscite.types.Event`): a `Notice` first when the question
was cut to `MAX_QUESTION_CHARS` or a date range holds no articles, `Text` pieces as they
are written, `Retracted` and a `Notice` when the streamed text is withdrawn (the LLM failed,
or cited nothing it was shown: the extractive answer follows), then one `Final` answer.
LLM failures are handled here, and only here. LangChain users find a retriever and a runnable in
`newscite.integrations.langchain`.

Example:
    >>> rag = factory.make_chain(Config.load())
    >>> answer = rag.answer("Why is NATO delaying Ukraine's membership?")
    >>> answer.text, [c.passage.title for c in answer.citations]
"""

from __future__ import annotations

import enum
import logging
import re
import time
from dataclasses import replace
from datetime import datetime
from typing import Iterator, Sequence

from langchain_core.language_models import BaseChatModel

from newscite.rag import citations
from newscite.rag.answer import NOT_FOUND, ExtractiveAnswerer
from newscite.rag.followup import FollowUps
from newscite.rag.prompt import answer_messages, condense_messages
from newscite.rag.query import Query
from newscite.rag.retrieve import Retriever
from newscite.recipe import RECIPE
from newscite.types import (
    Answer,
    Event,
    Filters,
    Final,
    LLMUnavailable,
    Notice,
    Passage,
    Retracted,
    Text,
)

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
"""Longer questions are cut to this many characters (at a word boundary), and the reader is
told so: retrieval embeds at most a few hundred word pieces anyway, and a pasted-in page
should get an answer about its start rather than an error."""

GREETING_REPLY = ("Hello! Ask me about the news in the corpus, for example who reported "
                  "what and when. Every answer cites its sources.")
_GREETING = re.compile(r"\s*(hi|hello|hey|good (morning|afternoon|evening)|thanks|thank you|"
                       r"thx|cheers|bye)( there)?[\s!.,]*", re.I)


class AnswerMode(str, enum.Enum):
    EXTRACTIVE = "extractive"
    GENERATE = "generate"


def _bounded(question: str) -> tuple[str, str]:
    """The question stripped and cut to `MAX_QUESTION_CHARS`, and what to tell the reader
    about the cut ('' when there was none); ValueError when it is blank."""
    question = question.strip()
    if not question:
        raise ValueError("the question is empty: type a question about the news")
    if len(question) <= MAX_QUESTION_CHARS:
        return question, ""
    log.warning("the question has %d characters; answering its first %d",
                len(question), MAX_QUESTION_CHARS)
    cut = question[:MAX_QUESTION_CHARS + 1]
    bounded = (cut[:cut.rfind(" ")] if " " in cut else cut[:MAX_QUESTION_CHARS]).rstrip()
    return bounded, (f"The question has {len(question):,} characters; only its first "
                     f"{len(bounded):,} were read (the limit is {MAX_QUESTION_CHARS:,}).")


def _day(value: datetime) -> str:
    """A date as the reader types it in the filters: YYYY-MM-DD."""
    return value.date().isoformat()


class NewsRAG:
    """Answers news questions with checked citations (see the module docstring)."""

    def __init__(self, retriever: Retriever, answerer: ExtractiveAnswerer,
                 chat_model: BaseChatModel | None = None, *,
                 mode: AnswerMode | str = AnswerMode.EXTRACTIVE, k: int = RECIPE.k,
                 llm_passages: int = RECIPE.llm_passages,
                 history_turns: int = RECIPE.history_turns):
        self.retriever = retriever
        self.answerer = answerer
        self.chat_model = chat_model
        self.mode = AnswerMode(mode)
        if self.mode is AnswerMode.GENERATE and chat_model is None:
            raise ValueError("answer mode 'generate' needs an LLM: set llm_base_url (an "
                             "OpenAI-compatible server) or llm_gguf (a local GGUF file)")
        self.k = k
        self.llm_passages = llm_passages
        self.history_turns = history_turns
        self.followups = FollowUps(lambda text: self.retriever.understand(text).sources)

    def answer(self, question: str, history: Sequence[tuple[str, str]] = (),
               filters: Filters | None = None, mode: AnswerMode | str | None = None,
               k: int | None = None) -> Answer:
        """The whole answer at once (the `Final` event of `stream`)."""
        *_, final = self.stream(question, history, filters, mode, k)
        return final.answer

    def stream(self, question: str, history: Sequence[tuple[str, str]] = (),
               filters: Filters | None = None, mode: AnswerMode | str | None = None,
               k: int | None = None) -> Iterator[Event]:
        """`Text` pieces as they are produced, then the `Final` checked answer (see the
        module docstring for `Retracted` and `Notice`).

        The final answer's text may differ from the streamed pieces: markers that point
        nowhere are removed, and an answer without valid citations is replaced by the
        extractive one.
        """
        question, cut = _bounded(question)
        if cut:
            yield Notice(cut)
        if _GREETING.fullmatch(question):
            yield Text(GREETING_REPLY)
            yield Final(Answer(question=question, text=GREETING_REPLY))
            return
        mode = AnswerMode(mode or self.mode)
        history = list(history)[-self.history_turns:]
        started = time.perf_counter()
        standalone = self.standalone(question, history, mode)
        condensed = time.perf_counter()
        query = self.retriever.understand(standalone, embed=True)
        passages = self.retriever.run(query, k or self.k, filters)
        retrieved = time.perf_counter()
        if not passages and (empty := self._empty_range(query, filters or Filters())):
            yield Notice(empty)
        for event in self.respond(query, passages, mode):
            if isinstance(event, Final):
                event.answer.question = question
                event.answer.timings = {
                    "condense": condensed - started, "retrieve": retrieved - condensed,
                    "answer": time.perf_counter() - retrieved,
                    "total": time.perf_counter() - started}
            yield event

    def respond(self, query: Query, passages: list[Passage],
                mode: AnswerMode | str | None = None) -> Iterator[Event]:
        """Answer from already retrieved passages: `Text` pieces, then the `Final` answer."""
        mode = AnswerMode(mode or self.mode)
        extractive = self.answerer.run(query, passages)
        if mode is AnswerMode.EXTRACTIVE or extractive.abstained:
            yield Text(extractive.text)
            yield Final(extractive)
            return
        try:
            yield from self._generate(query, passages, extractive)
        except LLMUnavailable as exc:
            log.warning("the LLM could not answer, falling back to extractive: %s", exc)
            yield from _fall_back(extractive, f"The LLM could not answer ({exc}). This is the "
                                              f"extractive answer.")

    def _generate(self, query: Query, passages: list[Passage],
                  extractive: Answer) -> Iterator[Event]:
        shown = passages[: self.llm_passages]
        messages = answer_messages(query.text, shown, self.retriever.reference_date)
        pieces = []
        for chunk in self.chat_model.stream(messages):
            piece = chunk.content if isinstance(chunk.content, str) else ""
            pieces.append(piece)
            yield Text(piece)
        text = "".join(pieces).strip()
        if text.startswith(NOT_FOUND):
            yield Final(replace(self.answerer.abstain(query, passages), origin="generated"))
            return
        report = citations.check(text, shown)
        if not report.valid:
            log.info("generated answer fell back to extractive: %d bad markers, %d unsupported "
                     "sentences, %d valid citations", report.removed, len(report.unsupported),
                     len(report.citations))
            yield from _fall_back(extractive, "The LLM's answer did not cite the passages it "
                                              "was shown. This is the extractive answer.")
            return
        yield Final(Answer(question=query.text, text=report.text, citations=report.citations,
                           passages=shown, origin="generated"))

    def standalone(self, question: str, history: Sequence[tuple[str, str]],
                   mode: AnswerMode) -> str:
        """The question made understandable without the conversation: unchanged unless it
        cannot stand alone (rag.followup: an unresolved reference or an ellipsis, never its
        length); a follow-up is rewritten by the LLM in generate mode, else it carries the
        outlets, days and names of the turns it continues."""
        route = self.followups.route(question) if history else None
        if route is None or not route.follow_up:
            return question
        log.debug("follow-up (%s): %r", route.why, question)
        if mode is AnswerMode.GENERATE and self.chat_model is not None:
            try:
                rewritten = self.chat_model.invoke(condense_messages(question, history)).content
            except LLMUnavailable as exc:  # the answer step will say so; rewrite without it
                log.warning("the LLM could not rewrite the follow-up: %s", exc)
                rewritten = ""
            if isinstance(rewritten, str) and rewritten.strip():
                return rewritten.strip()
        return self.followups.complete(question, history)

    def _empty_range(self, query: Query, filters: Filters) -> str:
        """Why nothing was found when a date range was asked for ('' without one): the range
        and the dates the index covers, so the reader knows which dates to ask about."""
        since, until = filters.since or query.since, filters.until or query.until
        if since is None and until is None:
            return ""
        outlets = f" from {', '.join(filters.sources)}" if filters.sources else ""
        if since is not None and until is not None:
            asked = f"between {_day(since)} and {_day(until)}"
        else:
            asked = f"since {_day(since)}" if since is not None else f"up to {_day(until)}"
        first, last = self.retriever.store.date_span()
        covers = (f"the index covers {_day(first)} to {_day(last)}" if first and last
                  else "the index holds no dated articles")
        return f"No articles{outlets} {asked}; {covers}."


def _fall_back(extractive: Answer, why: str) -> Iterator[Event]:
    """Withdraw the streamed text and give the extractive answer instead, saying why."""
    yield Retracted()
    yield Notice(why)
    yield Text(extractive.text)
    yield Final(replace(extractive, origin="fallback"))

"""newscite inside a LangChain program: a retriever and the answer chain as a runnable.

`NewsRetriever` is a LangChain `BaseRetriever` over a newscite index: news-aware hybrid
search (outlets, dates, clauses) returning `Document`s whose metadata carry the outlet,
date, title and link. `as_runnable` wraps the whole cited-answer chain.

Example:
    >>> from newscite import factory
    >>> from newscite.config import Config
    >>> config = Config.load({"index": ".newscite/index"})
    >>> retriever = NewsRetriever(retriever=factory.make_retriever(config,
    ...                           factory.open_store(config)), k=5)
    >>> docs = retriever.invoke("Why is NATO delaying Ukraine's membership?")
    >>> docs[0].metadata["source"], docs[0].metadata["url"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda

from newscite.rag.chain import NewsRAG
from newscite.types import Filters, Passage


def passage_document(passage: Passage) -> Document:
    """A passage as a LangChain Document (text plus outlet, date, title, url, offsets)."""
    return Document(page_content=passage.text, metadata={
        "chunk_id": passage.chunk_id, "article_id": passage.article_id, "title": passage.title,
        "source": passage.source, "published_at": passage.published_at.isoformat()
        if passage.published_at else None, "url": passage.url, "start": passage.start,
        "end": passage.end, "score": passage.score})


class NewsRetriever(BaseRetriever):
    """LangChain retriever over a newscite index (a `newscite.rag.retrieve.Retriever`)."""

    retriever: Any
    k: int = 10
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [passage_document(p) for p in self.retriever.run(query, self.k, self.filters)]


def as_runnable(chain: NewsRAG) -> Runnable:
    """The answer chain as a runnable: {"question", "history"?, "filters"?} -> `Answer`."""
    return RunnableLambda(lambda inputs: chain.answer(
        inputs["question"], inputs.get("history", ()), inputs.get("filters")))

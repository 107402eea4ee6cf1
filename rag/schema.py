"""The typed objects of the read path: `Filters`, `Passage`, `Citation` and `Answer`.

Example:
    >>> f = Filters(sources=("The Verge",))
    >>> f.is_empty
    False
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from index.articles import Coverage


@dataclass(frozen=True)
class Filters:
    """Restrictions on what may be retrieved: a date range (inclusive, UTC) and outlets."""

    since: datetime | None = None
    until: datetime | None = None
    sources: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.since is None and self.until is None and not self.sources


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article's fields and a score per retriever.

    `text == article.body[start:end]`; `score` is the final ranking score and `scores`
    holds each retriever's own score (e.g. {"dense": 0.61, "bm25": 12.3, "fused": 0.03}).
    """

    chunk_id: int
    article_id: str
    title: str
    source: str | None
    published_at: datetime | None
    url: str | None
    text: str
    start: int
    end: int
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    also_reported_by: tuple[Coverage, ...] = ()

    @property
    def date(self) -> str:
        return self.published_at.date().isoformat() if self.published_at else "date unknown"

    def to_dict(self) -> dict:
        return {"chunk_id": self.chunk_id, "article_id": self.article_id, "title": self.title,
                "source": self.source, "published_at": self.published_at.isoformat()
                if self.published_at else None, "url": self.url, "text": self.text,
                "start": self.start, "end": self.end, "score": self.score, "scores": self.scores,
                "also_reported_by": [{"source": c.source, "url": c.url} for c in
                                     self.also_reported_by]}


@dataclass(frozen=True)
class Citation:
    """Marker [n] in an answer, pointing to `passage`; `span` are offsets into passage.text."""

    n: int
    passage: Passage
    span: tuple[int, int] | None = None
    supported: bool = True


@dataclass
class Answer:
    """The reply to a question: text with [n] markers, its citations and the passages shown.

    `origin` says who wrote the text: "extractive" (quoted sentences), "generated" (the LLM,
    its citations checked) or "fallback" (the LLM's reply had no valid citation, so the
    extractive answer replaced it).
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    abstained: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    origin: str = "extractive"

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.text, "abstained": self.abstained,
                "origin": self.origin,
                "citations": [{"n": c.n, "chunk_id": c.passage.chunk_id, "span": c.span,
                               "supported": c.supported} for c in self.citations],
                "passages": [p.to_dict() for p in self.passages], "timings": self.timings}

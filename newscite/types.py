"""The typed objects every part of newscite shares; this module imports nothing of newscite.

Write path: `Article`, `Coverage`, `Chunk`, `Rejection`, `IngestSummary` (only loaders create
articles and only the store persists them). Read path: `Filters`, `Passage`, `Citation`,
`Answer`, and the events a streamed answer yields (`Text`, `Retracted`, `Notice`, `Final`).

Example:
    >>> a = Article.create(title="NATO delays bid", body="NATO foreign ministers ...",
    ...                    source="Reuters", url="https://example.com/nato")
    >>> a.id == article_id("https://example.com/nato", "NATO foreign ministers ...")
    True
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment and a trailing slash: one URL, one key."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def body_fingerprint(body: str) -> str:
    """Hash of the body after case folding and removing all whitespace and punctuation.

    Two bodies with the same fingerprint are exact duplicates for dedup purposes.
    """
    folded = unicodedata.normalize("NFKC", body).casefold()
    return hashlib.sha1(re.sub(r"[\W_]+", "", folded).encode("utf-8")).hexdigest()


def article_id(url: str | None, body: str) -> str:
    """Stable id: from the normalised URL when there is one, else from the body's content."""
    key = normalise_url(url) if url else "body:" + body_fingerprint(body)
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def as_utc(value: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime; naive datetimes are taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Coverage:
    """Another outlet's copy of the same story, kept when near-duplicates are merged."""

    source: str | None
    url: str | None
    published_at: datetime | None = None


@dataclass(frozen=True)
class Article:
    """One news article. `body` is the cleaned text that chunks and citations point into.

    `published_at` is UTC or None (unknown stays unknown); `source` is the outlet; `url`
    the canonical URL.
    """

    id: str
    title: str
    body: str
    source: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    authors: tuple[str, ...] = ()
    category: str | None = None
    also_reported_by: tuple[Coverage, ...] = ()
    origin: str = ""  # file (and record) the article was loaded from, for messages
    feed: str | None = None  # the RSS/Atom feed URL it was found through, for web articles

    @classmethod
    def create(cls, *, title: str, body: str, source: str | None = None,
               published_at: datetime | None = None, url: str | None = None,
               authors: tuple[str, ...] | list[str] = (), category: str | None = None,
               origin: str = "") -> Article:
        """Build an article with its stable id and UTC date."""
        return cls(id=article_id(url, body), title=title, body=body, source=source,
                   published_at=as_utc(published_at), url=url, authors=tuple(authors),
                   category=category, origin=origin)

    @property
    def fingerprint(self) -> str:
        return body_fingerprint(self.body)

    def with_coverage(self, others: tuple[Coverage, ...]) -> Article:
        return replace(self, also_reported_by=self.also_reported_by + others)


@dataclass(frozen=True)
class Chunk:
    """A span of an article body: `article.body[start:end] == text`.

    `header` (title | outlet | date) is embedded and keyword-indexed with the text but is
    never part of the quoted passage.
    """

    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    header: str = ""
    n_tokens: int = 0

    @property
    def key(self) -> str:
        return f"{self.article_id}:{self.ordinal}"

    @property
    def indexed_text(self) -> str:
        return f"{self.header}\n{self.text}" if self.header else self.text


@dataclass(frozen=True)
class Rejection:
    """A record that could not be ingested, with what to do about it."""

    origin: str
    reason: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}" + (f" ({self.hint})" if self.hint else "")


@dataclass
class IngestSummary:
    """Counts that close an ingest run."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    merged: int = 0
    rejected: int = 0
    chunks_embedded: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                f"duplicates {self.duplicates} (merged near-duplicates {self.merged}), "
                f"rejected {self.rejected}; chunks embedded {self.chunks_embedded}")

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


class LLMUnavailable(RuntimeError):
    """The configured LLM cannot answer; the message names the URL or file and the setting."""


# The events of a streamed answer (`NewsRAG.stream`), in order: `Text` pieces as they are
# written; `Retracted` when the text streamed so far is withdrawn (the LLM failed, or its
# answer cited nothing it was shown), with a `Notice` saying why; then one `Final`.

@dataclass(frozen=True)
class Text:
    """A piece of the answer's text, to append to what was shown."""

    text: str


@dataclass(frozen=True)
class Retracted:
    """Discard the text streamed so far: the final answer replaces it."""


@dataclass(frozen=True)
class Notice:
    """Something the reader should know about this answer (e.g. the LLM failed)."""

    message: str


@dataclass(frozen=True)
class Final:
    """The checked answer; its text may differ from the streamed pieces."""

    answer: Answer


Event = Text | Retracted | Notice | Final

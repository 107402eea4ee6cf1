"""The typed objects of the write path: `Article`, `Coverage`, `Chunk` and `Rejection`.

Every stage of ingestion takes and returns these; only loaders create articles and only
the store persists them.

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

"""Load an RSS or Atom feed file (.rss, .atom, .xml): each entry is one article.

The body is the entry's full content when the feed carries it, else its summary, turned
from HTML into plain text with one blank line between paragraphs. The outlet is the feed's
title, the date the entry's published (else updated) date, the URL its link. Origins read
`news.rss#entry 2` (1-based).

Documents that declare XML entities are refused before parsing: entity declarations have
no place in a news feed and are the means of "billion laughs" expansion attacks.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html

from newscite.index.loaders.decode import read_bytes
from newscite.index.loaders.records import from_record
from newscite.types import Article, Rejection

logger = logging.getLogger(__name__)

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_BLOCKS = ("p", "div", "li", "blockquote", "pre", "tr", "table", "ul", "ol", "section",
           "article", "figure", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "hr")
_SPACES = re.compile(r"\s+")


def load(path: Path, field_map: Mapping[str, str] | None = None) -> Iterator[Article | Rejection]:
    """Yield one Article or Rejection per feed entry, or one Rejection for the whole file.

    `field_map` is accepted like every loader's but unused: feed elements have fixed names.
    """
    data = read_bytes(path)
    feed = data if isinstance(data, Rejection) else parse(data, str(path))
    if isinstance(feed, Rejection):
        yield feed
        return
    source = feed.feed.get("title")
    for number, entry in enumerate(feed.entries, start=1):
        yield _entry_article(entry, source, f"{path}#entry {number}")


def parse(data: bytes, origin: str) -> feedparser.FeedParserDict | Rejection:
    """The parsed feed with at least one entry, or a Rejection saying why not."""
    if _DOCTYPE.search(data) and _ENTITY.search(data):
        return Rejection(origin, "XML entity declarations are not allowed",
                         hint="remove the <!DOCTYPE ...> block with its <!ENTITY> lines; "
                              "news feeds do not need them")
    # A stream, not bytes: feedparser would try bytes as a file name or URL first.
    feed = feedparser.parse(io.BytesIO(data))
    if not feed.entries:
        reason = (f"not a readable RSS or Atom feed: {feed.get('bozo_exception')}" if feed.bozo
                  else "no entries in the feed")
        return Rejection(origin, reason,
                         hint="expected an RSS <item> or Atom <entry> list; check the file is "
                              "complete and well-formed")
    if feed.bozo:
        logger.warning("%s: feed is malformed (%s); loading the %d entries found",
                       origin, feed.get("bozo_exception"), len(feed.entries))
    return feed


def entry_fields(entry: feedparser.FeedParserDict, source: str | None) -> dict[str, object]:
    """What a feed entry says about its article, under our field names, except the body."""
    return {
        "title": entry.get("title"),
        "source": source,
        "published_at": entry.get("published") or entry.get("updated"),
        "url": entry.get("link"),
        "authors": [author.get("name") for author in entry.get("authors", [])],
        "category": entry.tags[0].get("term") if entry.get("tags") else None,
    }


def _entry_article(entry: feedparser.FeedParserDict, source: str | None,
                   origin: str) -> Article | Rejection:
    """One entry as an article; an entry without content or summary is rejected."""
    detail = max(entry.get("content", []), key=lambda part: len(part.get("value", "")),
                 default=None) or entry.get("summary_detail")
    if not detail or not detail.get("value", "").strip():
        return Rejection(origin, "feed entry has no text",
                         hint="this feed gives only headlines; load the article pages instead")
    body = detail["value"]
    if "html" in detail.get("type", ""):
        try:
            body = html_to_text(body)
        except (lxml.etree.ParserError, ValueError) as error:
            return Rejection(origin, f"feed entry's HTML cannot be read: {error}",
                             hint="check the entry's content in the feed")
    return from_record({**entry_fields(entry, source), "body": body}, origin)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: whitespace collapsed as a browser would, a blank
    line between blocks, a line break for <br>, character references decoded."""
    root = lxml.html.fragment_fromstring(markup, create_parent="div")
    for node in root.iter():
        node.text = node.text and _SPACES.sub(" ", node.text)
        node.tail = node.tail and _SPACES.sub(" ", node.tail)
    for node in root.iter(*_BLOCKS):
        node.text = "\n\n" + (node.text or "")
        node.tail = "\n\n" + (node.tail or "")
    for node in root.iter("br"):
        node.tail = "\n" + (node.tail or "")
    return "\n".join(line.strip() for line in root.text_content().split("\n"))

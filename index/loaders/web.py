"""Load news from the web: RSS/Atom feed URLs and article page URLs, through a `Fetcher`.

A feed's entries are fetched as article pages. Every page goes through the code that reads
a saved .html file (`html.from_html`: trafilatura's main text and metadata, canonical URL
included), and what the feed says about the entry (title, date, authors, the feed's title
as the outlet) fills whatever the page lacks. Feeds are parsed by `feeds.parse`, under the
same rules as feed files. Articles keep the feed they were found through (`Article.feed`).

One bad URL never stops the others: it becomes a Rejection naming the URL and the reason.
Pages are fetched on WORKERS threads; the Fetcher paces each host.

Example:
    >>> with Fetcher(Path("idx/fetch-cache.sqlite")) as fetcher:
    ...     for item in WebLoader(fetcher).load(["https://example.com/feed.xml"]):
    ...         print(item if isinstance(item, Rejection) else item.title)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import feedparser

from newscite.index.fetch import Fetcher, FetchError, Page
from newscite.index.loaders import feeds, html
from newscite.index.loaders.decode import decode_text
from newscite.types import Article, Rejection

log = logging.getLogger(__name__)

WORKERS = 8
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml",
                        "application/xml", "text/xml"})
_FEED_START = re.compile(rb"<(?:rss|feed|rdf:RDF)[\s>]")
_HTML_START = re.compile(rb"<html[\s>]", re.IGNORECASE)

Item = TypeVar("Item")
Result = TypeVar("Result")


def is_url(text: str) -> bool:
    """True for anything with a scheme (`https://...`, also `file://...`, which the
    fetcher refuses with a message), False for file paths."""
    return "://" in text


@dataclass(frozen=True)
class Entry:
    """One feed entry: the page to fetch and what the feed says about it.

    `version` changes whenever the feed edits the entry (title, dates, summary).
    """

    feed: str
    link: str
    version: str
    fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Feed:
    """A fetched feed: its entries, and a Rejection for each entry without a link.

    `from_cache` is True when the server said the feed has not changed (the cached copy
    was parsed).
    """

    url: str
    title: str | None
    entries: list[Entry]
    rejections: list[Rejection]
    from_cache: bool


class WebLoader:
    """Articles from feed and page URLs (see the module docstring)."""

    def __init__(self, fetcher: Fetcher, workers: int = WORKERS):
        self.fetcher = fetcher
        self.workers = workers

    def load(self, urls: Iterable[str]) -> Iterator[Article | Rejection]:
        """Every article behind `urls`: all entries' pages for a feed, else the page itself."""
        for url in urls:
            page = self._fetch(url)
            if isinstance(page, Rejection):
                yield page
            elif not is_feed(page):
                yield _guarded(url, self._page_article, page, None)
            else:
                feed = _guarded(url, self._parse_feed, page)
                if isinstance(feed, Rejection):
                    yield feed
                else:
                    yield from feed.rejections
                    yield from self.articles(feed.entries)

    def feeds(self, urls: Sequence[str]) -> list[Feed | Rejection]:
        """Each feed fetched and parsed, in the order given."""
        return self._map(self.feed, urls, lambda url: url)

    def feed(self, url: str) -> Feed | Rejection:
        page = self._fetch(url)
        if isinstance(page, Rejection):
            return page
        if not is_feed(page):
            return Rejection(url, f"not an RSS or Atom feed ({page.media_type or 'no type'})",
                             hint="give the feed's own URL, often linked as RSS on the site")
        return self._parse_feed(page)

    def articles(self, entries: Sequence[Entry]) -> list[Article | Rejection]:
        """The article on each entry's page, in the order given.

        The pages are fetched taking the hosts in turn, so that while the workers wait for
        one host's next turn (its rate limit) they fetch from the others.
        """
        order = _hosts_in_turn([entry.link for entry in entries])
        results = dict(zip(order, self._map(self.entry_article, [entries[i] for i in order],
                                            lambda entry: entry.link)))
        return [results[index] for index in range(len(entries))]

    def entry_article(self, entry: Entry) -> Article | Rejection:
        page = self._fetch(entry.link)
        return page if isinstance(page, Rejection) else self._page_article(page, entry)

    def _fetch(self, url: str) -> Page | Rejection:
        try:
            return self.fetcher.fetch(url)
        except FetchError as error:
            return Rejection(url, error.reason)

    def _parse_feed(self, page: Page) -> Feed | Rejection:
        parsed = feeds.parse(page.content, page.url)
        if isinstance(parsed, Rejection):
            return parsed
        title = parsed.feed.get("title")
        entries, rejections, links = [], [], set()
        for number, entry in enumerate(parsed.entries, start=1):
            link = entry.get("link") and urljoin(page.final_url, entry.link)  # may be relative
            if not link:
                rejections.append(Rejection(f"{page.url}#entry {number}", "feed entry has no link",
                                            hint="only entries that link to their article "
                                                 "page can be loaded from a feed URL"))
            elif link not in links:
                links.add(link)
                fields = {name: value for name, value in feeds.entry_fields(entry, title).items()
                          if name != "url"}
                entries.append(Entry(page.url, link, _version(entry), fields))
        return Feed(page.url, title, entries, rejections, page.from_cache)

    def _page_article(self, page: Page, entry: Entry | None) -> Article | Rejection:
        if page.media_type and page.media_type not in HTML_TYPES:
            return Rejection(page.url, f"not an HTML page ({page.media_type})",
                             hint="only article pages in HTML can be loaded")
        text = decode_text(page.content, page.url, page.charset)
        if isinstance(text, Rejection):
            return text
        article = html.from_html(text, page.url, url=page.final_url,
                                 fallback=entry.fields if entry else None)
        if entry is None or isinstance(article, Rejection):
            return article
        return replace(article, feed=entry.feed)

    def _map(self, load: Callable[[Item], Result], items: Sequence[Item],
             url_of: Callable[[Item], str]) -> list[Result | Rejection]:
        """`load` over `items` on the worker threads, results in order, each `_guarded`.
        Ctrl-C cancels what has not started."""
        if not items:
            return []
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(items)),
                                  thread_name_prefix="newscite-fetch")
        try:
            return list(pool.map(lambda item: _guarded(url_of(item), load, item), items))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _guarded(url: str, load: Callable[..., Result], *args: object) -> Result | Rejection:
    """`load(*args)`; an unexpected error is logged and becomes `url`'s Rejection."""
    try:
        return load(*args)
    except Exception:  # noqa: BLE001 - one page must never stop the others
        log.exception("%s: unexpected error while loading", url)
        return Rejection(url, "unexpected error while loading (see the log)",
                         hint="please report this page; the others still load")


def is_feed(page: Page) -> bool:
    """True when the page is an RSS/Atom feed: by its declared type, else by its first tag."""
    head = page.content[:2048]
    return page.media_type in FEED_TYPES or (
        _FEED_START.search(head) is not None and _HTML_START.search(head) is None)


def _hosts_in_turn(urls: Sequence[str]) -> list[int]:
    """Indexes of `urls`: every host's first URL, then every host's second, and so on."""
    seen: Counter[str] = Counter()
    turns = []
    for url in urls:
        host = urlsplit(url).netloc
        turns.append(seen[host])
        seen[host] += 1
    return sorted(range(len(urls)), key=lambda index: (turns[index], index))


def _version(entry: feedparser.FeedParserDict) -> str:
    """A short hash of what the feed says about an entry: changes when the entry is edited."""
    said = [entry.get(name) for name in ("link", "title", "published", "updated", "summary")]
    return hashlib.sha1(json.dumps(said, default=str).encode("utf-8")).hexdigest()[:16]

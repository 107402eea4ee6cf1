"""Load a saved .html / .htm news page: the main text and metadata found by trafilatura.

trafilatura drops navigation, ads and footers and reads the title, author, publication
date, site name and canonical URL from the page's metadata. A page with no main text
(an index page, a page rendered by JavaScript) is rejected. `from_html` is shared with
the web loader, which gives it the page's address and what the feed said about it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura
from trafilatura.settings import set_date_params

from newscite.index.loaders.decode import read_text
from newscite.index.loaders.records import from_record
from newscite.types import Article, Rejection


def load(path: Path, field_map: Mapping[str, str] | None = None) -> Iterator[Article | Rejection]:
    """Yield the page's one Article, or a Rejection.

    `field_map` is accepted like every loader's but unused: page metadata has fixed names.
    """
    page = read_text(path)
    yield page if isinstance(page, Rejection) else from_html(page, str(path))


def from_html(page: str, origin: str, *, url: str | None = None,
              fallback: Mapping[str, object] | None = None) -> Article | Rejection:
    """The article in an HTML page, or a Rejection when the page has no main text.

    `url` is where the page was fetched from: the article's URL unless the page names a
    canonical one on the same site. A canonical URL on another site is ignored: a syndicated
    copy often names the original, and must stay a copy (merged as "also reported by")
    rather than take the original's place. `fallback` (our field names: a feed entry's
    title, date, ...) fills what the page's metadata lacks; the outlet falls back to the
    site's host name last.
    """
    # trafilatura's own date settings (made per call: they hold today's date as the latest
    # allowed), asking for the time and zone too, not only the day.
    date_params = {**set_date_params(), "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
    document = trafilatura.bare_extraction(page, url=url, with_metadata=True,
                                           date_extraction_params=date_params)
    if document is None or not (document.text or "").strip():
        return Rejection(origin, "no article text found in the HTML page",
                         hint="use the article page itself (not an index page or a page built "
                              "by JavaScript), or give its text as .txt")
    fallback = fallback or {}
    found = {
        "title": document.title,
        "authors": document.author,  # trafilatura joins several authors with "; "
        "published_at": document.date,
        "source": document.sitename,
        "url": _canonical(document.url, url),
        "category": document.categories[0] if document.categories else None,
    }
    record = {name: value or fallback.get(name) for name, value in found.items()}
    record["source"] = record["source"] or document.hostname
    return from_record({**record, "body": document.text}, origin)


def _canonical(found: str | None, fetched: str | None) -> str | None:
    """The page's own URL (`found` by trafilatura) unless it is on another site than
    `fetched`, the address the page came from."""
    if found is None or fetched is None:
        return found or fetched
    return found if _site(found) == _site(fetched) else fetched


def _site(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")

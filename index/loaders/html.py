"""Load a saved .html / .htm news page: the main text and metadata found by trafilatura.

trafilatura drops navigation, ads and footers and reads the title, author, publication
date, site name and canonical URL from the page's metadata. A page with no main text
(an index page, a page rendered by JavaScript) is rejected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import trafilatura
from trafilatura.settings import set_date_params

from index.articles import Article, Rejection
from index.loaders.decode import read_text
from index.loaders.records import from_record


def load(path: Path, field_map: Mapping[str, str] | None = None) -> Iterator[Article | Rejection]:
    """Yield the page's one Article, or a Rejection.

    `field_map` is accepted like every loader's but unused: page metadata has fixed names.
    """
    page = read_text(path)
    if isinstance(page, Rejection):
        yield page
        return
    # trafilatura's own date settings (made per call: they hold today's date as the latest
    # allowed), asking for the time and zone too, not only the day.
    date_params = {**set_date_params(), "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
    document = trafilatura.bare_extraction(page, with_metadata=True,
                                           date_extraction_params=date_params)
    if document is None or not (document.text or "").strip():
        yield Rejection(str(path), "no article text found in the HTML page",
                        hint="save the article page itself (not an index or a page built by "
                             "JavaScript), or give its text as .txt")
        return
    yield from_record({
        "title": document.title,
        "body": document.text,
        "authors": document.author,  # trafilatura joins several authors with "; "
        "published_at": document.date,
        "source": document.sitename or document.hostname,
        "url": document.url,
        "category": document.categories[0] if document.categories else None,
    }, str(path))

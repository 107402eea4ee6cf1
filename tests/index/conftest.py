"""A real HTTP server on 127.0.0.1 for the fetcher and watcher tests, with news pages.

`NewsSite` serves `routes` (path -> `Route`) from a thread and records every request in
`hits`. A route can answer with ETag and/or Last-Modified (and 304 to a matching
conditional request), redirect, fail a few times first, stall, or leave out its length.
`article_page` writes an article page the way news sites do: navigation, metadata,
the article, a footer. Nothing here talks to any address but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

MODIFIED = datetime(2024, 9, 3, 8, 0, tzinfo=timezone.utc)


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    validators: str = "both"  # "etag", "last-modified", "both" or "none"
    modified: datetime = MODIFIED
    delay: float = 0.0  # seconds before answering
    failures: int = 0  # answer 500 to this many requests first
    length: bool = True  # False: no Content-Length, the body ends when the connection closes

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:12] + '"'


@dataclass
class Hit:
    """One request the server answered: path, status, body bytes sent, request headers,
    when (time.monotonic()), and once answered the bytes on the wire both ways."""

    path: str
    status: int
    sent: int
    headers: dict[str, str]
    at: float
    wire: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        route = self.server.site.routes.get(self.path)
        status, body, headers = self._decide(route)
        # Recorded before answering: the client goes on as soon as the answer reaches it,
        # or gives up waiting for a slow one.
        hit = Hit(self.path, status, len(body), dict(self.headers), time.monotonic())
        self.server.site.hits.append(hit)
        if route is not None:
            time.sleep(route.delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if route is None or route.length:
            self.send_header("Content-Length", str(len(body)))
        answer_head = sum(map(len, self._headers_buffer)) + 2  # + the blank line
        self.end_headers()
        self.wfile.write(body)
        asked = len(self.raw_requestline) + len(self.headers.as_bytes())
        hit.wire = asked + answer_head + len(body)

    def _decide(self, route: Route | None) -> tuple[int, bytes, dict[str, str]]:
        """The answer's status, body and headers."""
        if route is None:
            return 404, b"not found", {"Content-Type": "text/plain"}
        if route.failures:
            route.failures -= 1
            return 500, b"try again", {"Content-Type": "text/plain"}
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.validators in ("etag", "both"):
            headers["ETag"] = route.etag
        if route.validators in ("last-modified", "both"):
            headers["Last-Modified"] = format_datetime(route.modified, usegmt=True)
        if route.status == 200 and self._not_modified(route, headers):
            return 304, b"", headers
        return route.status, route.body, headers

    def _not_modified(self, route: Route, headers: dict[str, str]) -> bool:
        if "If-None-Match" in self.headers:
            return self.headers["If-None-Match"] == headers.get("ETag")
        since = self.headers.get("If-Modified-Since")
        return bool(since and "Last-Modified" in headers
                    and parsedate_to_datetime(since) >= route.modified.replace(microsecond=0))

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    block_on_close = False  # a stalled answer must not hold up the test's end
    site: NewsSite

    def handle_error(self, request, client_address) -> None:
        pass  # the fetcher hanging up on a slow or huge answer is expected


class NewsSite:
    """The test web server; `base` is its http://127.0.0.1:PORT address."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: str | bytes, **options) -> Route:
        route = Route(body.encode("utf-8") if isinstance(body, str) else body, **options)
        self.routes[path] = route
        return route

    def paths(self) -> list[str]:
        """The paths requested so far, in order; `hits` is cleared with `forget`."""
        return [hit.path for hit in self.hits]

    def forget(self) -> None:
        self.hits.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def site():
    server = NewsSite()
    yield server
    server.close()


def article_page(title: str, outlet: str, published: str, author: str,
                 paragraphs: list[str], canonical: str | None = None) -> str:
    """An article page the way news sites write one: metadata, navigation, article, footer."""
    canonical_link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    body = "\n".join(f"<p>{escape(text)}</p>" for text in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} | {escape(outlet)}</title>
{canonical_link}
<meta property="og:site_name" content="{escape(outlet)}">
<meta property="og:title" content="{escape(title)}">
<meta name="author" content="{escape(author)}">
<meta property="article:published_time" content="{published}">
</head><body>
<nav><a href="/">Home</a> <a href="/news/">News</a> <a href="/sport/">Sport</a></nav>
<main><article><h1>{escape(title)}</h1>
<p class="byline">By {escape(author)}</p>
{body}
</article></main>
<footer><p>© {escape(outlet)}. All rights reserved.</p><a href="/subscribe">Subscribe</a></footer>
</body></html>"""


def rss(title: str, items: list[dict[str, str]]) -> str:
    """An RSS 2.0 feed; each item has link, title, pubDate and description."""
    entries = "".join(
        f"<item><title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
        f"<pubDate>{item.get('pubDate', 'Tue, 03 Sep 2024 08:30:00 GMT')}</pubDate>"
        f"<description>{escape(item.get('description', item['title']))}</description></item>"
        for item in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>http://example.invalid/</link>"
            f"<description>{escape(title)}</description>{entries}</channel></rss>")


def atom(title: str, entries: list[dict[str, str]]) -> str:
    """An Atom feed; each entry has link, title, updated and summary."""
    items = "".join(
        f"<entry><title>{escape(entry['title'])}</title><link href=\"{escape(entry['link'])}\"/>"
        f"<id>{escape(entry['link'])}</id><updated>{entry['updated']}</updated>"
        f"<summary>{escape(entry.get('summary', entry['title']))}</summary></entry>"
        for entry in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>urn:test:{escape(title)}</id>"
            f"<updated>2024-09-03T09:00:00Z</updated>{items}</feed>")

"""The HTTP cache of fetched pages: bodies with their validators, in one SQLite file.

`Fetcher` sends a cached page's ETag and Last-Modified back with the next request for
it (If-None-Match, If-Modified-Since); a "304 Not Modified" answer then costs a few
hundred bytes and the page comes from here. The index keeps it as
`<index>/fetch-cache.sqlite`; pages not requested for `keep_days` are dropped when the
cache is opened. No pickle: bodies are stored as bytes, everything else as text.

Example:
    >>> cache = PageCache(Path("idx/fetch-cache.sqlite"))
    >>> cache.put(page, etag='"v2"', last_modified=None)
    >>> cache.get(page.url).etag
    '"v2"'
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY, final_url TEXT NOT NULL, content_type TEXT NOT NULL,
    body BLOB NOT NULL, etag TEXT, last_modified TEXT, checked_at REAL NOT NULL);
"""


@dataclass(frozen=True)
class CachedPage:
    """A page as last fetched: `url` as asked for, `final_url` after redirects, and when
    the server last confirmed it (`checked_at`, POSIX seconds)."""

    url: str
    final_url: str
    content_type: str
    body: bytes
    etag: str | None
    last_modified: str | None
    checked_at: float

    def validators(self) -> dict[str, str]:
        """The conditional-request headers that ask "send it only if it changed"."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class PageCache:
    """Fetched pages by URL (see the module docstring); safe to share between threads.

    `path` None keeps the cache in memory, for one run.
    """

    def __init__(self, path: Path | None, keep_days: float = 30):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(":memory:" if path is None else path,
                                   isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(SCHEMA)
            self._db.execute("DELETE FROM pages WHERE checked_at < ?",
                             (time.time() - keep_days * 86400,))

    def get(self, url: str) -> CachedPage | None:
        with self._lock:
            row = self._db.execute(
                "SELECT url, final_url, content_type, body, etag, last_modified, checked_at "
                "FROM pages WHERE url = ?", (url,)).fetchone()
        return CachedPage(*row) if row else None

    def put(self, page: CachedPage) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO pages VALUES (?,?,?,?,?,?,?)",
                             (page.url, page.final_url, page.content_type, page.body,
                              page.etag, page.last_modified, page.checked_at))

    def touch(self, url: str) -> None:
        """Record that the server has just confirmed the cached page is current."""
        with self._lock:
            self._db.execute("UPDATE pages SET checked_at = ? WHERE url = ?",
                             (time.time(), url))

    def close(self) -> None:
        with self._lock:
            self._db.close()

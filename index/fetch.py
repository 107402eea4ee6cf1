"""Fetch feeds and article pages over HTTP, politely and safely.

`Fetcher.fetch(url)` returns a `Page` or raises `FetchError` (the URL and the reason, in
one line). On the way it
- fetches http and https URLs only, and refuses a host that resolves to a private,
  loopback, link-local or otherwise non-public address unless the host is allowed
  (`private_hosts`). The check runs before connecting, again on every redirect, and once
  more on the connected socket, so a feed can never make newscite read `file://` or an
  internal service, even through a redirect or a DNS answer that changes;
- obeys each site's robots.txt (read at most once a day; RFC 9309: a robots.txt that
  does not exist allows everything, one that cannot be read allows nothing until it can)
  and its Crawl-delay;
- starts requests to one host at least `per_host_delay` seconds apart, with at most
  `per_host_connections` of them in flight;
- gives up on a request after `timeout` seconds, on a body after `max_bytes` bytes and
  on a chain after MAX_REDIRECTS redirects;
- tries again after a network error, a timeout, a 429 or a 5xx answer, `retries` times,
  waiting `backoff` * 2**n seconds (or the server's Retry-After, up to MAX_WAIT);
- asks "only if changed" (If-None-Match / If-Modified-Since) for pages in its
  `PageCache`, so an unchanged page costs one small request answered by a 304.

Example:
    >>> with Fetcher(Path("idx/fetch-cache.sqlite"),
    ...              user_agent="newscite/0.1 (+mailto:me@example.com)") as fetcher:
    ...     page = fetcher.fetch("https://example.com/feed.xml")
    >>> page.final_url, page.media_type, page.from_cache
    ('https://example.com/feed.xml', 'application/rss+xml', False)
"""

from __future__ import annotations

import email.message
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from newscite.index.fetch_cache import CachedPage, PageCache

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_WAIT = 30.0  # longest wait before another try, and the longest Crawl-delay obeyed
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_AGE = 24 * 3600.0
ROBOTS_RETRY = 60.0  # seconds before an unreadable robots.txt is asked for again
ROBOTS_MAX_BYTES = 500_000
ANY_HOST = "*"


class FetchError(Exception):
    """`url` could not be fetched: `reason` says why in a few words; `status` is the
    HTTP status when the server answered with an error."""

    def __init__(self, url: str, reason: str, status: int | None = None):
        super().__init__(f"{url}: {reason}")
        self.url, self.reason, self.status = url, reason, status


class _Refused(Exception):
    """This fetch cannot succeed now: another try would fail the same way."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason, self.status = reason, status


class _Transient(Exception):
    """A failure worth another try; `wait` is the server's Retry-After, if it sent one."""

    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.wait = reason, wait


@dataclass(frozen=True)
class Page:
    """A fetched page: `url` as asked for, `final_url` after redirects.

    `from_cache` is True when the server confirmed the cached copy is current (a 304),
    or for robots.txt when the cached copy is less than a day old.
    """

    url: str
    final_url: str
    content: bytes
    content_type: str
    from_cache: bool = False

    @property
    def media_type(self) -> str:
        """The Content-Type without its parameters, lower-case: 'text/html'."""
        return self.content_type.split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset the server declared, if any."""
        header = email.message.Message()
        header["content-type"] = self.content_type
        return header.get_content_charset()


@dataclass(frozen=True)
class _Robots:
    """A site's robots.txt as understood, or why it cannot be read, until `expires`."""

    expires: float
    rules: RobotFileParser | None = None
    problem: str = ""


class _HostGate:
    """Paces the requests to one host: at most `connections` at once, starts spaced."""

    def __init__(self, connections: int):
        self._slots = threading.Semaphore(connections)
        self._lock = threading.Lock()
        self._next_start = 0.0

    @contextmanager
    def turn(self, delay: float) -> Iterator[None]:
        with self._slots:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + delay
            time.sleep(start - now)
            yield


def is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for any address that is not public: private, loopback, link-local (cloud
    metadata services live there), reserved, unspecified, shared, multicast, and IPv4
    addresses written as IPv6."""
    return not address.is_global or address.is_multicast


class Fetcher:
    """Polite, bounded, cached HTTP GETs (see the module docstring); thread-safe.

    `cache_path` None keeps the page cache in memory. `user_agent` should say who is asking
    and how to reach them (the `fetch_user_agent` setting). `private_hosts` lists the host
    names or addresses that may be private (`{"*"}` allows every host): an intranet's feeds,
    or a test's local server.
    """

    def __init__(self, cache_path: Path | None, *, user_agent: str, timeout: float = 20.0,
                 max_bytes: int = 5_000_000, per_host_delay: float = 1.0,
                 per_host_connections: int = 2, retries: int = 2, backoff: float = 1.0,
                 private_hosts: Collection[str] = ()):
        self.user_agent = user_agent
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.per_host_delay = per_host_delay
        self.per_host_connections = per_host_connections
        self.retries = retries
        self.backoff = backoff
        self.private_hosts = frozenset(host.lower().strip("[]") for host in private_hosts)
        self.cache = PageCache(cache_path)
        # trust_env=False: no proxy from the environment, so the address check sees the
        # real destination; redirects are followed here, one checked hop at a time.
        self._client = httpx.Client(headers={"User-Agent": user_agent}, timeout=timeout,
                                    follow_redirects=False, trust_env=False)
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, threading.Lock] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()
        self.cache.close()

    def fetch(self, url: str, *, max_age: float = 0.0) -> Page:
        """The page at `url`, or FetchError. A cached copy younger than `max_age` seconds
        is returned without asking the server."""
        return self._fetch(url, max_age=max_age, max_bytes=self.max_bytes, robots=True)

    def _fetch(self, url: str, *, max_age: float, max_bytes: int, robots: bool) -> Page:
        cached = self.cache.get(url)
        if cached is not None and time.time() - cached.checked_at < max_age:
            return _page(cached, from_cache=True)
        attempt = 0
        while True:
            try:
                return self._follow(url, cached, max_bytes=max_bytes, robots=robots)
            except _Refused as refused:
                raise FetchError(url, refused.reason, refused.status) from None
            except _Transient as failure:
                if attempt == self.retries:
                    tries = f" ({attempt + 1} tries)" if attempt else ""
                    raise FetchError(url, failure.reason + tries) from None
                wait = min(MAX_WAIT, failure.wait if failure.wait is not None
                           else self.backoff * 2 ** attempt)
                log.debug("%s: %s; trying again in %.2f s", url, failure.reason, wait)
                time.sleep(wait)
                attempt += 1

    def _follow(self, url: str, cached: CachedPage | None, *, max_bytes: int,
                robots: bool) -> Page:
        """One try: GET `url`, following redirects one checked hop at a time."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            hop = "" if current == url else f"redirected to {current}: "
            problem = self._address_problem(current)
            if problem is None and robots:
                problem = self._robots_problem(current)
            if problem:
                raise _Refused(hop + problem)
            validators = cached.validators() if cached and cached.final_url == current else {}
            response, body = self._get(current, validators, max_bytes)
            status = response.status_code
            if status in REDIRECT_STATUSES and "location" in response.headers:
                current = urljoin(current, response.headers["location"])
                continue
            if status == 304 and cached is not None:
                self.cache.touch(url)
                return _page(cached, from_cache=True)
            if status in RETRY_STATUSES:
                raise _Transient(f"{hop}HTTP {status}", _retry_after(response))
            if status != 200:
                raise _Refused(f"{hop}HTTP {status} {response.reason_phrase}".strip(), status)
            page = CachedPage(url, current, response.headers.get("content-type", ""), body,
                              response.headers.get("etag"),
                              response.headers.get("last-modified"), time.time())
            self.cache.put(page)
            return _page(page, from_cache=False)
        raise _Refused(f"more than {MAX_REDIRECTS} redirects")

    def _get(self, url: str, headers: dict[str, str],
             max_bytes: int) -> tuple[httpx.Response, bytes]:
        """One GET in this host's turn: the response and, for a 200, its body."""
        with self._gate(url).turn(self._delay(url)):
            deadline = time.monotonic() + self.timeout
            try:
                with self._client.stream("GET", url, headers=headers) as response:
                    self._check_peer(url, response)
                    body = (_read(response, max_bytes, deadline, self.timeout)
                            if response.status_code == 200 else b"")
                    return response, body
            except httpx.TimeoutException:
                raise _Transient(f"timed out after {self.timeout:g} s") from None
            except httpx.InvalidURL as error:
                raise _Refused(f"not a valid URL ({error})") from None
            except httpx.TransportError as error:
                raise _Transient(f"network error: {error or type(error).__name__}") from None

    # ---- where requests may go ---------------------------------------------------------

    def _may_be_private(self, host: str) -> bool:
        return ANY_HOST in self.private_hosts or host in self.private_hosts

    def _address_problem(self, url: str) -> str | None:
        """Why `url` must not be fetched (scheme, host, address), or None."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            what = f"{parts.scheme} URLs" if parts.scheme else "addresses without http(s)://"
            return f"refused: only http and https URLs are fetched, not {what}"
        host = parts.hostname
        if not host:
            return "refused: no host in the URL"
        if self._may_be_private(host):
            return None
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = {info[4][0] for info in socket.getaddrinfo(host, port,
                                                                   type=socket.SOCK_STREAM)}
        except ValueError:
            return "refused: the port is not a number from 0 to 65535"
        except (OSError, UnicodeError) as error:
            return f"cannot resolve the host name {host} ({error})"
        for address in sorted(addresses):
            if is_internal(ipaddress.ip_address(address)):
                return (f"refused: {host} is a private or local address ({address}); "
                        f"allow it with the fetch_allow_private setting")
        return None

    def _check_peer(self, url: str, response: httpx.Response) -> None:
        """Refuse an answer from an internal address: the name resolved differently when
        connecting than when it was checked."""
        host = urlsplit(url).hostname or ""
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        if peer and not self._may_be_private(host) and is_internal(ipaddress.ip_address(peer[0])):
            raise _Refused(f"refused: {host} connected to a private or local address ({peer[0]})")

    # ---- politeness --------------------------------------------------------------------

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            return self._gates.setdefault(host, _HostGate(self.per_host_connections))

    def _delay(self, url: str) -> float:
        """Seconds between requests to this host: ours, or the site's Crawl-delay."""
        with self._lock:
            robots = self._robots.get(_origin(url))
        crawl_delay = robots.rules.crawl_delay(self.user_agent) if robots and robots.rules else None
        return max(self.per_host_delay, min(float(crawl_delay or 0), MAX_WAIT))

    def _robots_problem(self, url: str) -> str | None:
        """Why robots.txt keeps `url` from being fetched, or None."""
        robots = self._robots_for(_origin(url))
        if robots.problem:
            return robots.problem
        if not robots.rules.can_fetch(self.user_agent, url):
            return "disallowed by the site's robots.txt"
        return None

    def _robots_for(self, origin: str) -> _Robots:
        """The site's robots.txt, read at most once per ROBOTS_MAX_AGE (one thread reads)."""
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            with self._lock:
                robots = self._robots.get(origin)
            if robots is None or robots.expires < time.monotonic():
                robots = self._read_robots(origin)
                with self._lock:
                    self._robots[origin] = robots
            return robots

    def _read_robots(self, origin: str) -> _Robots:
        url = origin + "/robots.txt"
        try:
            text = self._fetch(url, max_age=ROBOTS_MAX_AGE, max_bytes=ROBOTS_MAX_BYTES,
                               robots=False).content.decode("utf-8", errors="replace")
        except FetchError as error:
            if error.status is None or error.status >= 500:
                log.debug("%s cannot be read (%s): nothing is fetched from the site until "
                          "it can", url, error.reason)
                return _Robots(time.monotonic() + ROBOTS_RETRY,
                               problem=f"the site's robots.txt cannot be read ({error.reason})")
            # No robots.txt (4xx): everything is allowed. Remembered like a robots.txt that
            # allows everything, so the next run does not ask again within the day.
            text = ""
            self.cache.put(CachedPage(url, url, "text/plain", b"", None, None, time.time()))
        rules = RobotFileParser()
        rules.parse(text.splitlines())
        return _Robots(time.monotonic() + ROBOTS_MAX_AGE, rules)


def _page(cached: CachedPage, *, from_cache: bool) -> Page:
    return Page(cached.url, cached.final_url, cached.body, cached.content_type, from_cache)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _read(response: httpx.Response, max_bytes: int, deadline: float, timeout: float) -> bytes:
    """The body, or _Refused when it is larger than `max_bytes` (checked as it arrives,
    after decompression), or _Transient when it is still arriving at `deadline`."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _Refused(f"too large: {int(declared):,} bytes, the limit is {max_bytes:,} "
                       f"(the fetch_max_bytes setting)")
    parts, size = [], 0
    for part in response.iter_bytes():
        size += len(part)
        if size > max_bytes:
            raise _Refused(f"too large: more than {max_bytes:,} bytes (the fetch_max_bytes "
                           f"setting)")
        if time.monotonic() > deadline:
            raise _Transient(f"timed out after {timeout:g} s")
        parts.append(part)
    return b"".join(parts)


def _retry_after(response: httpx.Response) -> float | None:
    """The server's Retry-After, in seconds (it may be a number or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None

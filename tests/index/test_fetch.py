"""The HTTP client against a real server on 127.0.0.1: politeness, limits, safety, caching.

The server's own host is allowed to be private (`private_hosts={"127.0.0.1"}`); every
other private or local address must be refused before any connection is made.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from datetime import timedelta

import pytest

from newscite.index.fetch import MAX_REDIRECTS, Fetcher, FetchError, is_internal

UA = "newscite-test/1.0 (+tests)"
PAGE = "<html><body><p>The ferry runs again.</p></body></html>"


@pytest.fixture
def fetcher(tmp_path):
    with Fetcher(tmp_path / "fetch-cache.sqlite", user_agent=UA,
                 timeout=0.5, retries=1, backoff=0.01, per_host_delay=0,
                 max_bytes=100_000, private_hosts={"127.0.0.1"}) as client:
        yield client


def failure(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.url == url and str(caught.value).startswith(url + ": ")
    return caught.value


def test_a_page_is_fetched_with_a_clear_user_agent_and_robots_txt_is_obeyed(site, fetcher):
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.add("/news/ferry.html", PAGE)
    site.add("/private/memo.html", PAGE)
    page = fetcher.fetch(site.url("/news/ferry.html"))
    assert page.content == PAGE.encode() and page.media_type == "text/html"
    assert page.charset == "utf-8" and not page.from_cache
    assert "disallowed by the site's robots.txt" in failure(
        fetcher, site.url("/private/memo.html")).reason
    assert site.paths() == ["/robots.txt", "/news/ferry.html"]  # robots.txt read once
    assert {hit.headers["User-Agent"] for hit in site.hits} == {UA}


def test_an_unreadable_robots_txt_blocks_the_site_and_a_missing_one_allows_it(site, fetcher):
    site.add("/news/ferry.html", PAGE)
    assert fetcher.fetch(site.url("/news/ferry.html")).content  # no robots.txt: a 404
    with Fetcher(None, user_agent=UA, retries=0, per_host_delay=0,
                 private_hosts={"127.0.0.1"}) as other:
        site.add("/robots.txt", "down", status=503)
        reason = failure(other, site.url("/news/ferry.html")).reason
    assert "robots.txt cannot be read (HTTP 503)" in reason


def test_redirects_are_followed_and_bounded(site, fetcher):
    site.add("/news/bridge.html", PAGE)
    site.add("/go/bridge", "", status=301, headers={"Location": "/news/bridge.html"})
    site.add("/loop", "", status=302, headers={"Location": "/loop"})
    page = fetcher.fetch(site.url("/go/bridge"))
    assert page.final_url == site.url("/news/bridge.html") and page.content == PAGE.encode()
    assert f"more than {MAX_REDIRECTS} redirects" in failure(fetcher, site.url("/loop")).reason
    assert site.paths().count("/loop") == MAX_REDIRECTS + 1


def test_a_404_fails_at_once_and_a_500_is_tried_again(site, fetcher):
    site.add("/flaky.html", PAGE, failures=1)
    site.add("/down.html", "", status=503)
    error = failure(fetcher, site.url("/missing.html"))
    assert (error.reason, error.status) == ("HTTP 404 Not Found", 404)
    assert fetcher.fetch(site.url("/flaky.html")).content == PAGE.encode()
    assert [hit.status for hit in site.hits if hit.path == "/flaky.html"] == [500, 200]
    assert failure(fetcher, site.url("/down.html")).reason == "HTTP 503 (2 tries)"
    assert site.paths().count("/missing.html") == 1


def test_a_slow_page_times_out(site, fetcher):
    site.add("/slow.html", PAGE, delay=3)
    started = time.monotonic()
    assert failure(fetcher, site.url("/slow.html")).reason == "timed out after 0.5 s (2 tries)"
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("length", [True, False])
def test_a_huge_page_is_refused(site, fetcher, length):
    site.add("/huge.html", b"<p>" + b"x" * 1_000_000 + b"</p>", length=length)
    reason = failure(fetcher, site.url("/huge.html")).reason
    assert reason.startswith("too large") and "100,000" in reason


def test_etag_and_last_modified_make_an_unchanged_page_cost_one_small_request(site, fetcher,
                                                                              tmp_path):
    site.add("/etag.xml", "<rss>one</rss>", validators="etag")
    site.add("/dated.xml", "<rss>two</rss>", validators="last-modified")
    site.add("/plain.xml", "<rss>three</rss>", validators="none")
    urls = [site.url(path) for path in ("/etag.xml", "/dated.xml", "/plain.xml")]
    for url in urls:
        fetcher.fetch(url)
    site.forget()
    again = [fetcher.fetch(url) for url in urls]
    assert [page.from_cache for page in again] == [True, True, False]
    assert [page.content for page in again] == [b"<rss>one</rss>", b"<rss>two</rss>",
                                                b"<rss>three</rss>"]
    etag, dated, plain = site.hits
    assert etag.headers["If-None-Match"] == site.routes["/etag.xml"].etag
    assert "If-Modified-Since" in dated.headers
    assert [(hit.status, hit.sent) for hit in site.hits] == [(304, 0), (304, 0), (200, 16)]

    # A changed page is downloaded again; a new run with the same cache asks only if changed.
    site.routes["/etag.xml"].body = b"<rss>one, edited</rss>"
    site.routes["/dated.xml"].modified += timedelta(hours=1)
    assert fetcher.fetch(urls[0]).content == b"<rss>one, edited</rss>"
    assert not fetcher.fetch(urls[1]).from_cache
    site.forget()
    with Fetcher(tmp_path / "fetch-cache.sqlite", user_agent=UA, per_host_delay=0,
                 private_hosts={"127.0.0.1"}) as rerun:
        assert all(rerun.fetch(url).from_cache for url in urls[:2])
    assert [(hit.path, hit.status) for hit in site.hits] == [("/etag.xml", 304),
                                                             ("/dated.xml", 304)]


def test_requests_to_one_host_are_spaced(site, tmp_path):
    for number in range(3):
        site.add(f"/news/{number}.html", PAGE)
    with Fetcher(None, user_agent=UA, per_host_delay=0.2,
                 private_hosts={"127.0.0.1"}) as fetcher:
        threads = [threading.Thread(target=fetcher.fetch, args=(site.url(f"/news/{n}.html"),))
                   for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    starts = sorted(hit.at for hit in site.hits)  # robots.txt, then the three pages
    assert len(starts) == 4
    assert all(later - earlier >= 0.18 for earlier, later in zip(starts, starts[1:]))


@pytest.mark.parametrize("url, reason", [
    ("file:///etc/passwd", "only http and https URLs are fetched, not file"),
    ("ftp://127.0.0.1/feed.xml", "only http and https URLs are fetched, not ftp"),
    ("http://10.0.0.1/feed.xml", "10.0.0.1 is a private or local address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a private or local"),
    ("http://[::1]/", "::1 is a private or local address"),
    ("http://[::ffff:10.0.0.1]/", "is a private or local address"),
    ("http://localhost/", "localhost is a private or local address"),
    ("http://0.0.0.0/", "0.0.0.0 is a private or local address"),
])
def test_local_and_private_addresses_are_refused_before_connecting(fetcher, url, reason):
    error = failure(fetcher, url)
    assert reason in error.reason and error.reason.startswith("refused: ")


def test_a_redirect_cannot_lead_to_a_private_address_or_a_file(site, fetcher):
    site.add("/go/metadata", "", status=302,
             headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    site.add("/go/file", "", status=302, headers={"Location": "file:///etc/passwd"})
    assert failure(fetcher, site.url("/go/metadata")).reason.startswith(
        "redirected to http://169.254.169.254/latest/meta-data/: refused: ")
    assert "only http and https" in failure(fetcher, site.url("/go/file")).reason


def test_only_the_allowed_host_may_be_private(site):
    site.add("/news/ferry.html", PAGE)
    with Fetcher(None, user_agent=UA, per_host_delay=0) as strict:
        assert "127.0.0.1 is a private" in failure(strict, site.url("/news/ferry.html")).reason
    with Fetcher(None, user_agent=UA, per_host_delay=0, private_hosts={"*"}) as lax:
        assert lax.fetch(site.url("/news/ferry.html")).content == PAGE.encode()
    assert site.paths() == ["/robots.txt", "/news/ferry.html"]  # nothing from the strict one


@pytest.mark.parametrize("address, internal", [
    ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True), ("127.0.0.2", True),
    ("169.254.169.254", True), ("100.64.0.1", True), ("224.0.0.1", True), ("fd00::1", True),
    ("fe80::1", True), ("::ffff:192.168.0.1", True), ("8.8.8.8", False),
    ("2606:4700:4700::1111", False)])
def test_internal_addresses(address, internal):
    assert is_internal(ipaddress.ip_address(address)) is internal


def test_an_answer_from_a_private_address_is_refused_even_if_the_check_was_passed(site,
                                                                                   monkeypatch):
    """As when a name resolves to a public address when checked and to a private one when
    connecting (DNS rebinding): the connected socket's address is checked too."""
    site.add("/news/ferry.html", PAGE)
    monkeypatch.setattr(Fetcher, "_address_problem", lambda self, url: None)
    with Fetcher(None, user_agent=UA, per_host_delay=0, retries=0) as fetcher:
        reason = failure(fetcher, site.url("/news/ferry.html")).reason
    assert "refused: 127.0.0.1 connected to a private or local address (127.0.0.1)" in reason
    assert site.paths() == ["/robots.txt"]  # its answer was not read; the page not asked for

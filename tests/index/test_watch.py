"""Feeds and pages from a real server on 127.0.0.1 into a real index: the watcher, the
web loader, `newscite ingest URL`, `newscite watch` and the chat's background refresh.

The test site has three outlets: the Harbor Gazette (RSS 2.0, whose entries hit every kind
of trouble), the Valley Herald (Atom, ETag) and the Coastal Courier (RSS with relative
links, Last-Modified, and a syndicated copy of a Harbor Gazette story).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from newscite.cli import main
from newscite.index.dedup import Deduplicator
from newscite.index.fetch import Fetcher
from newscite.index.ingest import Ingester, index_identity
from newscite.index.loaders.html import from_html
from newscite.index.loaders.web import WebLoader
from newscite.index.store import Store
from newscite.index.watch import STATE_NAME, Watcher, read_feed_list, read_reports
from newscite.types import article_id

from tests.conftest import FIXTURES
from tests.index.conftest import NewsSite, article_page, atom, rss

FERRY = ["Ferry crews on the harbor routes walked off the job on Tuesday morning after talks "
         "over a new pay deal collapsed late on Monday night, leaving thousands of commuters "
         "stranded on both shores.",
         "The union said its members had not had a raise in three years and that the "
         "operator's final offer of two percent fell far short of inflation. The operator "
         "called the strike regrettable and said it would return to the table on Thursday.",
         "City officials added extra buses on the bridge route and asked employers to let "
         "staff work from home until the dispute is settled."]
BRIDGE = ["The old swing bridge over the canal will close for six weeks of repairs from "
          "Monday, the council said, after inspectors found corroded steel in two of its "
          "supporting beams.",
          "Cyclists and pedestrians will use a temporary pontoon beside the bridge, while "
          "cars are diverted through the industrial estate."]
FISH = ["The fish market will move to the old pier in the spring, traders agreed at a "
        "crowded meeting on Wednesday evening after years of complaints about the cramped "
        "hall on Dock Street.",
        "The new site has room for forty stalls, a cold store and a small restaurant run by "
        "the fishermen's cooperative."]
DROUGHT = ["The valley water board set limits on garden watering from Friday after the "
           "driest summer in forty years left the reservoir at a third of its capacity.",
           "Hosepipes may be used only before eight in the morning, and farms must cut their "
           "draw from the river by a fifth until the autumn rains arrive."]
LIBRARY = ["A new public library opened downtown on Saturday in the restored grain "
           "exchange, with a children's floor, a makers' workshop and study rooms open until "
           "midnight.",
           "More than three thousand people visited on the first day, and the library "
           "registered nine hundred new members before closing time."]
LIGHTHOUSE = ["The lighthouse on Gull Point reopened as a maritime museum after a two-year "
              "restoration that replaced its rusted lantern room and rebuilt the keeper's "
              "cottage.",
              "The museum shows the original Fresnel lens and logbooks kept by the keepers "
              "since 1881, and guided climbs to the gallery run every hour."]
TRAM = ["The city council voted twenty-one to nine on Monday to build the new tram line "
        "along the waterfront, ending a decade of debate over its route.",
        "Construction is due to start next year and the first trams should run in 2028."]
TRAM_EDITED = TRAM + ["The mayor said on Tuesday that the line would also get a stop at the "
                      "new hospital, after a petition signed by eleven thousand residents."]
ZOO = ["The city zoo welcomed a red panda cub named Ember, its first birth of the rare "
       "species in twenty years, keepers said on Wednesday.",
       "The cub weighed only a hundred and ten grams at birth and will stay in the nest box "
       "with its mother until the spring, so visitors will not see it before March."]


def page(site: NewsSite, path: str, title: str, outlet: str, paragraphs: list[str],
         published: str = "2024-09-03T08:30:00Z", author: str = "Ann Lee", **route) -> str:
    """Serve an article page at `path` (its own canonical URL); returns its URL."""
    site.add(path, article_page(title, outlet, published, author, paragraphs,
                                canonical=site.url(path)), **route)
    return site.url(path)


@pytest.fixture
def newsroom(site: NewsSite) -> NewsSite:
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    page(site, "/news/ferry-strike.html", "Ferry workers strike over pay", "Harbor Gazette",
         FERRY)
    page(site, "/news/bridge-repairs.html", "Old bridge closes for repairs", "Harbor Gazette",
         BRIDGE, author="Bo Chan")
    site.add("/go/bridge", "", status=301, headers={"Location": "/news/bridge-repairs.html"})
    page(site, "/news/fish-market.html", "Fish market moves to the pier", "Harbor Gazette",
         FISH, failures=1)
    page(site, "/news/slow.html", "A slow page", "Harbor Gazette", FISH, delay=3)
    site.add("/news/huge.html", "<p>" + "news " * 100_000 + "</p>", length=False)
    page(site, "/private/memo.html", "Internal memo", "Harbor Gazette", FISH)
    harbor = [("/news/ferry-strike.html", "Ferry workers strike over pay"),
              ("/go/bridge", "Old bridge closes for repairs"),
              ("/news/fish-market.html", "Fish market moves to the pier"),
              ("/news/missing.html", "A page that is gone"),
              ("/news/slow.html", "A slow page"), ("/news/huge.html", "A huge page"),
              ("/private/memo.html", "Internal memo")]
    outside = ["file:///etc/passwd", "http://10.0.0.1/news/internal.html",
               "http://169.254.169.254/latest/meta-data/"]
    site.add("/feeds/harbor.rss", rss("Harbor Gazette", [
        {"title": title, "link": site.url(path)} for path, title in harbor] + [
        {"title": "Refused", "link": link} for link in outside]),
        content_type="application/rss+xml")

    page(site, "/news/drought-limits.html", "Valley sets drought limits", "Valley Herald",
         DROUGHT, published="2024-09-02T07:00:00Z", author="Cy Diaz")
    page(site, "/news/library-opens.html", "New library opens downtown", "Valley Herald",
         LIBRARY, published="2024-09-01T12:00:00Z", author="Cy Diaz")
    site.add("/feeds/valley.atom", atom("Valley Herald", [
        {"title": "Valley sets drought limits", "link": site.url("/news/drought-limits.html"),
         "updated": "2024-09-02T07:00:00Z"},
        {"title": "New library opens downtown", "link": site.url("/news/library-opens.html"),
         "updated": "2024-09-01T12:00:00Z"}]),
        content_type="application/atom+xml", validators="etag")

    page(site, "/coastal/lighthouse.html", "Lighthouse museum reopens", "Coastal Courier",
         LIGHTHOUSE, author="Di Evans")
    page(site, "/coastal/ferry-strike-copy.html", "Ferry workers strike over pay",
         "Coastal Courier", FERRY + ["This story first appeared in the Harbor Gazette."])
    site.add("/coastal/feed.rss", rss("Coastal Courier", [
        {"title": "Lighthouse museum reopens", "link": "lighthouse.html"},
        {"title": "Ferry workers strike over pay", "link": "/coastal/ferry-strike-copy.html"}]),
        content_type="application/rss+xml", validators="last-modified")
    return site


def make_fetcher(path: Path | None) -> Fetcher:
    return Fetcher(path, user_agent="newscite-test/1.0", timeout=1.0, retries=1, backoff=0.01,
                   per_host_delay=0, max_bytes=200_000, private_hosts={"127.0.0.1"})


class Index:
    """A real index that counts the batches the watcher ingests."""

    def __init__(self, path: Path, embedder, chunker):
        self.path, self.embedder, self.chunker = path, embedder, chunker
        self.batches: list[list[str]] = []

    def ingest(self, articles, sources):
        self.batches.append([article.url for article in articles])
        with self.open() as store:
            return Ingester(store, self.embedder, self.chunker, Deduplicator(),
                            progress=False).ingest(articles, sources)

    def open(self) -> Store:
        return Store.open(self.path, identity=index_identity(self.embedder, self.chunker),
                               writable=True, create=True)


@pytest.fixture
def index(tmp_path, embedder, chunker) -> Index:
    return Index(tmp_path / "idx", embedder, chunker)


def watcher_for(site: NewsSite, tmp_path: Path, index: Index, feeds: list[str]):
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text("\n".join(site.url(path) for path in feeds) + "\n")
    fetcher = make_fetcher(tmp_path / "fetch-cache.sqlite")
    return Watcher(feed_list, WebLoader(fetcher), index.ingest, tmp_path / STATE_NAME), fetcher


ALL_FEEDS = ["/feeds/harbor.rss", "/feeds/gone.rss", "/feeds/valley.atom", "/coastal/feed.rss"]


def test_a_refresh_reads_every_feed_and_reports_each_failure_once(newsroom, tmp_path, index):
    site = newsroom
    watcher, fetcher = watcher_for(site, tmp_path, index, ALL_FEEDS)
    with fetcher:
        harbor, gone, valley, coastal = watcher.refresh_once()

        assert gone.errors == [site.url("/feeds/gone.rss") + ": HTTP 404 Not Found"]
        assert (harbor.title, harbor.entries, harbor.new, harbor.changed) == (
            "Harbor Gazette", 10, 3, 0)
        failed = {error.split(": ", 1)[0]: error.split(": ", 1)[1] for error in harbor.errors}
        assert len(failed) == len(harbor.errors) == 7  # each failure once
        assert failed == {
            site.url("/news/missing.html"): "HTTP 404 Not Found",
            site.url("/news/slow.html"): "timed out after 1 s (2 tries)",
            site.url("/news/huge.html"): "too large: more than 200,000 bytes (the "
                                         "fetch_max_bytes setting)",
            site.url("/private/memo.html"): "disallowed by the site's robots.txt",
            "file://etc/passwd": "refused: only http and https URLs are fetched, not file URLs",
            "http://10.0.0.1/news/internal.html": "refused: 10.0.0.1 is a private or local "
            "address (10.0.0.1); allow it with the fetch_allow_private setting",
            "http://169.254.169.254/latest/meta-data/": "refused: 169.254.169.254 is a private "
            "or local address (169.254.169.254); allow it with the fetch_allow_private setting"}
        assert (valley.title, valley.new, valley.errors) == ("Valley Herald", 2, [])
        assert (coastal.title, coastal.new, coastal.errors) == ("Coastal Courier", 2, [])
        assert "/private/memo.html" not in site.paths()
        assert site.paths().count("/robots.txt") == 1

        with index.open() as store:
            assert store.counts()["articles"] == 6  # the syndicated copy is merged
            bridge = store.article(article_id(site.url("/news/bridge-repairs.html"), ""))
            assert (bridge.title, bridge.source, bridge.authors) == (
                "Old bridge closes for repairs", "Harbor Gazette", ("Bo Chan",))
            assert bridge.url == site.url("/news/bridge-repairs.html")  # not /go/bridge
            assert bridge.published_at.isoformat() == "2024-09-03T08:30:00+00:00"
            assert bridge.feed == site.url("/feeds/harbor.rss")
            assert BRIDGE[0] in bridge.body and "Subscribe" not in bridge.body
            lighthouse = store.article(article_id(site.url("/coastal/lighthouse.html"), ""))
            assert lighthouse.feed == site.url("/coastal/feed.rss")  # a relative link, resolved
            ferry = store.article(article_id(site.url("/news/ferry-strike.html"), ""))
            assert [(c.source, c.url) for c in ferry.also_reported_by] == [
                ("Coastal Courier", site.url("/coastal/ferry-strike-copy.html"))]

        # The next refresh asks again only for what failed, and reports it again.
        site.forget()
        harbor, gone, valley, coastal = watcher.refresh_once()
    assert (harbor.new, valley.new, coastal.new) == (0, 0, 0)
    assert (len(harbor.errors), len(gone.errors)) == (7, 1)
    pages = {path for path in site.paths() if not path.startswith(("/feeds/", "/coastal/feed"))}
    assert pages == {"/news/missing.html", "/news/slow.html", "/news/huge.html"}
    assert len(index.batches) == 1


def test_an_unchanged_feed_costs_one_small_request(newsroom, tmp_path, index):
    site = newsroom
    watcher, fetcher = watcher_for(site, tmp_path, index, ["/feeds/valley.atom",
                                                           "/coastal/feed.rss"])
    with fetcher:
        watcher.refresh_once()
        site.forget()
        reports = watcher.refresh_once()
    hits = {hit.path: hit for hit in site.hits}  # the feeds are fetched side by side
    assert len(site.hits) == 2
    assert [(hits[path].status, hits[path].sent) for path in hits] == [(304, 0), (304, 0)]
    assert "If-None-Match" in hits["/feeds/valley.atom"].headers
    assert "If-Modified-Since" in hits["/coastal/feed.rss"].headers
    assert [(r.not_modified, r.new, r.changed, r.errors) for r in reports] == [
        (True, 0, 0, [])] * 2
    assert len(index.batches) == 1  # nothing to ingest the second time

    # A restart (new fetcher, state read back from feeds.json) asks no more than that.
    site.forget()
    watcher, fetcher = watcher_for(site, tmp_path, index, ["/feeds/valley.atom",
                                                           "/coastal/feed.rss"])
    with fetcher:
        watcher.refresh_once()
    assert sorted((hit.path, hit.status) for hit in site.hits) == [("/coastal/feed.rss", 304),
                                                                   ("/feeds/valley.atom", 304)]


def live_feed(site: NewsSite, entries: list[tuple[str, str, str]]) -> None:
    site.add("/live/feed.rss", rss("Harbor Gazette Live", [
        {"title": title, "link": site.url(path), "pubDate": date} for path, title, date
        in entries]), content_type="application/rss+xml")


def test_a_changed_feed_adds_the_new_entry_and_updates_the_edited_one(site, tmp_path, index):
    tram = page(site, "/live/tram.html", "Council approves tram line", "Harbor Gazette", TRAM)
    live_feed(site, [("/live/tram.html", "Council approves tram line",
                      "Mon, 02 Sep 2024 18:00:00 GMT")])
    watcher, fetcher = watcher_for(site, tmp_path, index, ["/live/feed.rss"])
    with fetcher:
        [first] = watcher.refresh_once()
        page(site, "/live/tram.html", "Council approves tram line", "Harbor Gazette",
             TRAM_EDITED)
        zoo = page(site, "/live/zoo.html", "Zoo welcomes red panda cub", "Harbor Gazette", ZOO)
        live_feed(site, [("/live/zoo.html", "Zoo welcomes red panda cub",
                          "Wed, 04 Sep 2024 09:00:00 GMT"),
                         ("/live/tram.html", "Council approves tram line (updated)",
                          "Tue, 03 Sep 2024 10:00:00 GMT")])
        [second] = watcher.refresh_once()
    assert (first.new, first.changed) == (1, 0)
    assert (second.new, second.changed, second.errors) == (1, 1, [])
    assert index.batches[1] == [zoo, tram]
    with index.open() as store:
        assert "hospital" in store.article(article_id(tram, "")).body
        assert store.article(article_id(zoo, "")).title == "Zoo welcomes red panda cub"
    assert [(r.url, r.new, r.changed) for r in read_reports(tmp_path / STATE_NAME)] == [
        (site.url("/live/feed.rss"), 1, 1)]


def test_a_failed_ingest_is_reported_and_tried_again(newsroom, tmp_path, index):
    calls = []

    def busy_once(articles, sources):
        calls.append(len(articles))
        if len(calls) == 1:
            raise RuntimeError("another newscite process is writing to the index")
        return index.ingest(articles, sources)

    watcher, fetcher = watcher_for(newsroom, tmp_path, index, ["/feeds/valley.atom"])
    watcher.ingest = busy_once
    with fetcher:
        [failed] = watcher.refresh_once()
        [retried] = watcher.refresh_once()
    assert failed.new == 0 and len(failed.errors) == 2
    assert failed.errors[0].endswith("not ingested (another newscite process is writing to "
                                     "the index)")
    assert (retried.new, retried.errors, calls) == (2, [], [2, 2])


def test_run_refreshes_until_stopped(newsroom, tmp_path, index):
    watcher, fetcher = watcher_for(newsroom, tmp_path, index, ["/feeds/valley.atom"])
    stop = threading.Event()
    with fetcher:
        thread = threading.Thread(target=watcher.run, args=(0.05, stop))
        thread.start()
        deadline = time.monotonic() + 20
        while newsroom.paths().count("/feeds/valley.atom") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive() and newsroom.paths().count("/feeds/valley.atom") >= 3


def test_feed_lists_are_text_or_opml(tmp_path):
    text = tmp_path / "feeds.txt"
    text.write_text("# news\nhttps://a.example/rss\n\n  https://b.example/atom.xml  \n"
                    "https://a.example/rss\n")
    assert read_feed_list(text) == ["https://a.example/rss", "https://b.example/atom.xml"]
    opml = tmp_path / "feeds.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head>'
                    '<body><outline text="Local"><outline text="A" type="rss" '
                    'xmlUrl="https://a.example/rss"/></outline><outline text="B" '
                    'xmlUrl="https://b.example/atom.xml"/></body></opml>')
    assert read_feed_list(opml) == ["https://a.example/rss", "https://b.example/atom.xml"]
    text.write_text("https://a.example/rss\nfile:///etc/passwd\n")
    with pytest.raises(ValueError, match=r"feeds.txt, line 2: 'file:///etc/passwd' is not"):
        read_feed_list(text)
    text.write_text("# nothing yet\n")
    with pytest.raises(ValueError, match="no feed URLs"):
        read_feed_list(text)


def test_ingest_accepts_feed_and_page_urls_beside_files(newsroom, tmp_path, monkeypatch,
                                                        capsys):
    monkeypatch.setenv("NEWSCITE_FETCH_ALLOW_PRIVATE", "127.0.0.1")
    monkeypatch.setenv("NEWSCITE_FETCH_PER_HOST_DELAY", "0")
    index = tmp_path / "idx"
    assert main(["ingest", newsroom.url("/feeds/valley.atom"),
                 newsroom.url("/coastal/lighthouse.html"), "http://10.0.0.1/feed.xml",
                 str(FIXTURES / "news.jsonl"), "--index", str(index), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("added 6, updated 0") and "rejected 1" in out  # 3 + 3 from files
    assert (index / "fetch-cache.sqlite").exists()
    with Store.open(index) as store:
        lighthouse = store.article(article_id(newsroom.url("/coastal/lighthouse.html"), ""))
        assert lighthouse.source == "Coastal Courier" and lighthouse.feed is None
        assert store.article(article_id(newsroom.url("/news/library-opens.html"), "")).feed \
            == newsroom.url("/feeds/valley.atom")


def test_watch_then_ask_answers_about_the_new_article(site, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEWSCITE_FETCH_ALLOW_PRIVATE", "127.0.0.1")
    monkeypatch.setenv("NEWSCITE_FETCH_PER_HOST_DELAY", "0")
    index = str(tmp_path / "idx")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(site.url("/live/feed.rss") + "\n")
    page(site, "/live/tram.html", "Council approves tram line", "Harbor Gazette", TRAM)
    live_feed(site, [("/live/tram.html", "Council approves tram line",
                      "Mon, 02 Sep 2024 18:00:00 GMT")])
    assert main(["watch", str(feeds), "--once", "--index", index]) == 0

    zoo = page(site, "/live/zoo.html", "Zoo welcomes red panda cub", "Harbor Gazette", ZOO,
               published="2024-09-04T09:00:00Z")
    live_feed(site, [("/live/zoo.html", "Zoo welcomes red panda cub",
                      "Wed, 04 Sep 2024 09:00:00 GMT"),
                     ("/live/tram.html", "Council approves tram line",
                      "Mon, 02 Sep 2024 18:00:00 GMT")])
    assert main(["watch", str(feeds), "--once", "--index", index]) == 0
    capsys.readouterr()
    assert main(["ask", "What is the name of the red panda cub born at the zoo?",
                 "--index", index, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "Ember" in answer["answer"] and "[1]" in answer["answer"]
    cited = {citation["chunk_id"] for citation in answer["citations"]}
    assert [p["url"] for p in answer["passages"] if p["chunk_id"] in cited] == [zoo]


def test_the_chat_sees_watched_feeds_without_a_restart(newsroom, tmp_path):
    from newscite.config import Config
    from newscite.ui import render
    from newscite.ui.backend import Backend

    feeds = tmp_path / "feeds.txt"
    feeds.write_text(newsroom.url("/feeds/valley.atom") + "\n")
    config = Config.load({"index": str(tmp_path / "idx"), "fetch_allow_private": "127.0.0.1",
                          "fetch_per_host_delay": 0}, environ={})
    backend = Backend(config)
    assert backend.rag is None  # no index yet
    stop = backend.watch(feeds, every=3600)
    deadline = time.monotonic() + 120  # first fetch, ingest and embedding; slow on a busy CPU
    # the chat opens the index as soon as the watcher creates it (empty, generation 0):
    # wait for the refresh's articles and its report, not for an open index
    while time.monotonic() < deadline and not (
            backend.overview().articles == 2 and backend.overview().feeds):
        time.sleep(0.1)
    stop.set()
    *_, final = backend.ask("Until when is the new library open for study?")
    answer = final.answer
    assert answer.citations[0].passage.url == newsroom.url("/news/library-opens.html")
    [report] = backend.overview().feeds
    assert (report.title, report.new, report.errors) == ("Valley Herald", 2, [])
    panel = render.overview_html(backend.overview())
    assert "Valley Herald" in panel and "2 new, 0 changed, 2 entries" in panel


def test_a_canonical_url_on_another_site_is_not_taken():
    original = "https://harbor.example/news/ferry-strike"
    copy = article_page("Ferry workers strike", "Coastal Courier", "2024-09-03T08:30:00Z",
                        "Ann Lee", FERRY, canonical=original)
    fetched = "https://coastal.example/wire/ferry-strike"
    assert from_html(copy, fetched, url=fetched).url == fetched
    own = copy.replace(original, "https://www.coastal.example/wire/ferry")
    assert from_html(own, fetched, url=fetched).url == "https://www.coastal.example/wire/ferry"


def test_what_is_not_an_article_page_or_a_feed_is_named(site):
    site.add("/report.pdf", b"%PDF-1.4 binary", content_type="application/pdf")
    site.add("/index.html", "<html><body><p>Latest news</p></body></html>")
    with make_fetcher(None) as fetcher:
        loader = WebLoader(fetcher)
        [pdf] = loader.load([site.url("/report.pdf")])
        assert pdf.reason == "not an HTML page (application/pdf)"
        assert loader.feed(site.url("/index.html")).reason == "not an RSS or Atom feed (text/html)"

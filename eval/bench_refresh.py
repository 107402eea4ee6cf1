"""What keeping the index fresh costs: `newscite watch` against news sites on 127.0.0.1.

Serves SITES local news sites (each its own host: its own port), each with one RSS feed of
ENTRIES article pages of about 450 words, and refreshes them into a fresh index:
- the first refresh, with no delay between requests to a host and with the default
  politeness (fetch_per_host_delay = 1 s): requests, bytes, seconds, articles per minute
  (fetching, extracting, chunking, embedding and committing included);
- a refresh when nothing changed: what each unchanged feed costs;
- a refresh after one feed gained one entry.
Bytes are counted on the wire, both ways (request and answer, headers included).

Run from the repository root (it borrows the tests' local news server):

    .venv/bin/python -m newscite.eval.bench_refresh
"""

from __future__ import annotations

import logging
import random
import statistics
import tempfile
import time
from pathlib import Path

from newscite import factory
from newscite.config import Config
from newscite.index.fetch import Fetcher
from newscite.index.loaders.web import WebLoader
from newscite.index.watch import Watcher

from tests.index.conftest import NewsSite, article_page, rss

SITES = 4
ENTRIES = 25
WORDS = Path(__file__).resolve().parents[1].joinpath(
    "seeds", "nato-ukraine-membership.md").read_text().split()


def add_stories(site: NewsSite, number: int, entries: range, rng: random.Random) -> None:
    """Serve article pages `entries` on site `number`, and a feed listing all its pages."""
    outlet = f"Site {number} News"
    for entry in entries:
        path = f"/news/{entry}.html"
        paragraphs = [" ".join(rng.choices(WORDS, k=75)) + "." for _ in range(6)]
        site.add(path, article_page(f"Story {entry} of {outlet}", outlet, "2024-09-03T08:30:00Z",
                                    "Ann Lee", paragraphs, canonical=site.url(path)))
    items = [{"title": path, "link": site.url(path)} for path in site.routes
             if path.startswith("/news/")]
    site.add("/feed.rss", rss(outlet, items), content_type="application/rss+xml")


class TimedIngest:
    """The index's ingest, timed: fetching and extracting is the rest of a refresh."""

    def __init__(self, ingest):
        self.ingest, self.seconds = ingest, 0.0

    def __call__(self, articles, sources):
        started = time.perf_counter()
        try:
            return self.ingest(articles, sources)
        finally:
            self.seconds += time.perf_counter() - started


def refresh(watcher: Watcher, sites: list[NewsSite]) -> tuple[float, float, int, int]:
    """(seconds, of which ingesting, requests, bytes on the wire) of one refresh."""
    for site in sites:
        site.forget()
    watcher.ingest.seconds = 0.0
    started = time.perf_counter()
    watcher.refresh_once()
    seconds = time.perf_counter() - started
    hits = [hit for site in sites for hit in site.hits]
    return seconds, watcher.ingest.seconds, len(hits), sum(hit.wire for hit in hits)


def watcher_for(folder: Path, sites: list[NewsSite], delay: float, ingest) -> Watcher:
    folder.mkdir()
    feed_list = folder / "feeds.txt"
    feed_list.write_text("".join(site.url("/feed.rss") + "\n" for site in sites))
    fetcher = Fetcher(folder / "fetch-cache.sqlite", user_agent="newscite-bench/1.0",
                      per_host_delay=delay, private_hosts={"127.0.0.1"})
    return Watcher(feed_list, WebLoader(fetcher), ingest, folder / "feeds.json")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(7)
    sites = [NewsSite() for _ in range(SITES)]
    for number, site in enumerate(sites):
        add_stories(site, number, range(ENTRIES), rng)
    articles = SITES * ENTRIES
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        config = Config.load({"index": str(Path(folder) / "idx")}, environ={})
        embedder = factory.make_embedder(config)
        embedder.embed(["warm up"])
        watchers = {}
        for delay in (1.0, 0.0):
            config = config.with_(index=str(Path(folder) / f"idx-{delay:g}"))
            ingest = TimedIngest(factory.make_batch_ingest(config, embedder))
            watchers[delay] = watcher = watcher_for(Path(folder) / f"state-{delay:g}", sites,
                                                    delay, ingest)
            seconds, ingesting, requests, wire = refresh(watcher, sites)
            rows.append((f"first, {articles} articles, per-host delay {delay:g} s", requests,
                         wire, seconds, ingesting, f"{articles / seconds * 60:.0f}"))
        # Back to back, the 1 s delay would only measure itself: refreshes are minutes apart.
        watcher = watchers[0.0]
        unchanged = [refresh(watcher, sites) for _ in range(5)]
        seconds = statistics.median(run[0] for run in unchanged)
        _, ingesting, requests, wire = unchanged[-1]
        rows.append((f"nothing changed, {SITES} feeds (median of 5)", requests, wire, seconds,
                     ingesting, "-"))
        rows.append(("nothing changed, per feed", requests / SITES, wire / SITES,
                     seconds / SITES, ingesting, "-"))
        add_stories(sites[0], 0, range(ENTRIES, ENTRIES + 1), rng)
        seconds, ingesting, requests, wire = refresh(watcher, sites)
        rows.append(("one feed gained one entry", requests, wire, seconds, ingesting, "-"))
    for site in sites:
        site.close()
    print(f"{'refresh':<44} {'requests':>8} {'bytes':>9} {'seconds':>8} {'ingesting':>9} "
          f"{'articles/min':>12}")
    for name, requests, wire, seconds, ingesting, rate in rows:
        print(f"{name:<44} {requests:>8g} {wire:>9,.0f} {seconds:>8.3f} {ingesting:>9.3f} "
              f"{rate:>12}")


if __name__ == "__main__":
    main()

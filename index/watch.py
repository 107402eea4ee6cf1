"""Keep the index fresh: refresh a list of RSS/Atom feeds on a schedule.

`read_feed_list(path)` reads the list: a text file (one URL a line, `#` comments) or an
OPML file (every outline's xmlUrl). `Watcher.refresh_once()` fetches every feed (an
unchanged one costs one small conditional request), fetches the pages of new and edited
entries only, ingests them in one batch and returns a `FeedReport` per feed.
`Watcher.run(every)` refreshes, waits, and repeats until stopped or interrupted (Ctrl-C);
the feed list is read again before each refresh, so feeds can be added while it runs.

What is already in the index (each feed's entries, by the version of the entry the feed
showed) and each feed's last report are kept in `<index>/feeds.json`, so a restart does
not fetch everything again and the chat's index panel can show each feed's state. Only
ingested entries are recorded: a failed feed or page is reported once per refresh with
its URL and the reason, and is tried again on the next refresh.

Example:
    >>> watcher = Watcher(Path("feeds.txt"), WebLoader(fetcher), ingest,
    ...                   Path("idx") / STATE_NAME)
    >>> for report in watcher.refresh_once():
    ...     print(report)
    Harbor Gazette: 3 new, 1 changed (12 entries); 1 failed
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import lxml.etree

from newscite.index.loaders.web import Entry, WebLoader
from newscite.types import Article, IngestSummary, Rejection

log = logging.getLogger(__name__)

STATE_NAME = "feeds.json"
_OPML = re.compile(rb"<opml[\s>]", re.IGNORECASE)

# Adds articles to the index; `sources` names the feeds, for the index's log of runs.
Ingest = Callable[[list[Article], list[str]], IngestSummary]


@dataclass
class FeedReport:
    """What one refresh did for one feed: every failure (URL: reason), and how many of the
    entries the feed added (`new`) or edited (`changed`) since the last refresh were read
    into the index."""

    url: str
    title: str | None = None
    refreshed_at: datetime | None = None
    entries: int = 0
    new: int = 0
    changed: int = 0
    not_modified: bool = False
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        seen = "not modified" if self.not_modified else f"{self.entries} entries"
        failed = f"; {len(self.errors)} failed" if self.errors else ""
        return f"{self.title or self.url}: {self.new} new, {self.changed} changed ({seen}){failed}"

    def to_json(self) -> dict:
        return {**asdict(self), "refreshed_at": self.refreshed_at.isoformat()
                if self.refreshed_at else None}

    @classmethod
    def from_json(cls, data: dict) -> FeedReport:
        refreshed = data.get("refreshed_at")
        return cls(**{**data, "refreshed_at": datetime.fromisoformat(refreshed)
                      if refreshed else None})


def read_feed_list(path: Path) -> list[str]:
    """The feed URLs in a text or OPML file, in order, each once.

    Raises ValueError naming the file (and line) of anything that is not an http(s) URL,
    and OSError when the file cannot be read.
    """
    data = path.read_bytes()
    if _OPML.search(data[:4096]):
        urls = _opml_urls(data, path)
    else:
        urls = []
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            line = line.strip()
            if line and not line.startswith("#"):
                urls.append((line, f"{path}, line {number}"))
    for url, where in urls:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError(f"{where}: {url!r} is not an http or https URL")
    if not urls:
        raise ValueError(f"{path}: no feed URLs (write one URL a line, or give an OPML file)")
    return list(dict.fromkeys(url for url, _ in urls))


def _opml_urls(data: bytes, path: Path) -> list[tuple[str, str]]:
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = lxml.etree.fromstring(data, parser=parser)
    except lxml.etree.XMLSyntaxError as error:
        raise ValueError(f"{path}: not valid OPML: {error}") from None
    return [(outline.get("xmlUrl").strip(), f"{path}, outline {outline.get('text') or ''!r}")
            for outline in root.iter("outline") if outline.get("xmlUrl")]


def read_reports(state_path: Path) -> list[FeedReport]:
    """Each feed's last report, as the watcher left them in `state_path` ([] if none)."""
    try:
        feeds = json.loads(state_path.read_text(encoding="utf-8"))["feeds"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError) as error:
        log.warning("%s cannot be read (%s); no feed reports to show", state_path, error)
        return []
    return [FeedReport.from_json(feed["report"]) for feed in feeds.values()]


class Watcher:
    """Refreshes the feeds listed in `feed_list` into the index (see the module docstring).

    `ingest` adds a batch of articles to the index and returns its summary; `state_path`
    is where what has been ingested is remembered (normally `<index>/feeds.json`).
    """

    def __init__(self, feed_list: Path, loader: WebLoader, ingest: Ingest, state_path: Path):
        self.feed_list = feed_list
        self.loader = loader
        self.ingest = ingest
        self.state_path = state_path
        self.feeds = read_feed_list(feed_list)
        self._state = self._load_state()

    def run(self, every: float, stop: threading.Event | None = None) -> None:
        """Refresh now and every `every` seconds after, until `stop` is set or Ctrl-C."""
        stop = stop or threading.Event()
        log.info("watching %d feeds from %s, refreshing every %g s", len(self.feeds),
                 self.feed_list, every)
        try:
            while not stop.is_set():
                try:
                    self.refresh_once()
                except Exception:  # noqa: BLE001 - a long-running watch outlives one bad refresh
                    log.exception("the refresh failed; trying again in %g s", every)
                stop.wait(every)
        except KeyboardInterrupt:
            log.info("stopped watching; everything ingested so far is kept")

    def refresh_once(self) -> list[FeedReport]:
        """Fetch every feed, ingest new and edited entries, and report on each feed."""
        self._reread_feed_list()
        now = datetime.now(timezone.utc)
        reports = {url: FeedReport(url, refreshed_at=now) for url in self.feeds}
        wanted: list[Entry] = []  # new or edited entries, from every feed
        kept: dict[str, dict[str, str]] = {}  # feed -> link -> version still ingested
        for url, feed in zip(self.feeds, self.loader.feeds(self.feeds)):
            report = reports[url]
            if isinstance(feed, Rejection):
                report.errors.append(_failure(feed))
                continue
            report.title, report.entries = feed.title, len(feed.entries)
            report.not_modified = feed.from_cache
            report.errors += [_failure(rejection) for rejection in feed.rejections]
            ingested = self._ingested(url)
            kept[url] = {entry.link: ingested[entry.link] for entry in feed.entries
                         if entry.link in ingested}
            wanted += [entry for entry in feed.entries if ingested.get(entry.link) != entry.version]

        loaded = self._load_pages(wanted, reports)
        if loaded:
            try:
                self.ingest(list(loaded.values()), list(self.feeds))
            except Exception as error:  # noqa: BLE001 - e.g. the index is busy: retried next time
                log.warning("the new articles could not be ingested: %s", error)
                for link, article in loaded.items():
                    reports[article.feed].errors.append(f"{link}: not ingested ({error})")
                loaded = {}
        for entry in wanted:
            if entry.link in loaded:
                report = reports[entry.feed]
                if entry.link in self._ingested(entry.feed):
                    report.changed += 1
                else:
                    report.new += 1
                kept[entry.feed][entry.link] = entry.version
        self._save_state(reports, kept)
        for report in reports.values():
            log.info("%s", report)
            for error in report.errors:
                log.warning("%s", error)
        return list(reports.values())

    def _load_pages(self, wanted: Sequence[Entry],
                    reports: dict[str, FeedReport]) -> dict[str, Article]:
        """Fetch each wanted page once (two feeds may list one page): link -> article.
        Failures go to the report of the first feed that listed the page."""
        first: dict[str, Entry] = {}
        for entry in wanted:
            first.setdefault(entry.link, entry)
        loaded = {}
        for entry, result in zip(first.values(), self.loader.articles(list(first.values()))):
            if isinstance(result, Rejection):
                reports[entry.feed].errors.append(_failure(result))
            else:
                loaded[entry.link] = result
        return loaded

    def _reread_feed_list(self) -> None:
        try:
            self.feeds = read_feed_list(self.feed_list)
        except (OSError, ValueError) as error:
            log.warning("the feed list cannot be read (%s); refreshing the %d feeds read "
                        "before", error, len(self.feeds))

    # ---- state ---------------------------------------------------------------------------

    def _ingested(self, feed: str) -> dict[str, str]:
        return self._state.get(feed, {}).get("ingested", {})

    def _load_state(self) -> dict[str, dict]:
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))["feeds"]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError) as error:
            log.warning("%s cannot be read (%s); starting afresh: the feeds' pages are asked "
                        "for again (unchanged ones cost a small request)", self.state_path, error)
            return {}

    def _save_state(self, reports: dict[str, FeedReport], kept: dict[str, dict[str, str]]) -> None:
        """Record each listed feed's report and ingested entries; written atomically."""
        self._state = {url: {"report": report.to_json(),
                             "ingested": kept.get(url, self._ingested(url))}
                       for url, report in reports.items()}
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        temporary.write_text(json.dumps({"feeds": self._state}, indent=1), encoding="utf-8")
        os.replace(temporary, self.state_path)


def _failure(rejection: Rejection) -> str:
    """'URL: reason': one line per failure, as reported."""
    return f"{rejection.origin}: {rejection.reason}"

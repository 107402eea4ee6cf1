"""How the catalog's rows map to newscite's objects, and the per-chunk table filters use.

Example:
    >>> table = ChunkTable.read(db)
    >>> table.allowed(Filters(sources=("The Verge",)))  # a boolean mask over table.ids
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

import numpy as np

from newscite.types import Article, Coverage, Filters, Passage


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """What ingestion needs to know about an article already in the index (a writer holds
    one per stored article: slots, no per-object dict)."""

    id: str
    fingerprint: str
    content_hash: str
    minhash: bytes | None


def content_hash(article: Article) -> str:
    """Changes whenever anything that is indexed about the article changes."""
    date = article.published_at.isoformat() if article.published_at else ""
    key = "\x1f".join((article.title, article.source or "", date, article.url or "",
                       article.body))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _date(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def coverage_json(coverage: tuple[Coverage, ...]) -> str:
    return json.dumps([{"source": c.source, "url": c.url, "published_at": iso(c.published_at)}
                       for c in coverage])


def coverage_from_json(text: str) -> tuple[Coverage, ...]:
    return tuple(Coverage(c["source"], c["url"], _date(c["published_at"]))
                 for c in json.loads(text))


def article_values(article: Article, minhash: bytes | None) -> tuple:
    """The `articles` row of an article, in the table's column order."""
    return (article.id, article.title, article.body, article.source, iso(article.published_at),
            article.url, json.dumps(list(article.authors)), article.category,
            coverage_json(article.also_reported_by), article.origin, article.fingerprint,
            content_hash(article), minhash, article.feed)


def article_from_row(row: sqlite3.Row) -> Article:
    return Article(id=row["id"], title=row["title"], body=row["body"], source=row["source"],
                   published_at=_date(row["published_at"]), url=row["url"],
                   authors=tuple(json.loads(row["authors"])), category=row["category"],
                   also_reported_by=coverage_from_json(row["also_reported_by"]),
                   origin=row["origin"], feed=row["feed"] if "feed" in row.keys() else None)


def passage_from_row(row: sqlite3.Row) -> Passage:
    """A passage from a chunk joined with its article (see `Catalog.passages`)."""
    return Passage(chunk_id=row["id"], article_id=row["article_id"], title=row["title"],
                   source=row["source"], published_at=_date(row["published_at"]),
                   url=row["url"], text=row["text"], start=row["start"], end=row["end"],
                   also_reported_by=coverage_from_json(row["also_reported_by"]))


READ_BATCH = 50_000  # chunk rows fetched at a time: few Python objects alive at once


def _chunk_batches(db: sqlite3.Connection, after: int) -> Iterator[tuple[list, list, list]]:
    """(chunk ids, outlets, dates as stored) of the chunks with ids above `after`, a batch at
    a time, in no particular order. All of them (`after` 0: opening an index): the chunks'
    ids and articles from their index (a chunk's row holds its 1.5 KB vector, so scanning
    the table reads the whole file) and each article's outlet and date once. A few new
    ones: joined, from their rows."""
    if after:
        cursor = db.execute("SELECT c.id, a.source, a.published_at FROM chunks c JOIN articles "
                            "a ON a.id = c.article_id WHERE c.id > ?", (after,))
        while rows := cursor.fetchmany(READ_BATCH):
            yield tuple(map(list, zip(*rows)))
        return
    articles = {row[0]: (row[1], row[2]) for row in db.execute(
        "SELECT id, source, published_at FROM articles")}
    cursor = db.execute("SELECT id, article_id FROM chunks")  # its covering index
    while rows := cursor.fetchmany(READ_BATCH):
        found = [(chunk_id, *articles[article_id]) for chunk_id, article_id in rows
                 if article_id in articles]  # as the join: a chunk without article is left out
        if found:
            yield tuple(map(list, zip(*found)))


@dataclass(frozen=True)
class ChunkTable:
    """Each chunk's outlet and date, in chunk-id order, held in memory so that outlet and
    date filters become a boolean mask without a query (integer outlet codes: comparing
    strings per chunk was the slow part of a filtered search)."""

    ids: np.ndarray  # int64, ascending
    source_names: np.ndarray  # casefolded outlets, in the order first seen
    sources: np.ndarray  # per chunk: its outlet's index in source_names
    dates: np.ndarray  # per chunk: publication time in POSIX seconds, NaN when unknown

    @classmethod
    def read(cls, db: sqlite3.Connection, after: int = 0) -> ChunkTable:
        """The chunks with ids above `after` (all by default), from the database, read
        `READ_BATCH` rows at a time into compact arrays (never a Python row per chunk)."""
        outlets: dict[str, int] = {}  # casefolded outlet -> code, in the order first seen
        ids, codes, dates = [], [], []
        for batch_ids, sources, published in _chunk_batches(db, after):
            code_of = {raw: outlets.setdefault((raw or "").casefold(), len(outlets))
                       for raw in set(sources)}
            date_of = {raw: datetime.fromisoformat(raw).timestamp() if raw else np.nan
                       for raw in set(published)}
            ids.append(np.asarray(batch_ids, dtype=np.int64))
            codes.append(np.fromiter(map(code_of.__getitem__, sources), np.int32, len(sources)))
            dates.append(np.fromiter(map(date_of.__getitem__, published), np.float64,
                                     len(published)))
        ids_, codes_, dates_ = (np.concatenate(parts) if parts else np.zeros(0, dtype)
                                for parts, dtype in ((ids, np.int64), (codes, np.int32),
                                                     (dates, np.float64)))
        order = np.argsort(ids_, kind="stable")
        # outlets' codes in sorted order, as numpy's unique gives them
        names = np.asarray(list(outlets), dtype=str)
        by_name = np.argsort(names, kind="stable")
        rank = np.empty(len(names), dtype=np.int32)
        rank[by_name] = np.arange(len(names), dtype=np.int32)
        return cls(ids_[order], names[by_name], rank[codes_[order]], dates_[order])

    def appended(self, db: sqlite3.Connection) -> ChunkTable:
        """This table with the chunks committed since it was read (ids above its last):
        reads only the new rows, whatever the size of the index."""
        new = ChunkTable.read(db, int(self.ids[-1]) if len(self.ids) else 0)
        if not len(new.ids):
            return self
        names = list(self.source_names)
        known = {name: code for code, name in enumerate(names)}
        for name in new.source_names:  # outlets are appended: no existing code changes
            known.setdefault(name, len(known))
        codes = np.asarray([known[name] for name in new.source_names], dtype=np.int32)
        return ChunkTable(np.concatenate([self.ids, new.ids]),
                          np.asarray(list(known), dtype=str),
                          np.concatenate([self.sources, codes[new.sources]]).astype(np.int32),
                          np.concatenate([self.dates, new.dates]))

    def without(self, chunk_ids: list[int]) -> ChunkTable:
        """This table less the chunks `chunk_ids` (deleted ones)."""
        if not chunk_ids:
            return self
        keep = ~np.isin(self.ids, np.asarray(chunk_ids, dtype=np.int64))
        return ChunkTable(self.ids[keep], self.source_names, self.sources[keep],
                          self.dates[keep])

    def allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Boolean mask over chunks (in id order) that pass `filters`; None when unfiltered.
        An article of unknown date fails any date bound."""
        if filters is None or filters.is_empty:
            return None
        mask = np.ones(len(self.ids), dtype=bool)
        if filters.sources:
            wanted = np.flatnonzero(np.isin(self.source_names,
                                            [s.casefold() for s in filters.sources]))
            mask &= np.isin(self.sources, wanted)
        if filters.since is not None:
            mask &= self.dates >= filters.since.timestamp()
        if filters.until is not None:
            mask &= self.dates <= filters.until.timestamp()
        return mask

    def dates_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Publication time (POSIX seconds, NaN when unknown) of each chunk's article."""
        return self.dates[np.searchsorted(self.ids, chunk_ids)]

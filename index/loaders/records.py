"""Turn one record (a dict, as read from JSON) into an `Article`, or a `Rejection` saying why.

Every loader ends here: JSON records as they are, and text front matter, HTML metadata and
feed entries as dicts with our own field names. So field aliases, date rules and size
limits are the same for every format.

Example:
    >>> from_record({"headline": "Fed holds rates", "text": "The Fed held ...",
    ...              "pubDate": "2023-11-01T14:00:00-04:00"}, "news.json#record 1").published_at
    datetime.datetime(2023, 11, 1, 18, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from dateutil import parser as dateparser

from newscite.index.clean import clean_text, clean_title
from newscite.types import Article, Rejection, as_utc

logger = logging.getLogger(__name__)

MAX_CHARS = 2_000_000

# Our field -> the names other datasets use for it, tried in this order. Names match
# ignoring case and punctuation, so "pubDate", "pub_date" and "PUBDATE" are one name.
FIELDS: dict[str, tuple[str, ...]] = {
    "body": ("body", "text", "content", "article", "maintext"),
    "title": ("title", "headline"),
    "published_at": ("published_at", "publish_date", "published", "date", "pubDate",
                     "datetime", "time", "date_publish"),
    "source": ("source", "outlet", "publisher", "site", "sitename", "source_domain"),
    "url": ("url", "link", "canonical_url"),
    "authors": ("authors", "author", "byline"),
    "category": ("category", "section"),
}

TITLE_WIDTH = 120
_MISSING = {"", "none", "null"}
_AUTHOR_SEPARATORS = re.compile(r"\s*[,;]\s*|\s+(?:and|&)\s+", re.IGNORECASE)
_BYLINE_PREFIX = re.compile(r"^by\b:?\s*", re.IGNORECASE)
# Missing date parts default to year 1, which the plausibility check then refuses: a bare
# "10:30" or "Tuesday" must not become a date. A missing day or month becomes the 1st.
_NO_YEAR = datetime(1, 1, 1)
_EARLIEST = datetime(1800, 1, 1, tzinfo=timezone.utc)
_FUTURE_SLACK = timedelta(days=2)
# The zone names RFC 822 allows in RSS dates; dateutil knows only UTC/GMT by itself.
_ZONES = {name: hours * 3600 for name, hours in {
    "UT": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7}.items()}
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number",
               float: "a number", bool: "true/false", type(None): "null"}


def check_field_map(field_map: Mapping[str, str] | None) -> None:
    """Raise ValueError for a field_map key that is not one of our field names."""
    unknown = set(field_map or {}) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) in field_map: {', '.join(sorted(unknown))}; "
                         f"known fields are {', '.join(FIELDS)}")


def from_record(record: object, origin: str, field_map: Mapping[str, str] | None = None,
                max_chars: int = MAX_CHARS) -> Article | Rejection:
    """One record to an article. `field_map` (our name -> their name) wins over the aliases.

    Never raises on a record's content: anything unusable is a `Rejection`, and a date
    that cannot be trusted is dropped with a logged warning (the article keeps no date).
    """
    if not isinstance(record, dict):
        got = _JSON_TYPES.get(type(record), "a value")
        return Rejection(origin, f"not an article object (got {got})",
                         hint="each record must be a JSON object with at least a 'body' field")
    by_key: dict[str, object] = {}
    for key, value in record.items():
        by_key.setdefault(_key(str(key)), value)

    def field(name: str) -> object:
        names = ((field_map[name],) if field_map and name in field_map else ()) + FIELDS[name]
        for alias in names:
            value = by_key.get(_key(alias))
            if not _is_missing(value):
                return value
        return None

    raw_body = _text(field("body"))
    if raw_body is None:
        return Rejection(origin, "no article text", hint="add a 'body' (or text/content) field")
    if len(raw_body) > max_chars:
        return Rejection(origin, f"article text too long ({len(raw_body):,} characters; "
                                 f"the limit is {max_chars:,})",
                         hint="split the article into smaller parts")
    body = clean_text(raw_body)
    if not body:
        return Rejection(origin, "no article text", hint="add a 'body' (or text/content) field")

    title = _clean_optional(field("title"))
    return Article.create(
        title=title or _shorten(body.split("\n", 1)[0]),
        body=body,
        source=_clean_optional(field("source")),
        published_at=_date(field("published_at"), origin),
        url=_clean_optional(field("url")),
        authors=_authors(field("authors")),
        category=_clean_optional(field("category")),
        origin=origin,
    )


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _is_missing(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _MISSING
    return value is None or value == [] or value == {}


def _scalar_text(value: object) -> str | None:
    """Text of a string or number, or of a {"name": ...} object (NewsAPI's `source`)."""
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, bool) or _is_missing(value):
        return None
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _text(value: object) -> str | None:
    """Text of a value; a list of strings (paragraphs) is joined with blank lines."""
    if isinstance(value, list):
        parts = [part for part in map(_scalar_text, value) if part is not None]
        return "\n\n".join(parts) if parts else None
    return _scalar_text(value)


def _clean_optional(value: object) -> str | None:
    text = _text(value)
    if text is None:
        return None
    return clean_title(text) or None


def _shorten(line: str, width: int = TITLE_WIDTH) -> str:
    """A title from the body's first line: cut at a word boundary near `width` characters."""
    line = clean_title(line)
    if len(line) <= width:
        return line
    cut = line[:width + 1].rsplit(" ", 1)[0] if " " in line[:width + 1] else line[:width]
    return cut.rstrip(" ,;:-") + "…"


def _authors(value: object) -> tuple[str, ...]:
    """Authors from a list, or from a byline string like "By Ann Lee and Bo Chan"."""
    if isinstance(value, list):
        names = [_scalar_text(item) for item in value]
    else:
        byline = _scalar_text(value)
        names = _AUTHOR_SEPARATORS.split(_BYLINE_PREFIX.sub("", byline.strip())) if byline else []
    cleaned = (clean_title(name) for name in names if name is not None)
    return tuple(dict.fromkeys(name for name in cleaned if not _is_missing(name)))


def _date(value: object, origin: str) -> datetime | None:
    """A UTC publication date, or None when absent, not understood or implausible."""
    if _is_missing(value):
        return None
    try:
        parsed = _parse_date(value)
        date = as_utc(parsed) if parsed.year >= _EARLIEST.year else None
    except (ValueError, OverflowError, OSError):
        logger.warning("%s: date %.80r not understood; loaded with date unknown", origin, value)
        return None
    if date is None or not _EARLIEST <= date <= datetime.now(timezone.utc) + _FUTURE_SLACK:
        logger.warning("%s: date %.80r is implausible; loaded with date unknown", origin, value)
        return None
    return date


def _parse_date(value: object) -> datetime:
    """A datetime from a string, a Unix timestamp (seconds or milliseconds) or a datetime."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    if isinstance(value, str):
        return dateparser.parse(value, default=_NO_YEAR, tzinfos=_ZONES)
    raise ValueError(f"{_JSON_TYPES.get(type(value), 'this value')} is not a date")

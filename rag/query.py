"""Understanding a news question without an LLM: outlets, dates and clauses.

News questions name who reported ("as reported by The Verge and TechCrunch") and when
("on October 6, 2023", "last week", "latest"). `QueryParser.run` turns the question into a
`Query`:
- `sources`: outlets of the index named in the question, matched through their names and
  common aliases ("Cnbc | World Business News Leader" answers to "Cnbc" and "CNBC");
- `dates`: calendar days named in the question (a ranking bonus, not a filter: "the report
  published before October 1" still wants articles near that day);
- `since`/`until`: a hard range from relative expressions ("last week", "yesterday",
  "this month", "in the past 3 days"), relative to the reference date;
- `recency`: a preference for the newest articles ("latest", "most recent"), never used
  when the question names a date;
- `clauses`: the question cut at commas and conjunctions, each scored on its own by the
  retriever, so that a multi-part question finds the evidence of every part.

Example:
    >>> parser = QueryParser(["The Verge", "TechCrunch"], reference_date=datetime(2023, 12, 25))
    >>> q = parser.run("Did The Verge report on Apple last week?")
    >>> q.sources, q.since.date()
    (('The Verge',), datetime.date(2023, 12, 18))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
from dateutil import parser as dateparser

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_DAY = re.compile(rf"\b(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b"
                  rf"|\b\d{{1,2}}(?:st|nd|rd|th)? (?:{_MONTHS}),? \d{{4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b")
_MONTH = re.compile(rf"\b(?:in|during|throughout|of) ((?:{_MONTHS}) \d{{4}})\b")
_CLAUSE_SPLIT = re.compile(r",|;|\?|\bwhile\b|\bwhereas\b|\band (?:the|a|an|that|which|who)\b|"
                           r"\bwhich\b|\bwho\b|\bafter\b|\bbefore\b|\bcompared to\b", re.I)
_RECENCY = re.compile(r"\b(latest|most recent|newest|recently|recent)\b", re.I)
_RELATIVE = [
    (re.compile(r"\btoday\b", re.I), 0),
    (re.compile(r"\byesterday\b", re.I), 1),
    (re.compile(r"\b(?:last|past|this) week\b", re.I), 7),
    (re.compile(r"\b(?:last|past) month\b", re.I), 31),
    (re.compile(r"\bthis month\b", re.I), None),
]
_PAST_N = re.compile(r"\b(?:last|past) (\d{1,3}) (day|week|month)s?\b", re.I)

# Common short names for outlets; the key is matched, the value must be part of the outlet.
ALIASES = {
    "NYT": "new york times", "FT": "financial times", "WSJ": "wall street journal",
    "SMH": "sydney morning herald", "CBS Sports": "cbssports", "Fox News": "fox news",
    "BBC": "bbc news", "The Independent": "the independent", "AP": "associated press",
    "CNBC": "cnbc", "Reuters": "reuters", "Guardian": "the guardian",
}


@dataclass(frozen=True)
class Query:
    """A question with what it says about outlets, dates and its parts (see the module)."""

    text: str
    sources: tuple[str, ...] = ()
    dates: tuple[date, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    recency: bool = False
    clauses: tuple[str, ...] = ()
    reference_date: datetime | None = None
    # The question's embedding (`Retriever.understand(..., embed=True)`), which retrieval and
    # the answerer share: one question, one embedding.
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    # One vector per clause, pooled from the question's own run (`Retriever.embedded`; None:
    # not embedded, no clauses, or the clause part is off).
    clause_vectors: np.ndarray | None = field(default=None, repr=False, compare=False)


def outlet_aliases(outlet: str) -> set[str]:
    """Names a question may use for `outlet`: the full name, its head before a separator
    ("Cnbc | World ..." -> "Cnbc"), without a leading "The", and upper-case short forms."""
    names = {outlet}
    head = re.split(r"\s+[|:\-–]\s+|:\s", outlet)[0].strip()
    if head and head != outlet:
        names.add(head)
    for name in list(names):
        if name.startswith("The ") and len(name) > 8:
            names.add(name[4:])
        if " " not in name and len(name) <= 6:
            names.add(name.upper())
    if outlet.endswith(".com"):
        names.add(outlet[:-4])
    return {n for n in names if len(n) >= 2}


@dataclass
class _OutletMatcher:
    outlets: list[str]
    patterns: list[tuple[re.Pattern, tuple[str, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        by_alias: dict[str, set[str]] = {}
        for outlet in self.outlets:
            for alias in outlet_aliases(outlet):
                by_alias.setdefault(alias, set()).add(outlet)
        for alias, target in ALIASES.items():
            matches = {o for o in self.outlets if target in o.casefold()}
            if matches and alias not in by_alias:
                by_alias[alias] = matches
        # longest names first, so "The Independent - Sports" wins over "The Independent"
        for alias in sorted(by_alias, key=len, reverse=True):
            pattern = re.compile(rf"(?<![\w]){re.escape(alias)}(?![\w])")
            self.patterns.append((pattern, tuple(sorted(by_alias[alias]))))

    def run(self, text: str) -> tuple[str, ...]:
        """Outlets named in `text`, in order of appearance; longer names win overlaps."""
        found: list[tuple[int, tuple[str, ...]]] = []
        taken = [False] * len(text)
        for pattern, outlets in self.patterns:
            for match in pattern.finditer(text):
                if any(taken[match.start():match.end()]):
                    continue
                taken[match.start():match.end()] = [True] * (match.end() - match.start())
                found.append((match.start(), outlets))
        return tuple(dict.fromkeys(o for _, outlets in sorted(found) for o in outlets))


def _parse_day(text: str) -> date | None:
    try:
        return dateparser.parse(re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)).date()
    except (ValueError, OverflowError):
        return None


class QueryParser:
    """Turns question text into a `Query` for the outlets of one index (see the module)."""

    def __init__(self, outlets: list[str], reference_date: datetime | None = None):
        self.matcher = _OutletMatcher(list(outlets))
        self.reference_date = reference_date

    def run(self, text: str, reference_date: datetime | None = None) -> Query:
        reference = reference_date or self.reference_date or datetime.now(timezone.utc)
        days = tuple(dict.fromkeys(d for d in map(_parse_day, _DAY.findall(text)) if d))
        since, until = self._range(text, reference, bool(days))
        clauses = tuple(c.strip() for c in _CLAUSE_SPLIT.split(text)
                        if c and len(c.split()) >= 3)
        return Query(text=text, sources=self.matcher.run(text), dates=days, since=since,
                     until=until, recency=not days and since is None and
                     bool(_RECENCY.search(text)),
                     clauses=clauses if len(clauses) > 1 else (), reference_date=reference)

    @staticmethod
    def _range(text: str, reference: datetime, names_a_day: bool
               ) -> tuple[datetime | None, datetime | None]:
        end = datetime.combine(reference.date(), time.max, tzinfo=timezone.utc)
        month = _MONTH.search(text)
        if month and not names_a_day:
            first = dateparser.parse("1 " + month.group(1)).replace(tzinfo=timezone.utc)
            following = (first + timedelta(days=32)).replace(day=1)
            return first, following - timedelta(microseconds=1)
        if names_a_day:
            return None, None
        match = _PAST_N.search(text)
        if match:
            unit = {"day": 1, "week": 7, "month": 31}[match.group(2).lower()]
            start = reference.date() - timedelta(days=int(match.group(1)) * unit)
            return datetime.combine(start, time.min, tzinfo=timezone.utc), end
        for pattern, days in _RELATIVE:
            if pattern.search(text):
                start = reference.date().replace(day=1) if days is None else \
                    reference.date() - timedelta(days=days)
                return datetime.combine(start, time.min, tzinfo=timezone.utc), end
        return None, None

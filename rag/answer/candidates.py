"""Typed answer candidates found in the best sentences: names (people, organisations),
numbers with their unit, scores, dates, and outlets.

Finding candidates is rule-based (no NER model ships offline): a name is a run of
capitalised words (with "of", "de", "&" inside), cut at possessives and stripped of
titles; a number keeps its currency, scale and the word it counts ("5 goals", "$14
billion"); a date is what dateutil reads as one ("November 9, 2023", "Tuesday") or a day
the news names by its own date ("yesterday", "this month"; `resolved_date` says which);
an outlet is the source of a passage; capitalised common words of a heading are no name.
Which candidate answers is decided elsewhere
(`rag.answer.features`, `rag.answer.model`), from how well its sentences match the
question, never from its capital letters.

Example:
    >>> [c.text for c in find_candidates(ranked, passages, top=3)]
    ['Emma Hayes', 'Chelsea', 'Olympics']
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dateutil import parser as dateparser

from newscite.rag.answer.questions import Kind
from newscite.rag.answer.sentences import Sentence
from newscite.types import Passage

_CONNECTOR = r"(?:of|de|del|da|van|von|der|la|le|bin|al|&|and)"
# A capitalised word, or initials ("U.S.", "George W. Bush"); a full stop after a word ends
# the name, so that a name never runs across the end of a sentence ("... of Alameda. Sam").
_CAP_WORD = r"(?:[A-Z]\.(?:[A-Z]\.)*|[A-Z][\w’'\-]*(?![\w’'\-]))"
# Words of a name are spaced on one line: a name never runs across a line break (a headline
# ending in "Microsoft" above a paragraph opening with "Sam Altman").
_NAME = re.compile(rf"(?<![\w’'])({_CAP_WORD}(?:[^\S\n]+(?:{_CONNECTOR}[^\S\n]+)?{_CAP_WORD})"
                   rf"{{0,4}})")
# A name ending in initials keeps their last full stop ("U.S.").
_INITIALS = re.compile(r"(?:^|\s)(?:[A-Z]\.){2,}$")
# Capitalised words that start sentences or name times, not things.
_NOT_NAMES = frozenset("""The A An And But However In On At For From This That These Those It
He She They We I If When While After Before Yes No Mr Mrs Ms Dr Meanwhile Also As So Then
There Here His Her Their Our Its What Who Which Why How Where With Without By To Of Not One
January February March April May June July August September October November December
Monday Tuesday Wednesday Thursday Friday Saturday Sunday Today Yesterday Tomorrow According
Despite Although Though Last Next Now Still Even Just Some Many More Most Other Both All Every
Since Until During Through Over Under About Like Unlike Because Instead Per Via Following Amid
Among Against Across Around Including Regarding Considering Given Earlier Later Within Upon
Toward Towards Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec GMT BST UTC ET EST EDT PT PST
PDT""".split())
# Common nouns that news writes in capitals: never a name on their own ("a new AI research
# team" names no company), though part of one ("Stability AI").
_COMMON_CAPITALS = frozenset("AI GDP IPO ETF EV EVs VR TV PC API CEO CFO CTO".split())
_TITLES = frozenset("""President Prime Minister Chancellor Secretary Senator Sen Governor Gov
Judge Justice CEO Chief Executive Founder Co-founder Chairman Chair Coach Manager King Queen
Prince Princess Pope General Gen Officer Director Head Vice Rep Representative Mayor Lord
Sir Dame Dr Mr Mrs Ms Professor Prof Captain Commissioner Attorney Agent Judge
Quarterback QB Star Striker Midfielder Defender Forward Goalkeeper Winger""".split())

# Roles that stand between an organisation and a person's name ("Tesla CEO Elon Musk", "Bank
# of England Governor Andrew Bailey") and are no part of either.
_ROLES = ("CEO|CFO|COO|CTO|[Cc]o-CEO|[Cc]o-founder|Chairman|Chairwoman|Founder|President|"
          "Minister|Secretary|Governor|Coach|Director|Commissioner|Chancellor|Senator")

_SCALE = r"(?:thousand|million|billion|trillion|[mbk]n?\b)"
# A scale written onto the digits: "$69bn", "$69B", "£56bn".
_SCALE_ATTACHED = r"(?:bn|tn|[mbk])\b"
_WORD_NUMBER = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
                r"fourteen|fifteen|twenty|thirty|forty|fifty|hundred|dozen")
# A number word ends at a word boundary: else "tensions" gave "ten", "fourteen" "four".
_NUMBER = re.compile(rf"(?<![\w.])([$€£]?\s?(?:\d[\d,]*(?:\.\d+)?|(?:{_WORD_NUMBER})\b)"
                     rf"(?:\s?%|\s+percent|\s+{_SCALE}|{_SCALE_ATTACHED})?)"
                     rf"(?:\s+([a-z][a-z\-]+))?", re.I)
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December|Jan\\.?|Feb\\.?|Aug\\.?|Sept?\\.?|Oct\\.?|Nov\\.?|Dec\\.?")
_DATE = re.compile(rf"\b(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),?\s+)?"
                   rf"(?:(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|"
                   rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})(?:\s+\d{{4}})?|"
                   rf"(?:{_MONTHS})(?:\s+\d{{4}})?|(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
                   rf"Saturday|Sunday)|(?:19|20)\d{{2}})\b")
# A match's score: "32-12", "3–1" (not a range of percentages or years).
_SCORES = re.compile(r"(?<![\w.$€£-])\d{1,3}[-–]\d{1,3}(?![\w%-]|\.\d|\s*per\s?cent)")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Days the news names by its own date: "was found guilty this month", "said yesterday".
_RELATIVE_DATE = re.compile(r"\b(?:yesterday|today|(?:this|last) (?:week|month))\b", re.I)
# A sentence about what is to come: its weekday is the next one after the article's day.
_FUTURE = re.compile(r"\b(?:will|next|(?:is|are) (?:set|due|scheduled) to|plans? to)\b", re.I)
_PLACE_ABBREVIATIONS = frozenset("U.S. U.S US USA U.S.A. U.K. U.K UK EU E.U. UN U.N.".split())
_CURRENCY_SIGN = re.compile(r"[$€£¥₹]")
_CURRENCIES = frozenset("""dollars dollar euros euro pounds pound yen yuan rupees rupee francs
pesos won""".split())
# What follows a part: " of the operator's 380 drivers", " of its 96 cables".
_PART_OF = re.compile(r"\s+of\s+(?:[\w’']+\s+){0,2}?\d[\d,]*\s+([a-z][a-z\-]+)")
# A number right after a name's word, within a sentence, labels a thing or a day unless a
# unit follows it: "Goodnotes 6", "Game 4", "Sunday 29 October".
_LABEL = re.compile(r"(?<![.!?:\-–—] )(?<!^)\b[A-Za-z]*[A-Z][\w’'-]* $")
# Words after a number that are not what it counts.
_NOT_UNITS = frozenset("""and or of the a an to in on at for from with by as is was are were
that which who has have had will would per after before than since""".split())


@dataclass
class Candidate:
    """A possible answer and where it was seen: positions (0 = best) in the ranked
    sentences, the passages whose text or title mention it, and how often their texts do."""

    text: str
    kind: Kind
    unit: str | None = None
    positions: list[int] = field(default_factory=list)
    passages: set[int] = field(default_factory=set)
    mentions: int = 0
    in_title: bool = False
    day: str | None = None  # the date "Wednesday", "this month" stand for: `resolved_date`

    @property
    def key(self) -> str:
        return self.text.casefold()

    @property
    def place_abbreviation(self) -> bool:
        """Whether it is "U.S.", "UK", "EU" or the like: the commonest capitals in the news,
        and no answer unless a place is asked for."""
        return self.text in _PLACE_ABBREVIATIONS

    @property
    def money(self) -> bool:
        """Whether it is a sum of money: a currency sign or word ("$4.3 billion", "240
        million euros")."""
        return bool(_CURRENCY_SIGN.search(self.text)) or (self.unit or "") in _CURRENCIES


def names(text: str) -> list[str]:
    """Capitalised names in `text`, cut at possessives, without leading titles; a pair
    ("Google and Apple") is a name and so is each of its parts."""
    found = []
    for match in _NAME.finditer(text):
        for part in _parts(match.group()):
            words = part.split()
            while words and (words[0].rstrip(".") in _TITLES or words[0] in _NOT_NAMES
                             or words[0].lower() in ("and", "&", "of", "de")):
                words.pop(0)
            while words and (words[-1] in _NOT_NAMES or words[-1].rstrip(".") in _TITLES
                             or words[-1].lower() in ("and", "&", "of", "de")):
                words.pop()
            name = " ".join(words).rstrip(",")
            if not _INITIALS.search(name):  # "U.S." keeps its last full stop
                name = name.rstrip(".,")
            if len(name) >= 2 and not name.isdigit() and name not in _COMMON_CAPITALS:
                found.append(name)
    return found


def _parts(name: str) -> list[str]:
    """`name` cut at possessives and at a role between two names ("Slack CEO Lidiane Jones":
    "Slack", "Lidiane Jones"), and each piece also split at "and"/"&"."""
    parts = []
    for piece in re.split(rf"[’']s\b|\s(?:{_ROLES})\s", name):
        parts.append(piece)
        if re.search(r"\s(?:and|&)\s", piece):
            parts += re.split(r"\s+(?:and|&)\s+", piece)
    return parts


def numbers(text: str) -> list[tuple[str, str | None]]:
    """(number, unit) pairs: "$14 billion" and None, "5" and "goals"; a part counts what its
    whole does ("14 of its 96 cables": "14" and "cables")."""
    found = []
    for match in _NUMBER.finditer(text):
        value, unit = re.sub(r"^([$€£])\s+", r"\1", match.group(1).strip().rstrip(",")), \
            match.group(2)
        if re.fullmatch(r"(19|20)\d{2}", value):  # a year is a date
            continue
        # a sum of money or a share has its unit ("$1.7 billion back" led); a name is none
        # ("Goodnotes 6 TikTok"), but a plural of capitals is ("five STIs")
        if unit and (unit.lower() in _NOT_UNITS or re.search(r"[$€£%]|percent", value)
                     or not unit[0].islower() and not re.fullmatch(r"[A-Z]{2,}s?", unit)):
            unit = None
        # counting nothing after a name's word, it labels ("Game 4 the Rangers"); with its
        # unit it counts ("played for the Socceroos 56 times")
        if value[0].isdigit() and unit is None and _LABEL.search(text, 0, match.start()):
            continue
        if unit is None and (whole := _PART_OF.match(text, match.end(1))):
            unit = whole.group(1)
        found.append((value, unit.lower() if unit else None))
    return found


def dates(text: str) -> list[str]:
    """Dates that dateutil can read (days, months with a year, weekdays, years), then the
    days the news names by its own date ("yesterday", "this month": `resolved_date`)."""
    found = []
    for match in _DATE.finditer(text):
        try:
            dateparser.parse(match.group().replace("Sept", "Sep"))
        except (ValueError, OverflowError):
            continue
        found.append(match.group())
    return found + _RELATIVE_DATE.findall(text)


def resolved_date(value: str, sentence: str, published: datetime | None) -> str | None:
    """What a date the news writes by its own day means, read against the article's date:
    a bare weekday ("won the prize Wednesday") is the latest such day on or before it, or
    the first one after it when the sentence speaks of what is to come ("will vote on
    Thursday"); "yesterday", "today", "this/last week", "this/last month" likewise. None
    for any other date, or without the article's date.

    >>> resolved_date("Wednesday", "They won Wednesday.", datetime(2023, 10, 4))
    'Wednesday, October 4, 2023'
    """
    if published is None:
        return None
    day, word = published.date(), value.casefold()
    if value in _WEEKDAYS:
        target = _WEEKDAYS.index(value)
        if _FUTURE.search(sentence):
            day += timedelta(days=(target - day.weekday() - 1) % 7 + 1)
        else:
            day -= timedelta(days=(day.weekday() - target) % 7)
    elif word in ("today", "yesterday"):
        day -= timedelta(days=1 if word == "yesterday" else 0)
    elif word.endswith("month"):
        month = day if word.startswith("this") else day.replace(day=1) - timedelta(days=1)
        return f"{month:%B} {month.year}"
    elif word.endswith("week"):
        monday = day - timedelta(days=day.weekday() + 7 * word.startswith("last"))
        return f"the week of {monday:%B} {monday.day}, {monday.year}"
    else:
        return None
    return f"{_WEEKDAYS[day.weekday()]}, {day:%B} {day.day}, {day.year}"


def find_candidates(kind: Kind, ranked: list[Sentence], passages: list[Passage], top: int
                    ) -> list[Candidate]:
    """The candidates of `kind` in the `top` best sentences, each with where it occurs."""
    found: dict[str, Candidate] = {}
    for position, sentence in enumerate(ranked[:top]):
        if kind is Kind.OUTLET:
            values = [(passages[sentence.passage_index].source, None)]
        elif kind is Kind.NUMBER:
            values = numbers(sentence.text)
        elif kind is Kind.SCORE:
            values = [(score, None) for score in _SCORES.findall(sentence.text)]
        elif kind is Kind.DATE:
            values = [(d, None) for d in dates(sentence.text)]
        else:
            values = [(n, None) for n in names(sentence.text)]
        for value, unit in values:
            if not value:
                continue
            candidate = found.setdefault(value.casefold(), Candidate(value, kind, unit))
            candidate.unit = candidate.unit or unit
            candidate.positions.append(position)
            if kind is Kind.DATE and candidate.day is None:
                candidate.day = resolved_date(value, sentence.text,
                                              passages[sentence.passage_index].published_at)
    if kind is Kind.PERSON:  # "Google" is no short form of "Alphabet Inc. Google"
        _merge_short_forms(found, passages)
    if kind in (Kind.PERSON, Kind.ENTITY):
        _drop_capitalised_common_words(found, passages)
    for candidate in found.values():
        pattern = _mention(candidate.text)
        for i, passage in enumerate(passages):
            in_title = bool(pattern.search(passage.title))
            mentions = len(pattern.findall(passage.text))
            candidate.mentions += mentions
            if in_title or mentions or \
                    (kind is Kind.OUTLET and passage.source == candidate.text):
                candidate.passages.add(i)
            candidate.in_title |= in_title
    return list(found.values())


def _merge_short_forms(found: dict[str, Candidate], passages: list[Passage]) -> None:
    """"Bankman-Fried" counts as "Sam Bankman-Fried" when the passages write the full name:
    a surname stands for the fullest name that ends with it."""
    # joined by line breaks: one passage's last word and the next one's first are no name
    text = "\n".join(p.text for p in passages)
    full_names = {n for n in names(text) if len(n.split()) >= 2}
    for key, candidate in list(found.items()):
        longer = [n for n in full_names | {c.text for c in found.values()}
                  if n.endswith(" " + candidate.text) and len(n.split()) <= 3]
        if not longer:
            continue
        full = max(longer, key=lambda n: (text.count(n), len(n)))
        target = found.setdefault(full.casefold(), Candidate(full, candidate.kind))
        target.positions = sorted(target.positions + candidate.positions)
        del found[key]


def _drop_capitalised_common_words(found: dict[str, Candidate], passages: list[Passage]
                                   ) -> None:
    """Drop "names" made of common words that a heading capitalised ("Most Runs and
    Wickets:"): every word of the candidate is written in lower case in the passages more
    often than as it stands. A real name is written capitalised ("World Cup", "Wild" in a
    hockey story) far more often than its words appear in lower case."""
    written = Counter(word for p in passages for word in re.findall(r"\w+", p.text))
    for key, candidate in list(found.items()):
        words = [w for w in candidate.text.split() if not re.fullmatch(_CONNECTOR, w)]
        if words and all(w[:1].isupper() and w[1:].islower() and
                         written[w.lower()] > written[w] for w in words):
            del found[key]


def _mention(text: str) -> re.Pattern:
    return re.compile(rf"(?<![\w]){re.escape(text)}(?![\w])")

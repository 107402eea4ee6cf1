"""What a question asks for: the kind of answer (a name, a number, a score, a date, an
outlet, yes or no, one of two options, an account or a description: "What is Temu?"),
whether it wants a sum of money or a place, its specific terms (names, numbers, years),
which the passages must mention for the question to be answerable, and the outlets it cites
that the index lacks (`unknown_outlets`, `reporter`).

Example:
    >>> ask = read_question("How many goals did Haaland score against Luton?", ())
    >>> ask.kind, ask.unit, ask.terms
    (<Kind.NUMBER: 'number'>, 'goals', ('Haaland', 'Luton'))
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from newscite.rag.query import outlet_aliases


class Kind(str, enum.Enum):
    PERSON = "person"   # who ...?
    ENTITY = "entity"   # which company / team / what is the name of ...?
    NUMBER = "number"   # how many / how much ...?
    SCORE = "score"     # what was the (final) score ...?
    DATE = "date"       # when / on which day ...?
    OUTLET = "outlet"   # which outlet / publication reported ...?
    YES_NO = "yes_no"   # did / does / is / was ...?
    CHOICE = "choice"   # ... consistent or inconsistent?
    OPEN = "open"       # why / how / what ... : quotes only


_AUXILIARY = r"(is|was|are|were|do|does|did|has|have|had|can|could|will|would|should)\b"
# "Did X ...?", or "Between the report of A and that of B, was there ...?"
_YES_NO = re.compile(rf"^\s*{_AUXILIARY}|,\s*{_AUXILIARY}", re.I)
# A wh-word first, or after a preposition ("In which month ...?", "On what date ...?").
_WH = re.compile(r"^\s*(?:(?:in|on|at|for|from|by|of|to|during|since|until)\s+)?"
                 r"(who|whom|whose|what|which|where|when|why|how)\b", re.I)
_OUTLET = re.compile(r"\b(which|what) (news )?(outlet|publication|source|news source|"
                     r"website|site|newspaper|platform reported)\b", re.I)
_NUMBER = re.compile(r"\bhow (many|much)\b|\bwhat (?:was |is )?(?:the )?(number|percentage|"
                     r"share|amount|score|price|cost)\b", re.I)
_SCORE = re.compile(r"\b(?:what|which)\s+(?:was|is|were)\s+the\s+(?:final\s+|full-time\s+|"
                    r"half-time\s+)?score\b|\bfinal score\b", re.I)
_DATE = re.compile(r"^\s*when\b|\b(what|which|on which|on what) (date|day|year|month)\b", re.I)
_PERSON = re.compile(r"^\s*(who|whom|whose)\b|\b(which|what) (person|individual|player|"
                     r"athlete|executive|ceo|founder|coach|manager|artist|singer|actor|"
                     r"quarterback|driver|star|entrepreneur|figure|celebrity)\b|"
                     r"\bwho is the\b", re.I)
_ENTITY = re.compile(r"\b(which|what)\b|\bname of\b", re.I)
# "What is Temu?", "Who is Lidiane Jones?": a name to describe, not a name to find.
_DEFINITION = re.compile(r"^\s*(?i:what|who)(?i:\s+(?:is|are|was|were)|[’']s)\s+"
                         r"[A-Z][\w.&'’-]*(?:\s+[A-Z][\w.&'’-]*)*\s*\??\s*$")
ACCOUNT_VERBS = frozenset("""say said report reported write wrote written announce announced
reveal revealed decide decided find found claim claimed argue argued suggest suggested think
thought tell told cover covered do done happen happened""".split())
"""Verbs by which "what" asks for an account: they say what is asked, not what about."""
# "What" asking for an account, not a name: "What happened to X?", "What did X say / report /
# announce about Y?"
_ACCOUNT = re.compile(r"^\s*what\s+(?:happened|(?:did|does|do|has|have|had|will|would)\s+"
                      rf"[^?]*?\b(?:{'|'.join(sorted(ACCOUNT_VERBS))})\b)", re.I)
# The unit asked for: "how many goals", "how much money".
_UNIT = re.compile(rf"\bhow (?:many|much) (?!{_AUXILIARY})(?:[a-z]+(?:-[a-z]+)+\s+)?"
                   r"(?P<unit>[a-z]+)", re.I)  # "battery-swapping stations": "stations"
# A place asked for: "Where ...?", "Which country ...?"
_PLACE = re.compile(r"^\s*where\b|\b(?:which|what) (?:country|countries|nation|state|city|"
                    r"region|place|continent|bloc)\b", re.I)
# A sum of money asked for: "how much money", or "how much" and an auxiliary with a verb of
# paying, costing or earning ("How much is Binance paying ...?", "How much did the film
# make?"; not "How much progress did they make?").
_MONEY = re.compile(rf"\bhow much\s+(?:(?:money|cash|funding|revenue|profit)\b|{_AUXILIARY}"
                    r"[^?]*?\b(?:cost|costs|pay|pays|paid|paying|spend|spends|spent|spending|"
                    r"worth|earn|earns|earned|make|makes|made|raise|raises|raised|fine|fined|"
                    r"charge|charges|charged|sell|sold|invest|invested|owe|owes|owed|bid|"
                    r"offer|offered)\b)", re.I)
# Options of a choice question: "consistent or inconsistent", "agreement or disagreement".
_CHOICE = re.compile(r"\b(\w+) or (\w+)\b(?=[\s\w,']*\?*$)", re.I)
# A choice between a word and its opposite: the first names agreement, the second not.
OPPOSITES = {"consistent": "inconsistent", "agreement": "disagreement", "agree": "disagree",
             "similar": "different", "same": "different", "aligned": "misaligned",
             "consistency": "inconsistency", "supportive": "critical"}
# Capitalised words that begin questions or clauses rather than name something.
_NOT_TERMS = frozenset("""The A An And But Or Does Did Do Is Was Were Are Has Have Had Which What
Who Whom Whose When Where Why How Between After Before Following Considering Based According
In On At For From Of To By With This That These Those It Its If While Both Either Neither
Can Could Would Should Will Given Regarding Also As Per Since""".split())
_TERM = re.compile(r"(?<![\w'’])(?:[A-Z][\w’'&.\-]*|\d[\d,.]*%?)")
# A capitalised name, possibly of several words ("Wall Street Journal", "CNN | Politics").
_NAME = r"(?:[Tt]he\s+)?(?P<name>[A-Z][\w.&'’-]*(?:\s+(?:[A-Z][\w.&'’-]*|of|and|&|-|\|))*)"
# Where a question attributes reporting to an outlet: "an article in X", "as reported by X",
# "the 'X' piece" (not "X's report" or "a report on X": there X is often the story's subject).
_CITED = [re.compile(pattern) for pattern in (
    rf"\b(?:article|report|piece|story|coverage|editorial|column|op-ed|analysis|post|"
    rf"reporting|segment|interview)s?\s+(?:in|from|by|published by|published in)\s+{_NAME}",
    rf"\b(?:as reported by|reported by|published by|covered by)\s+{_NAME}",
    rf"{_NAME}\s+(?:article|piece|editorial|column)s?\b")]
# "What did ESPN report about ...?": the subject of a reporting verb may be an outlet, or a
# company reporting its results ("What did Nike report?"); `reporter` tells them apart.
_REPORTER = re.compile(rf"^\s*[Ww]hat\s+(?:did|does|has|have)\s+{_NAME}\s+"
                       rf"(?:report|publish|cover|write)\w*\b")
_MONTHS = frozenset("""January February March April May June July August September October
November December""".split())
# Terms that name a time, not someone or something (`is_name`).
_TIMES = _MONTHS | frozenset("Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())
POSSESSIVE = re.compile(r"[’']s\b")
"""A possessive "'s": "OpenAI's board" is about OpenAI."""


@dataclass(frozen=True)
class Asked:
    """What a question asks for (see the module)."""

    kind: Kind
    terms: tuple[str, ...] = ()          # names, numbers, years the question is about
    unit: str | None = None              # "goals" in "how many goals"
    options: tuple[str, str] | None = None  # (agreeing, opposing) of a choice question
    money: bool = False                  # a sum of money is asked for ("how much ... cost")
    account: bool = False                # an account: "what did X say about Y?" (Kind.OPEN)
    place: bool = False                  # a place is asked for ("which country ...?")

    @property
    def wants_candidate(self) -> bool:
        """Whether the lead is a typed value (name, number, date, outlet)."""
        return self.kind in (Kind.PERSON, Kind.ENTITY, Kind.NUMBER, Kind.SCORE, Kind.DATE,
                             Kind.OUTLET)


def read_question(question: str, outlets: tuple[str, ...]) -> Asked:
    """The kind of answer `question` wants and its specific terms; `outlets` are the outlets
    it names (their names are no specific terms: every passage of that outlet has them)."""
    kind = _kind(question)
    unit = _UNIT.search(question)
    return Asked(kind=kind, terms=specific_terms(question, outlets),
                 unit=unit.group("unit").lower() if unit else None,
                 options=_options(question),
                 money=bool(_MONEY.search(question)),
                 account=kind is Kind.OPEN and bool(_ACCOUNT.search(question)),
                 place=bool(_PLACE.search(question)))


def _kind(question: str) -> Kind:
    if _WH.search(question):
        if _DEFINITION.match(question):
            return Kind.OPEN
        if _OUTLET.search(question):
            return Kind.OUTLET
        if _SCORE.search(question):
            return Kind.SCORE
        if _NUMBER.search(question):
            return Kind.NUMBER
        if _DATE.search(question):
            return Kind.DATE
        if _PERSON.search(question):
            return Kind.PERSON
        if _ACCOUNT.search(question):
            return Kind.OPEN
        if _ENTITY.match(question) or re.search(r"\bname of\b", question, re.I):
            return Kind.ENTITY
        return Kind.OPEN
    if _YES_NO.search(question):
        return Kind.CHOICE if _options(question) else Kind.YES_NO
    return Kind.OPEN


def _options(question: str) -> tuple[str, str] | None:
    for match in _CHOICE.finditer(question):
        first, second = match.group(1).lower(), match.group(2).lower()
        if OPPOSITES.get(first) == second:
            return match.group(1), match.group(2)
        if OPPOSITES.get(second) == first:
            return match.group(2), match.group(1)
    return None


def unknown_outlets(question: str, outlets: tuple[str, ...]) -> tuple[str, ...]:
    """The outlets `question` cites ("an article in Bloomberg", "as reported by Reuters")
    that are none of `outlets`, the index's outlets it names: news the index cannot hold.
    (MultiHop-RAG's unanswerable questions cite such outlets; so does a user asking what an
    outlet the corpus lacks reported.)"""
    found = []
    for pattern in _CITED:
        for match in pattern.finditer(question):
            for name in re.split(r",|\s+and\s+|\s+&\s+", match.group("name")):
                name = re.sub(r"^[Tt]he\s+|(?:\s+(?:and|of|&|-|\|))+$", "",
                              name.strip(" -|'’"))
                first = name.split()[0] if name.split() else ""
                if len(name) < 3 or first in _NOT_TERMS or first in _MONTHS:
                    continue
                if not _is_outlet(name, outlets):
                    found.append(name)
    return tuple(dict.fromkeys(found))


def _is_outlet(name: str, outlets: tuple[str, ...]) -> bool:
    """Whether `name` is (part of) one of `outlets`' names or their aliases ("Verge")."""
    return any(name.casefold() in alias.casefold()
               for outlet in outlets for alias in outlet_aliases(outlet))


def reporter(question: str, outlets: tuple[str, ...], texts: list[str]) -> str | None:
    """Who a question asks the report of ("What did ESPN report about the Cowboys?": ESPN)
    when it is none of `outlets` (the index's outlets it names) and `texts` (the best
    sentences found) never mention it: then it is an outlet the index lacks. A name they
    mention is the story's subject instead ("What did Nike report for the quarter?")."""
    match = _REPORTER.search(question)
    if not match:
        return None
    name = re.sub(r"^[Tt]he\s+", "", match.group("name").strip())
    mention = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.I)
    if len(name) < 3 or _is_outlet(name, outlets) or any(mention.search(t) for t in texts):
        return None
    return name


def is_name(term: str) -> bool:
    """Whether a specific term (`specific_terms`) names someone or something: no number, year,
    month or weekday, which the news may write otherwise ("$8 billion", "on the 3rd")."""
    return not any(ch.isdigit() for ch in term) and term not in _TIMES


def specific_terms(question: str, outlets: tuple[str, ...]) -> tuple[str, ...]:
    """Names (capitalised words after the first), numbers and years in `question`, without
    the names of the outlets it names: the words a passage must share to be about it."""
    known = {w.casefold() for outlet in outlets for alias in outlet_aliases(outlet)
             for w in re.findall(r"[\w’'&.\-]+", alias)}
    terms = []
    for match in _TERM.finditer(question):
        word = match.group().rstrip(".,'’")
        word = POSSESSIVE.sub("", word)
        if match.start() == 0 or word in _NOT_TERMS or word.casefold() in known or not word:
            continue
        terms.append(word)
    return tuple(dict.fromkeys(terms))

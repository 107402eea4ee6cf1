"""Checking an answer's citations in code, whatever wrote the answer.

Markers are `[n]` (also `[1, 2]` and `[1][2]`), numbered from 1 over the passages shown.
`check` keeps markers that point at a shown passage, removes the others (and counts them),
and flags a cited sentence as unsupported when too few of its content words occur in the
passages it cites (lexical containment: cheap, deterministic, no model needed).

Example:
    >>> report = check("Kyiv asked for THAAD [1]. Paris agreed [7].", passages)
    >>> report.text, report.removed, report.unsupported
    ('Kyiv asked for THAAD [1]. Paris agreed.', 1, [])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from newscite.text import MARKER, markers, sentences, split_sentences
from newscite.types import Citation, Passage

# A marker with the space before it, so that a removed marker leaves no double space.
_SPACED_MARKER = re.compile(r"\s*" + MARKER.pattern)
_WORD = re.compile(r"[\w’']+")
STOPWORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were
be been being has have had do does did not no yes it its this that these those he she they them
his her their our we you i me my your about into over after before than then so such also there
which who whom whose what when where why how all any both each more most other some will would
can could should may might must said says say according reported report reports""".split())


def content_words(text: str) -> set[str]:
    """Lower-cased words of `text` that carry meaning (no stop words, no markers)."""
    return {w.strip("'’") for w in _WORD.findall(MARKER.sub(" ", text).casefold())
            if w not in STOPWORDS and not w.isdigit() or (w.isdigit() and len(w) > 1)}


def supported(sentence: str, passages: list[Passage], threshold: float = 0.6) -> bool:
    """True when at least `threshold` of the sentence's content words occur in `passages`."""
    words = content_words(sentence)
    if not words:
        return True
    available = set().union(*(content_words(f"{p.title} {p.source or ''} {p.text}")
                               for p in passages)) if passages else set()
    return len(words & available) / len(words) >= threshold


@dataclass
class CitationReport:
    """The checked answer text, its valid citations and what was wrong."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    removed: int = 0
    unsupported: list[str] = field(default_factory=list)
    uncited: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """At least one citation survived and every cited sentence is supported."""
        return bool(self.citations) and not self.unsupported


def check(text: str, passages: list[Passage], threshold: float = 0.6) -> CitationReport:
    """Validate `text`'s markers against `passages` (numbered from 1); see the module."""
    removed = 0

    def keep_valid(match: re.Match) -> str:
        nonlocal removed
        numbers = [int(n) for n in match.group(1).split(",")]
        good = [n for n in numbers if 1 <= n <= len(passages)]
        removed += len(numbers) - len(good)
        return "".join(f" [{n}]" for n in dict.fromkeys(good))

    cleaned = _SPACED_MARKER.sub(keep_valid, text).strip()
    report = CitationReport(text=cleaned, removed=removed)
    cited: dict[int, Citation] = {}
    for sentence in sentences(cleaned):
        if not sentence or not content_words(sentence):
            continue
        numbers = markers(sentence)
        if not numbers:
            report.uncited.append(sentence)
            continue
        sources = [passages[n - 1] for n in numbers]
        if not supported(sentence, sources, threshold):
            report.unsupported.append(sentence)
        for n in numbers:
            cited.setdefault(n, Citation(n=n, passage=passages[n - 1],
                                         span=quote_span(sentence, passages[n - 1])))
    report.citations = [cited[n] for n in sorted(cited)]
    return report


def quote_span(sentence: str, passage: Passage) -> tuple[int, int] | None:
    """Offsets in `passage.text` of the passage sentence sharing most words with `sentence`."""
    words = content_words(sentence)
    best, best_overlap = None, 0
    for begin, end in split_sentences(passage.text):
        overlap = len(words & content_words(passage.text[begin:end]))
        if overlap > best_overlap:
            best, best_overlap = (begin, end), overlap
    return best

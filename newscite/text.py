"""The text rules every part shares: citation markers and sentence splitting.

One definition each, used by the chunker (index), the answer and its citation check (rag),
the chat's rendering (ui) and the metrics (eval), so that they cannot disagree about what a
marker or a sentence is.

Example:
    >>> markers("Kyiv asked for THAAD [1]. Paris agreed [2, 3].")
    [1, 2, 3]
    >>> sentences("Mr. Smith went to Washington D.C. on Monday. He said so [1]. 5 people came.")
    ['Mr. Smith went to Washington D.C. on Monday.', 'He said so [1].', '5 people came.']
"""

from __future__ import annotations

import re

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
"""A citation marker: `[n]`, or several numbers in one, `[1, 2]`."""

# A sentence ends at . ! or ? (plus closing quotes/brackets and any citation markers right
# after it: "in Brussels. [2]") before whitespace and a capital, digit, opening quote or
# bracket (but not a marker: "8 a.m. [2]" is one sentence); a line break always ends one.
_SENTENCE_END = re.compile(r"""[.!?]["'”’)\]]*(?:\s*\[\d+(?:\s*,\s*\d+)*\])*\s+"""
                           r"""(?=["'“‘(]?[A-Z0-9]|\[[A-Z])|\n+""")
# A full stop after these is an abbreviation or an initial, not a sentence end.
_ABBREVIATION = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Gen|Col|Lt|Sgt|Sen|Rep|Gov|Pres|Inc|Corp|Co|Ltd|vs|No|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|[A-Z])\.$")
# How far before a full stop an abbreviation can start ("Sept."): only that much is searched,
# so splitting a long text costs its length, not its length times its sentences.
_ABBREVIATION_REACH = 8


def markers(text: str) -> list[int]:
    """Every cited number in order of appearance: "[1] … [2, 3]" -> [1, 2, 3]."""
    return [int(n) for group in MARKER.findall(text) for n in group.split(",")]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`, whitespace between them excluded."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group().rstrip())
        if match.group().strip() and _ABBREVIATION.search(
                text, max(start, match.start() - _ABBREVIATION_REACH), match.start() + 1):
            continue
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return [(s + len(text[s:e]) - len(text[s:e].lstrip()), e) for s, e in spans]


def sentences(text: str) -> list[str]:
    """The sentences of `text` (see `split_sentences`)."""
    return [text[start:end] for start, end in split_sentences(text)]

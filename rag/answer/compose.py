"""Writing the answer: the lead line and the quotes that support it.

The lead answers in a few words with its [n] ("Emma Hayes [1].", "Yes [1][2].", "5 goals
[2]."); the quotes follow, one a line, each with what is known of its outlet and date.
Only sentences that support are quoted: each holds the answer or enough of the question's
key words, none is a filler ("Here are the details:") or a near-repeat of another.

Example:
    >>> quote_line(passage, "NATO delays the bid.", 1)
    '- Reuters (2024-12-03): “NATO delays the bid.” [1]'
"""

from __future__ import annotations

from newscite.rag.answer.features import QUESTION_FORM_WORDS
from newscite.rag.answer.sentences import Sentence, asserts
from newscite.rag.citations import content_words
from newscite.recipe import RECIPE
from newscite.text import MARKER
from newscite.types import Passage


def about(passage: Passage) -> str:
    """What is known of a passage's outlet and date: "Reuters (2024-12-03)", "Reuters",
    "2024-12-03", or "" when neither is known."""
    date = passage.published_at.date().isoformat() if passage.published_at else ""
    if passage.source and date:
        return f"{passage.source} ({date})"
    return passage.source or date


def quote_line(passage: Passage, text: str, n: int) -> str:
    """One quote: "- <outlet (date)>: “<sentence>” [n]", the prefix reduced to what is known.

    The article's own bracketed numbers ("[7]", footnotes or a forged marker) would read as
    citations of this answer: they are quoted as "(7)".
    """
    text = MARKER.sub(lambda m: m.group(0).replace("[", "(").replace("]", ")"), text)
    known = about(passage)
    return f"- {known}: “{text}” [{n}]" if known else f"- “{text}” [{n}]"


def key_words(question: str, outlets: tuple[str, ...]) -> set[str]:
    """The question's content words that a supporting quote should share: without the
    words that only ask ("how many", "which report") and the outlets' names."""
    outlet_words = set().union(*(content_words(o) for o in outlets)) if outlets else set()
    return content_words(question) - QUESTION_FORM_WORDS - outlet_words


def supports(sentence: Sentence, keys: set[str], answer: str | None) -> bool:
    """A sentence supports when it holds the answer, or at least `RECIPE.quote_key_share`
    of the question's key words, has `RECIPE.quote_min_words` content words and asserts
    something (not a filler such as "Here are details explaining how the offer works:")."""
    words = content_words(sentence.text)
    if len(words) < RECIPE.quote_min_words or not asserts(sentence.text):
        return False
    if answer and answer.casefold() in sentence.text.casefold():
        return True
    return bool(keys) and len(words & keys) / len(keys) >= RECIPE.quote_key_share


def near_repeat(sentence: Sentence, chosen: list[Sentence]) -> bool:
    """Whether `sentence` says what a chosen one says: content words overlapping by
    `RECIPE.quote_repeat` or more (Jaccard)."""
    words = content_words(sentence.text)
    for other in chosen:
        theirs = content_words(other.text)
        if words and len(words & theirs) / len(words | theirs) >= RECIPE.quote_repeat:
            return True
    return False

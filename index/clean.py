"""Text normalisation for article bodies and titles.

Bodies are what chunks and citations point into, and evidence quotes must stay verbatim
substrings of them, so `clean_text` only fixes encoding debris (line endings, control and
zero-width characters, trailing spaces, runs of blank lines). It never rewrites quotes,
dashes or any other visible character.
"""

from __future__ import annotations

import re
import unicodedata

# C0/C1 control characters except tab and newline; zero-width space, word joiner and
# byte-order mark; lone surrogates (they cannot be stored as UTF-8). Zero-width joiners
# stay: emoji and several scripts need them.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u2060\ufeff\ud800-\udfff]")
_TRAILING_SPACE = re.compile(r"[^\S\n]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalise a body: NFC, `\\n` line ends, no invisible characters, at most one blank line.

    Example:
        >>> clean_text("Markets fell \\u201csharply\\u201d \\r\\n\\r\\n\\r\\nOil rose.\\u200b ")
        'Markets fell \\u201csharply\\u201d\\n\\nOil rose.'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Remove before composing: a removed character could sit between a letter and its accent.
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def clean_title(text: str) -> str:
    """A title on one line: cleaned as a body, then every whitespace run made one space."""
    return " ".join(clean_text(text).split())

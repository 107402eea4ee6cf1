"""Reading a file's bytes and text safely, shared by every loader.

A file that is too large, empty, binary or in an undetectable encoding becomes a
`Rejection` here, before any parser sees it, so each loader only handles its own format.
"""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

import charset_normalizer

from newscite.types import Rejection

logger = logging.getLogger(__name__)

MAX_BYTES = 1 << 30  # 1 GiB
_SNIFF_BYTES = 8192
_WINDOWS_1252 = "cp1252"
# Longest first: the UTF-32 little-endian mark begins with the UTF-16 one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
         (codecs.BOM_UTF8, "utf-8-sig"))


def read_bytes(path: Path, max_bytes: int = MAX_BYTES) -> bytes | Rejection:
    """The file's bytes, or a Rejection: unreadable, too large, empty or binary."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Rejection(str(path),
                             f"file too large ({size:,} bytes; the limit is {max_bytes:,})",
                             hint="split it into smaller files")
        data = path.read_bytes()
    except OSError as error:
        return Rejection(str(path), f"cannot read the file: {error.strerror or error}",
                         hint="check that the file exists and is readable")
    if not data or data.isspace():
        return Rejection(str(path), "empty file", hint="the file has no text to load")
    if b"\x00" in data[:_SNIFF_BYTES] and _bom_encoding(data) is None:
        return Rejection(str(path), "binary file, not text",
                         hint="only text files (JSON, JSONL, text, Markdown, HTML, RSS/Atom) "
                              "can be loaded")
    return data


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str | Rejection:
    """The file's text: decoded by its byte-order mark, else as UTF-8, else as detected."""
    data = read_bytes(path, max_bytes)
    if isinstance(data, Rejection):
        return data
    return decode_text(data, str(path))


def decode_text(data: bytes, origin: str, declared: str | None = None) -> str | Rejection:
    """`data` as text: by its byte-order mark, else by the `declared` charset (a web
    server's), else as UTF-8, else as detected."""
    encoding = _bom_encoding(data)
    if encoding is None and declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            logger.info("%s: not valid %s text as declared; detecting the encoding",
                        origin, declared)
    encoding = encoding or "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        if encoding != "utf-8":
            return Rejection(origin,
                             f"not valid {encoding.upper()} text despite its byte-order mark",
                             hint="save the file as UTF-8")
    guess = _guess_encoding(data)
    if guess is None:
        return Rejection(origin, "cannot tell the text encoding", hint="save the file as UTF-8")
    logger.info("%s: not UTF-8; decoded as %s", origin, guess.encoding)
    return str(guess)


def _guess_encoding(data: bytes) -> charset_normalizer.CharsetMatch | None:
    """charset_normalizer's best guess, except that Windows-1252 wins a tie.

    On a short text several legacy encodings decode without any oddity and the detector
    picks among them almost at random (French cp1252 read as cp1250, German as Mac Roman).
    Windows-1252 is by far the most common legacy encoding of Western news, so when it
    reads the bytes as cleanly as the best guess, it is taken.
    """
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    return next((match for match in matches
                 if match.chaos <= best.chaos and _WINDOWS_1252 in match.could_be_from_charset),
                best)


def _bom_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in _BOMS if data.startswith(bom)), None)

"""Load a .txt / .md file as one article, with optional front matter for its metadata.

Front matter is a block of `key: value` lines between two `---` lines at the very top:

    ---
    title: Storm hits coast
    source: Daily Planet
    published_at: 2023-10-05T14:30:00+02:00
    authors: Lois Lane, Jimmy Olsen
    ---
    A powerful storm struck the coast on Thursday...

Keys go through the same aliases and `field_map` as JSON records (`date:` and `published:`
are dates, `outlet:` an outlet); a key may also take `- item` lines as a list. A top block
that is not all `key: value` lines (a Markdown rule, say) is not front matter.

Plain-text news often has mail-style header lines instead, optionally under a title line:

    Storm hits coast
    Date: 5 October 2023
    Source: Daily Planet

    A powerful storm struck the coast on Thursday...

Only known header names count (`HEADER_KEYS`), so a body that opens with "Note: ..." stays
body. The body is the rest of the file after `clean_text`. Without a title, the first line
of the body is the title. Without a date the article's date stays unknown: a file's
modification time is when it was copied or downloaded, not when the news was published,
and dates steer retrieval (filters, "latest", days named in questions), so none is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from newscite.index.loaders.decode import read_text
from newscite.index.loaders.records import from_record
from newscite.types import Article, Rejection

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^---[ \t]*$\n?", re.DOTALL | re.MULTILINE)
_KEY_VALUE = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")
_LIST_ITEM = re.compile(r"^[ \t]*-[ \t]+(.*)$")
HEADER_KEYS = ("title", "date", "published", "published_at", "source", "outlet", "publisher",
               "author", "authors", "by", "byline", "url", "link")
"""Header-line names recognised at the top of a plain-text file (see the module docstring)."""
_HEADER_LINE = re.compile(rf"^({'|'.join(HEADER_KEYS)})[ \t]*:[ \t]*(\S.*?)[ \t]*$", re.I)
_HEADER_ALIASES = {"by": "byline"}  # the rest are already field aliases (records.FIELDS)


def load(path: Path, field_map: Mapping[str, str] | None = None) -> Iterator[Article | Rejection]:
    """Yield the file's one Article, or a Rejection."""
    text = read_text(path)
    if isinstance(text, Rejection):
        yield text
        return
    # Line endings as clean_text will leave them, so the front matter is found in any file.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    record, body = _split_front_matter(text)
    if not record:
        record, body = _split_header_lines(text)
    if not body.strip():
        yield Rejection(str(path), "no article text after the front matter",
                        hint="write the article below the closing '---' line")
        return
    yield from_record({**record, "body": body}, str(path), field_map)


def _split_front_matter(text: str) -> tuple[dict[str, str | list[str]], str]:
    """The front matter's fields and the body after it; ({}, text) when there is none."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields: dict[str, str | list[str]] = {}
    key = None
    for line in match.group(1).split("\n"):
        if pair := _KEY_VALUE.match(line):
            key, value = pair.group(1), _unquote(pair.group(2))
            fields[key] = _inline_list(value)
        elif (item := _LIST_ITEM.match(line)) and key is not None:
            previous = fields[key]
            items = previous if isinstance(previous, list) else [previous] if previous else []
            fields[key] = items + [_unquote(item.group(1))]
        elif line.strip():
            return {}, text
    return fields, text[match.end():]


def _split_header_lines(text: str) -> tuple[dict[str, str], str]:
    """The header lines' fields (and the title line above them) and the body below them;
    ({}, text) when the file does not open with header lines."""
    lines = text.lstrip("\n").split("\n")
    start = 1 if len(lines) > 1 and lines[0].strip() and not _HEADER_LINE.match(lines[0]) \
        and _HEADER_LINE.match(lines[1]) else 0
    fields: dict[str, str] = {}
    end = start
    while end < len(lines) and (pair := _HEADER_LINE.match(lines[end])):
        key = pair.group(1).lower()
        fields.setdefault(_HEADER_ALIASES.get(key, key), _unquote(pair.group(2)))
        end += 1
    if not fields:
        return {}, text
    if start:
        fields.setdefault("title", lines[0].strip())
    return fields, "\n".join(lines[end:])


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _inline_list(value: str) -> str | list[str]:
    """`[a, b]` as a list of its items; any other value unchanged."""
    if value.startswith("[") and value.endswith("]"):
        return [_unquote(item) for item in value[1:-1].split(",") if item.strip()]
    return value

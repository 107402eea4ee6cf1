"""Load a .txt / .md file as one article, with optional front matter for its metadata.

Front matter is a block of `key: value` lines between two `---` lines at the very top:

    ---
    title: Storm hits coast
    source: Daily Planet
    published_at: 2023-10-05T14:30:00+02:00
    authors: Lois Lane, Jimmy Olsen
    ---
    A powerful storm struck the coast on Thursday...

Keys go through the same aliases and `field_map` as JSON records; a key may also take
`- item` lines as a list. The body is the rest of the file after `clean_text`. Without a
title, the first line of the body is the title. A top block that is not all `key: value`
lines (a Markdown rule, say) is not front matter: the whole file is then the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from newscite.types import Article, Rejection
from newscite.index.loaders.decode import read_text
from newscite.index.loaders.records import from_record

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^---[ \t]*$\n?", re.DOTALL | re.MULTILINE)
_KEY_VALUE = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")
_LIST_ITEM = re.compile(r"^[ \t]*-[ \t]+(.*)$")


def load(path: Path, field_map: Mapping[str, str] | None = None) -> Iterator[Article | Rejection]:
    """Yield the file's one Article, or a Rejection."""
    text = read_text(path)
    if isinstance(text, Rejection):
        yield text
        return
    # Line endings as clean_text will leave them, so the front matter is found in any file.
    record, body = _split_front_matter(text.replace("\r\n", "\n").replace("\r", "\n"))
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

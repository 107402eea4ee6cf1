"""Load a .json file: a list of article records, one record, or {"articles"|"data"|"items": [...]}.

Each record goes through `records.from_record`; origins read `corpus.json#record 3` (1-based).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from newscite.index.loaders.decode import read_text
from newscite.index.loaders.records import from_record
from newscite.types import Article, Rejection

WRAPPER_KEYS = ("articles", "data", "items")


def load(path: Path, field_map: Mapping[str, str] | None = None) -> Iterator[Article | Rejection]:
    """Yield one Article or Rejection per record in the file."""
    text = read_text(path)
    if isinstance(text, Rejection):
        yield text
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        yield Rejection(str(path), f"not valid JSON: {error.msg} at line {error.lineno}, "
                                   f"column {error.colno}",
                        hint="fix the JSON syntax; a file with one JSON object per line "
                             "should be named .jsonl")
        return
    except RecursionError:
        yield Rejection(str(path), "JSON nested too deeply to read",
                        hint="articles should be a list of flat objects")
        return
    for number, record in enumerate(_records(document), start=1):
        yield from_record(record, f"{path}#record {number}", field_map)


def _records(document: object) -> list[object]:
    """The records in a parsed document: the list itself, a wrapped list, or a single object."""
    if isinstance(document, dict):
        wrapped = next((document[key] for key in WRAPPER_KEYS
                        if isinstance(document.get(key), list)), None)
        return wrapped if wrapped is not None else [document]
    return document if isinstance(document, list) else [document]

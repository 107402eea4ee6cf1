"""Load a .jsonl / .ndjson file: one article record per line.

A line that is not valid JSON is one Rejection (`news.jsonl#line 7`); the other lines
still load. Blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from newscite.index.loaders.decode import read_text
from newscite.index.loaders.records import from_record
from newscite.types import Article, Rejection


def load(path: Path, field_map: Mapping[str, str] | None = None) -> Iterator[Article | Rejection]:
    """Yield one Article or Rejection per non-blank line."""
    text = read_text(path)
    if isinstance(text, Rejection):
        yield text
        return
    # Split on "\n" only: str.splitlines would also split at U+2028, which JSON strings may hold.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        origin = f"{path}#line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield Rejection(origin, f"not valid JSON: {error.msg} at column {error.colno}",
                            hint="each line must hold one complete JSON object")
            continue
        except RecursionError:
            yield Rejection(origin, "JSON nested too deeply to read",
                            hint="each line must hold one flat JSON object")
            continue
        yield from_record(record, origin, field_map)

"""Helpers and sample texts shared by the loader tests."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from newscite.types import Article, Rejection

MULTIHOP = Path(__file__).parents[2] / ".." / "shared" / "data" / "multihop-rag" / "corpus.json"

FERRY = ("Ferry workers voted on Tuesday to end a three-week strike that had stranded "
         "islanders, the union said.\n\nServices resume “tomorrow at 6am” — the first "
         "crossing is already sold out.")
BRIDGE = "The old bridge will close for repairs in November, the council said on Monday."
MARKETS = "Stocks fell sharply on Friday as oil prices rose for a fourth day."


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode(encoding)
    path.write_bytes(content)
    return path


def write_json(path: Path, document: object) -> Path:
    return write(path, json.dumps(document, ensure_ascii=False, indent=1))


def articles(items: list) -> list[Article]:
    return [item for item in items if isinstance(item, Article)]


def rejections(items: list) -> list[Rejection]:
    return [item for item in items if isinstance(item, Rejection)]


PAGE = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Storm hits coast | Daily Planet</title>
<meta name="author" content="Lois Lane">
<meta property="og:site_name" content="Daily Planet">
<meta property="article:published_time" content="2023-10-05T14:30:00+02:00">
<link rel="canonical" href="https://dailyplanet.example/storm">
</head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<article>
<h1>Storm hits coast</h1>
<p>A powerful storm struck the coast on Thursday, leaving thousands of homes without power
and flooding low-lying streets in the harbour district.</p>
<p>Officials said repairs could take “several days” — residents were told to stay indoors
and to avoid the seafront until the wind drops.</p>
</article>
<footer>© 2023 Daily Planet. All rights reserved. Subscribe to our newsletter.</footer>
</body></html>"""

"""Read news files and folders into `Article`s, with a `Rejection` for whatever cannot be used.

Each file format has its own module with the same `load(path, field_map)`; this module
walks folders and picks the module by file extension. One bad file or record never stops
the others: it becomes a Rejection saying where it is and what to do. Articles that name no
outlet get `default_source` when one is given (a folder of plain-text files from one
newspaper, say), so that quotes and filters can name it. Feed and page URLs are loaded by
`web.WebLoader`, through the same html and feeds modules.

Example:
    >>> for item in load(["data/corpus.json", "data/feeds/"]):  # doctest: +SKIP
    ...     print(item if isinstance(item, Rejection) else item.title)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from newscite.index.loaders import feeds, html, json, jsonl, text
from newscite.index.loaders.records import check_field_map
from newscite.types import Article, Rejection

logger = logging.getLogger(__name__)

Loader = Callable[[Path, Mapping[str, str] | None], Iterator[Article | Rejection]]

LOADERS: dict[str, Loader] = {
    ".json": json.load,
    ".jsonl": jsonl.load, ".ndjson": jsonl.load,
    ".txt": text.load, ".md": text.load,
    ".html": html.load, ".htm": html.load,
    ".rss": feeds.load, ".atom": feeds.load, ".xml": feeds.load,
}


def load(paths: Iterable[str | Path], field_map: Mapping[str, str] | None = None,
         default_source: str | None = None) -> Iterator[Article | Rejection]:
    """Yield the articles and rejections of every file named, and of every file in folders.

    Folders are read recursively in sorted order, skipping hidden files and folders and
    files of unknown type. `field_map` (our field name -> yours, e.g. {"body": "story"})
    is checked at once: an unknown field name raises ValueError before anything is read.
    `default_source` is the outlet of articles that name none ('' or None: unknown).
    """
    check_field_map(field_map)
    items = _load_all(paths, field_map)
    if not default_source:
        return items
    return (replace(item, source=default_source) if isinstance(item, Article) and not
            item.source else item for item in items)


def _load_all(paths: Iterable[str | Path],
              field_map: Mapping[str, str] | None) -> Iterator[Article | Rejection]:
    for path in map(Path, paths):
        if path.is_dir():
            for file in _files_in(path):
                yield from _load_file(file, field_map)
        elif not path.exists():
            yield Rejection(str(path), "no such file", hint="check the path")
        elif path.suffix.lower() not in LOADERS:
            yield Rejection(str(path), f"unsupported file type '{path.suffix}'",
                            hint=f"supported extensions: {', '.join(LOADERS)}")
        else:
            yield from _load_file(path, field_map)


def _files_in(folder: Path) -> Iterator[Path]:
    """Files of a known type under `folder` in sorted path order, skipping hidden entries.

    Linked folders are not followed, so a link cannot make the walk loop.
    """
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            yield from _files_in(entry)
        elif entry.is_file() and entry.suffix.lower() in LOADERS:
            yield entry
        else:
            logger.debug("%s: skipped, not a supported file type or a linked folder", entry)


def _load_file(path: Path, field_map: Mapping[str, str] | None) -> Iterator[Article | Rejection]:
    """One file's results. A loader handles its own format's errors; an unexpected
    exception is logged with its traceback and becomes a Rejection, so the run goes on."""
    try:
        yield from LOADERS[path.suffix.lower()](path, field_map)
    except Exception:  # noqa: BLE001 - the boundary that keeps one file from stopping a run
        logger.exception("%s: unexpected error while loading", path)
        yield Rejection(str(path), "unexpected error while loading (see the log)",
                        hint="please report this file; the other files still load")

"""Uploaded files, staged safely for ingestion.

Gradio stores uploads in its own temporary folder under names the browser chose. Before
ingestion each file is copied into a private folder under a sanitised basename (letters,
digits, dot, dash, underscore; no folders, no leading dot), so no name can point outside
that folder or hide from the folder walk. Files of an unsupported type are refused here
with a message, not copied. While they are ingested, `UploadProgress` turns the ingester's
(records done, records in all) into the page's progress bar, with an estimate of the time
left once enough is done to estimate from.

Example:
    >>> staged, refused = stage(["/tmp/gradio/ab12/My Feed (1).xml"], Path("/tmp/private"))
    >>> staged
    [(PosixPath('/tmp/private/01-My_Feed_1.xml'), 'My Feed (1).xml')]
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Callable, Iterable

from newscite.index.loaders import LOADERS
from newscite.types import Rejection

EXTENSIONS = tuple(LOADERS)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Articles per commit while an upload is ingested: the progress bar moves once per commit,
# so fewer than the CLI's 32; 8 articles (about 50 chunks) still fill most of one embedding
# batch of 64 texts, so the embedder's throughput stays the same.
COMMIT_ARTICLES = 8
# No estimate of the time left before this many records and seconds: the first batch also
# loads the model and the index, and would make the estimate far too long.
ESTIMATE_AFTER_RECORDS, ESTIMATE_AFTER_SECONDS = 8, 2.0


def safe_name(name: str, number: int) -> str:
    """A basename that is safe in any folder: `number` keeps uploads with equal names apart.

    Backslashes count as separators too, so a Windows path gives its last part.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).strip("._")[:80] or "upload"
    suffix = _UNSAFE.sub("", suffix).lower()[:10]
    return f"{number:02d}-{stem}" + (f".{suffix}" if suffix else "")


def stage(paths: Iterable[str], folder: Path
          ) -> tuple[list[tuple[Path, str]], list[Rejection]]:
    """Copy the supported files among `paths` into `folder`; refuse the others.

    Returns (copy, uploaded basename) per staged file and one Rejection per refused file.
    """
    staged, refused = [], []
    for number, path in enumerate(paths, 1):
        original = Path(path).name
        target = folder / safe_name(original, number)
        if target.suffix not in EXTENSIONS:
            refused.append(Rejection(original, f"unsupported file type '{target.suffix}'",
                                     hint=f"upload {', '.join(EXTENSIONS)} files"))
            continue
        shutil.copyfile(path, target)
        staged.append((target, original))
    return staged, refused


def duration_text(seconds: float) -> str:
    """'about 40 s', 'about 3 min 20 s', 'about 2 h 5 min': the estimate as people say it."""
    seconds = max(1, round(seconds))
    if seconds < 60:
        return f"about {seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"about {minutes} min" + (f" {seconds} s" if seconds and minutes < 10 else "")
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min"


class UploadProgress:
    """Reports an ingest's progress to `sink` (a `gr.Progress`): the share done, the records
    done of all, and from ESTIMATE_AFTER_* on the time left at the rate so far.

    Example:
        >>> report = UploadProgress(gr.Progress())
        >>> report(40, 250)   # bar at 16%: "Added 40 of 250 articles, about 1 min 5 s left"
    """

    def __init__(self, sink: Callable[..., object], clock: Callable[[], float] = time.monotonic):
        self.sink = sink
        self.clock = clock
        self.started = clock()

    def text(self, done: int, total: int) -> str:
        """What the bar says after `done` of `total` records."""
        text = f"Added {done} of {total} articles"
        elapsed = self.clock() - self.started
        if 0 < done < total and done >= ESTIMATE_AFTER_RECORDS and elapsed >= ESTIMATE_AFTER_SECONDS:
            text += f", {duration_text(elapsed / done * (total - done))} left"
        return text

    def __call__(self, done: int, total: int) -> None:
        self.sink(done / total if total else 1.0, desc=self.text(done, total))

"""Uploaded files, staged safely for ingestion.

Gradio stores uploads in its own temporary folder under names the browser chose. Before
ingestion each file is copied into a private folder under a sanitised basename (letters,
digits, dot, dash, underscore; no folders, no leading dot), so no name can point outside
that folder or hide from the folder walk. Files of an unsupported type are refused here
with a message, not copied.

Example:
    >>> staged, refused = stage(["/tmp/gradio/ab12/My Feed (1).xml"], Path("/tmp/private"))
    >>> staged
    [(PosixPath('/tmp/private/01-My_Feed_1.xml'), 'My Feed (1).xml')]
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Iterable

from newscite.index.loaders import LOADERS
from newscite.types import Rejection

EXTENSIONS = tuple(LOADERS)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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

"""Keeping the chat on the newest committed index, whoever wrote it.

Another process (`newscite ingest`, `newscite watch`, `newscite remove`) may commit to the
index the chat serves. Every commit ends by replacing the index's manifest, written last,
after the files it names, so the manifest's generation says when there is something new to
read. A `Follower` thread reads that number every `FOLLOW_SECONDS` and, when it changed,
calls `reopen`: the backend opens the new generation in that background thread and swaps it
in at once, so a question in flight finishes on the index it started on.

Example:
    >>> stop = Follower(".newscite/index", backend.reopen_if_changed).start()
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from newscite.index.store import read_manifest

log = logging.getLogger(__name__)

FOLLOW_SECONDS = 1.0
"""How often the manifest is read: a small file, so a committed ingest is seen within about a
second plus the time to open the index (the target is 5 s)."""


def committed_generation(index: str | Path) -> int | None:
    """The generation of the index's last commit; None without a readable manifest."""
    manifest = read_manifest(index)
    return manifest.get("generation") if manifest else None


class Follower:
    """Calls `on_change(generation)` from a daemon thread when the committed generation of
    the index at `index` is not the one last seen."""

    def __init__(self, index: str | Path, on_change: Callable[[int | None], None], *,
                 every: float = FOLLOW_SECONDS):
        self.index = index
        self.on_change = on_change
        self.every = every

    def start(self) -> threading.Event:
        """Start following; set the returned event to stop."""
        stop = threading.Event()
        seen = committed_generation(self.index)

        def run() -> None:
            nonlocal seen
            while not stop.wait(self.every):
                now = committed_generation(self.index)
                if now != seen:
                    seen = now
                    try:
                        self.on_change(now)
                    except Exception:  # noqa: BLE001 - keep following; the log has the details
                        log.exception("opening generation %s of %s failed", now, self.index)

        threading.Thread(target=run, name="newscite-follow", daemon=True).start()
        return stop

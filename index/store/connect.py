"""Opening an index's SQLite database: the writer lock and the connection (used by
`catalog.Catalog.open`).

Only one process writes an index at a time: a writer takes an exclusive lock on `.lock` and
fails at once when another holds it. A reader opens the database read-only.

Example:
    >>> fd = take_lock(path)             # IndexLockedError when another process writes
    >>> db = connect(path / DB_NAME, writable=True)
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from pathlib import Path


class IndexLockedError(RuntimeError):
    """Another process is writing to the index."""


def take_lock(path: Path) -> int:
    """The writer lock: an exclusive flock on `.lock`, refused at once when held."""
    try:
        fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        # EROFS: a read-only mount, which stops root too
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise PermissionError(
            f"the index directory {path} is not writable: searching it works, but "
            f"ingest, remove and reindex need write permission there") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise IndexLockedError(
            f"another newscite process is writing to the index at {path}; wait for it to "
            f"finish and run the command again") from None
    return fd


def connect(db_path: Path, writable: bool) -> sqlite3.Connection:
    """A SQLite connection; a reader's is read-only (`mode=ro`), so it works on an index it
    may not write to. In a directory nobody may write to SQLite cannot create the WAL's
    shared-memory file, so the reader there opens the database as `immutable` (the writer's
    last close has checkpointed the WAL into it)."""
    if writable:
        return sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    uri = f"{db_path.resolve().as_uri()}?mode=ro"
    if not os.access(db_path.parent, os.W_OK):
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)

"""Kill-and-check: SIGKILL a newscite command at a chosen moment, then check what it left.

Shared by the crash test (tests/index/test_ingest.py) and the crash report
(eval/bench_crash.py). A kill "survives" when, afterwards,
- the index opens as the next writer opens it (which catches stale FAISS/BM25 files up with
  SQLite and writes the manifest, without re-embedding; damaged ones are rebuilt),
- `verify()` and `check_files()` find nothing wrong (SQLite's integrity check; FAISS ids,
  BM25 ids and SQLite chunk rows agree; the manifest names the current files), and
- every article committed before the kill is still there (less the ones a killed `remove`
  was asked to delete).

Example:
    >>> process = newscite("ingest", "corpus.json", "--index", "idx")
    >>> kill_when(process, Path("idx"), after_articles=30, delay=0.4)
    True
    >>> check_after_kill(Path("idx"), committed=set())
    KillCheck(articles=..., problems=[], lost=set())
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from newscite.index.store import DB_NAME, Store

ROOT = Path(__file__).resolve().parents[1]


def newscite(*args: str, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """A `newscite ARGS...` process (this interpreter, this checkout, offline)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "newscite.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr)


def committed_ids(index: Path) -> set[str]:
    """Ids of the articles SQLite holds now (read-only; empty while there is no database)."""
    try:
        db = sqlite3.connect(f"file:{index / DB_NAME}?mode=ro", uri=True)
        try:
            return {row[0] for row in db.execute("SELECT id FROM articles")}
        finally:
            db.close()
    except sqlite3.Error:
        return set()


def kill_when(process: subprocess.Popen, index: Path, *, after_articles: int = 0,
              delay: float = 0.0, timeout: float = 300.0) -> bool:
    """SIGKILL `process` `delay` seconds after the index holds `after_articles` articles;
    returns False when it finished first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and len(committed_ids(index)) < after_articles and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


@dataclass
class KillCheck:
    """What a kill left: the articles now held, the problems found, the committed articles
    that are gone. `survived` when there are no problems and nothing is lost."""

    articles: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    lost: set[str] = field(default_factory=set)
    rebuilt: bool = False  # the derived files were stale on disk (caught up on opening)

    @property
    def survived(self) -> bool:
        return not self.problems and not self.lost


def check_after_kill(index: Path, committed: set[str],
                     may_be_gone: set[str] = frozenset()) -> KillCheck:
    """Open the index as the next writer would and check it (see the module docstring).
    `committed`: the article ids held before the kill; `may_be_gone`: those the killed
    command was deleting."""
    if not (index / DB_NAME).exists():
        return KillCheck(lost=set(committed),
                         problems=[f"no database at {index}"] if committed else [])
    try:
        with Store.open(index) as reader:  # before any repair: is the manifest stale?
            rebuilt = bool(reader.check_files())
        with Store.open(index, writable=True) as store:
            problems = store.verify() + store.check_files()
            articles = {row[0] for row in store.catalog.db.execute("SELECT id FROM articles")}
    except FileNotFoundError:  # killed before the first commit: the index is still empty
        return KillCheck(lost=set(committed),
                         problems=["an empty index lost its articles"] if committed else [])
    except Exception as exc:  # noqa: BLE001 - any failure to open is what this reports
        return KillCheck(problems=[f"the index does not open: {exc!r}"], lost=set(committed))
    return KillCheck(articles, problems, committed - articles - set(may_be_gone), rebuilt)

"""Sentence vectors computed at ingest, so that answering a question embeds nothing but the
question.

An extractive answer scores the sentences of the retrieved passages by their cosine to the
question; embedding those sentences while the user waits was most of an answer's time (24
sentences: 163 ms median with bf16, 415 ms with fp32 on the 2-core Xeon). The ingester
embeds every sentence of its chunks once and stores the vector here, in the index's SQLite
database, keyed by a hash of the sentence's text: a sentence shared by overlapping chunks
or by syndicated copies is stored once, and what the reader looks up is exactly the text it
splits from a passage (`newscite.text.split_sentences`).

Vectors are stored as float16 (768 bytes for 384 dimensions): a cosine moves by less than
0.001. They belong to the index's embedding model, so `reindex` empties the table with the
chunks. A sentence without a stored vector (an index written before this table, or with
`sentence_vectors = false`) is embedded when asked, as before.

Example:
    >>> write(db, ["NATO delays the bid."], vectors)     # inside the writer's transaction
    >>> read(db, ["NATO delays the bid.", "Unknown."])  # {"NATO delays the bid.": array}
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from typing import Iterator, Sequence

import numpy as np

SCHEMA = ("CREATE TABLE IF NOT EXISTS sentence_vectors "
          "(key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID")
STORED_DTYPE = np.float16
# SQLite's default limit on the parameters of one statement is 32,766; stay well below it.
_KEYS_PER_QUERY = 500


def key(text: str) -> bytes:
    """The 16-byte BLAKE2b digest of a sentence: its row's key."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def read(db: sqlite3.Connection, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored vectors (float32) of those of `texts` that have one (none in an index
    written before this table existed, which a reader does not create)."""
    keys = {key(text): text for text in dict.fromkeys(texts)}
    rows = []
    with _without_table_as_empty():
        rows = _stored(db, list(keys), "key, vector")
    if not rows:
        return {}
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=STORED_DTYPE)
    vectors = vectors.reshape(len(rows), -1).astype(np.float32)
    return {keys[bytes(r[0])]: vector for r, vector in zip(rows, vectors)}


def missing(db: sqlite3.Connection, texts: Sequence[str]) -> list[str]:
    """Those of `texts` (distinct, in order) without a stored vector: what to embed."""
    keys = {key(text): text for text in dict.fromkeys(texts)}
    stored = {bytes(r[0]) for r in _stored(db, list(keys), "key")}
    return [text for k, text in keys.items() if k not in stored]


def _stored(db: sqlite3.Connection, keys: list[bytes], columns: str) -> list[sqlite3.Row]:
    """`columns` of the stored rows among `keys`, in batches of `_KEYS_PER_QUERY`."""
    rows = []
    for first in range(0, len(keys), _KEYS_PER_QUERY):
        batch = keys[first:first + _KEYS_PER_QUERY]
        rows += db.execute(f"SELECT {columns} FROM sentence_vectors WHERE key IN "
                           f"({','.join('?' * len(batch))})", batch).fetchall()
    return rows


def write(db: sqlite3.Connection, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Store one vector per text (inside the caller's transaction)."""
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} sentences but {len(vectors)} vectors")
    db.executemany("INSERT OR REPLACE INTO sentence_vectors (key, vector) VALUES (?, ?)",
                   ((key(text), np.asarray(vector, dtype=STORED_DTYPE).tobytes())
                    for text, vector in zip(texts, vectors)))


def size(db: sqlite3.Connection) -> int:
    """How many sentence vectors are stored."""
    with _without_table_as_empty():
        return db.execute("SELECT count(*) FROM sentence_vectors").fetchone()[0]
    return 0


@contextlib.contextmanager
def _without_table_as_empty() -> Iterator[None]:
    """Swallow the error of an index written before the table existed (it reads as empty)."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):
            raise

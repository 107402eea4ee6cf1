"""Taking up the derived indexes a manifest names, catching them up with SQLite, and
removing the files no manifest needs any more (used by `composite.Store`).

The manifest records `covered`, the largest chunk id when it was written. Chunk ids only
grow (SQLite AUTOINCREMENT), so what SQLite holds beyond that manifest is exactly the chunks
with larger ids (added since) and the chunks it no longer has (deleted since). Catching up
reads only those: after a kill between a commit and its flush, or when a reader opens while
a writer is ahead of its last flush, opening costs what was written since, not a rebuild.

Example:
    >>> keywords = load_keywords(catalog, manifest)
    >>> dense.load(manifest) and catch_up(catalog, dense, keywords, manifest)
    True
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from newscite.index.keywords import KeywordIndex
from newscite.index.store.catalog import Catalog
from newscite.index.store.dense import DenseIndex

BM25_DIR = "bm25-segments"  # the folder of keyword segments, inside the index directory


def load_keywords(catalog: Catalog, manifest: dict | None) -> KeywordIndex | None:
    """The keyword index the manifest names, its chunks not in SQLite marked dead; None
    when there is no manifest to take up: none, an older format, or written for another
    identity (a reindex) or dense index kind."""
    if not manifest or "bm25_segments" not in manifest or \
            manifest.get("identity") != catalog.identity or \
            manifest.get("dense_kind") != catalog.dense_kind.value:
        return None
    return KeywordIndex.load(catalog.path / manifest["bm25_dir"], manifest["bm25_segments"],
                             catalog.chunks.ids)


def catch_up(catalog: Catalog, dense: DenseIndex, keywords: KeywordIndex,
             manifest: dict) -> bool:
    """Bring the loaded indexes up to SQLite: index the chunks committed after the manifest
    was written, drop the deleted ones. False when they hold less than SQLite held then (a
    damaged or foreign file): the store rebuilds instead. An engine other than FAISS keeps
    its vectors on a server the writer updates with every commit, so it is left as it is."""
    covered = int(manifest.get("covered", 0))
    live = catalog.chunks.ids
    before = live[live <= covered]
    if not np.array_equal(keywords.chunk_ids, before):
        return False
    keywords.add(*catalog.chunk_texts(after=covered))
    if dense.engine == "faiss":
        present = np.asarray(dense.ids(), dtype=np.int64)
        alive = np.isin(present, live)
        if not np.array_equal(present[alive], before):
            return False
        dense.remove(present[~alive].tolist())
        for ids, vectors in catalog.stored_vectors(after=covered):
            dense.add(ids, vectors)
    return np.array_equal(keywords.chunk_ids, live)


def _named(manifest: dict) -> set[str]:
    """The derived files and folders a manifest names in the index directory."""
    return {manifest.get("dense_file"), manifest.get("bm25_dir"),
            *manifest.get("dense_deltas", [])} - {None}


def remove_unnamed(path: Path, derived: dict, previous: dict) -> None:
    """Remove derived files (and leftover temporary ones) that neither the manifest just
    written (`derived`) nor the one before it names: a reader that read the previous
    manifest may still be loading its files."""
    keep = _named(derived) | _named(previous)
    for entry in path.iterdir():
        if entry.name.startswith(("dense-", "bm25-")) and entry.name not in keep:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    segments = set(derived.get("bm25_segments", [])) | set(previous.get("bm25_segments", []))
    folder = path / derived["bm25_dir"]
    for entry in folder.iterdir():
        if entry.name not in segments:
            entry.unlink(missing_ok=True)

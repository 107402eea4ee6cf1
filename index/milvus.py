"""Transitional: how `newscite.factory` opens an index whose vectors live in Milvus.

The Milvus dense index is `newscite.index.store.dense.milvus`; an index of either engine
opens with `Store.open(path, engine=<the store setting>)`. This module goes once the factory
opens stores that way.
"""

from __future__ import annotations

from pathlib import Path

from newscite.index.store import Store


class MilvusStore:
    """`MilvusStore.open(path, uri=URI, ...)` is `Store.open(path, engine=URI, ...)`."""

    @staticmethod
    def open(path: str | Path, *, uri: str, **options) -> Store:
        return Store.open(path, engine=uri, **options)

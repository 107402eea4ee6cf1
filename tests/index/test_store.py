import json
import sqlite3

import numpy as np
import pytest

from newscite.index.store import IndexLockedError, IndexMismatchError, Store
from newscite.types import Filters

from tests.index.test_store_conformance import IDENTITY, _article, _item


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "idx", identity=IDENTITY, writable=True, create=True) as s:
        s.upsert([_item(_article(1, "Alpha", 1), 0), _item(_article(2, "Beta", 5), 1),
                  _item(_article(3, "Alpha", 9), 2)])
        yield s


def test_reopen_reads_what_was_committed_and_writes_no_pickle(store, tmp_path):
    store.flush()
    files = [p for p in (tmp_path / "idx").rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle")]
    for npy in (tmp_path / "idx").rglob("*.npy"):
        np.load(npy, allow_pickle=False)
    store.close()
    with Store.open(tmp_path / "idx", identity=IDENTITY) as again:
        assert again.counts() == {"articles": 3, "chunks": 3}
        assert again.keyword_search("topic2", k=1)


def test_other_model_or_chunker_is_refused_with_how_to_rebuild(store, tmp_path):
    store.close()
    with pytest.raises(IndexMismatchError, match="reindex"):
        Store.open(tmp_path / "idx", identity={**IDENTITY, "model": "other"})
    with pytest.raises(IndexMismatchError, match="chunk_tokens"):
        Store.open(tmp_path / "idx", identity={**IDENTITY, "chunk_tokens": 100})


def test_a_refused_writer_lets_go_of_the_lock(store, tmp_path):
    store.close()
    with pytest.raises(IndexMismatchError):
        Store.open(tmp_path / "idx", identity={**IDENTITY, "model": "other"}, writable=True)
    with Store.open(tmp_path / "idx", identity=IDENTITY, writable=True) as again:
        assert again.counts()["articles"] == 3


def test_second_writer_fails_clearly(store, tmp_path):
    with pytest.raises(IndexLockedError, match="another newscite process"):
        Store.open(tmp_path / "idx", identity=IDENTITY, writable=True)


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="newscite ingest"):
        Store.open(tmp_path / "nothing")


def test_unflushed_commit_is_rebuilt_from_sqlite_on_open(store, tmp_path):
    store.flush()
    store.upsert([_item(_article(4, "Gamma", 12), 3)])  # committed, derived files now stale
    store._dirty = False  # simulate a kill before flush: close() must not write them
    store.close()
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    db = sqlite3.connect(tmp_path / "idx" / "newsrag.sqlite")
    assert manifest["generation"] < int(db.execute(
        "SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    with Store.open(tmp_path / "idx", identity=IDENTITY) as again:
        assert again.counts()["chunks"] == 4
        hit = again.dense_search(np.array([0, 0, 0, 1], dtype=np.float32), k=1)[0][0]
        assert again.passages([hit])[0].title == "Story 4"
        assert again.passages([again.keyword_search("topic4", k=1)[0][0]])[0].title == "Story 4"


def test_hnsw_index_supports_filters_and_deletes(tmp_path):
    with Store.open(tmp_path / "h", identity=IDENTITY, writable=True, create=True,
                         dense_kind="hnsw") as s:
        s.upsert([_item(_article(1, "Alpha", 1), 0), _item(_article(2, "Beta", 5), 1)])
        s.delete(s.find_ids(["https://news.example/1"]))
        hits = s.dense_search(np.array([1, 0, 0, 0], dtype=np.float32), k=2,
                              filters=Filters(sources=("Beta",)))
        assert [s.passages([i])[0].title for i, _ in hits] == ["Story 2"]


def test_the_feed_is_kept_and_an_index_from_before_feeds_is_upgraded(tmp_path):
    from dataclasses import replace

    path = tmp_path / "idx"
    with Store.open(path, identity=IDENTITY, writable=True, create=True) as store:
        web = replace(_article(1, "Alpha", 1), feed="https://news.example/feed.xml")
        store.upsert([_item(web, 0)])
        # as an older version wrote it
        store.catalog.db.execute("ALTER TABLE articles DROP COLUMN feed")
    with Store.open(path) as reader:
        assert reader.article(web.id).feed is None
    with Store.open(path, writable=True) as writer:
        writer.upsert([_item(web, 0)])
    with Store.open(path) as reader:
        assert reader.article(web.id).feed == "https://news.example/feed.xml"

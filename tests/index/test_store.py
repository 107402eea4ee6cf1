import json
import sqlite3
from datetime import datetime, timezone

import numpy as np
import pytest

from index.articles import Article
from index.chunking import SentenceChunker
from index.store import FaissStore, IndexLockedError, IndexMismatchError
from rag.schema import Filters

IDENTITY = {"model": "test-model", "dimension": 4, "chunker": "sentence", "chunk_tokens": 200,
            "chunk_overlap": 40}


def _article(n: int, source: str, day: int) -> Article:
    return Article.create(title=f"Story {n}", body=f"Body of story {n} about topic{n}.",
                          source=source, url=f"https://news.example/{n}",
                          published_at=datetime(2024, 1, day, tzinfo=timezone.utc))


def _item(article: Article, direction: int):
    from index.articles import Chunk

    chunk = Chunk(article.id, 0, 0, len(article.body), article.body, header=article.title)
    vector = np.zeros((1, 4), dtype=np.float32)
    vector[0, direction] = 1.0
    return article, [chunk], vector


@pytest.fixture
def store(tmp_path):
    with FaissStore.open(tmp_path / "idx", identity=IDENTITY, writable=True, create=True) as s:
        s.upsert([_item(_article(1, "Alpha", 1), 0), _item(_article(2, "Beta", 5), 1),
                  _item(_article(3, "Alpha", 9), 2)])
        yield s


def test_dense_and_keyword_search_with_filters(store):
    top = store.dense_search(np.array([0, 1, 0, 0], dtype=np.float32), k=1)
    assert store.passages([top[0][0]])[0].title == "Story 2"
    only_alpha = store.dense_search(np.array([0, 1, 0, 0], dtype=np.float32), k=3,
                                    filters=Filters(sources=("alpha",)))
    assert {store.passages([i])[0].source for i, _ in only_alpha} == {"Alpha"}
    late = store.keyword_search("story", k=5,
                                filters=Filters(since=datetime(2024, 1, 4, tzinfo=timezone.utc)))
    assert sorted(store.passages([i])[0].title for i, _ in late) == ["Story 2", "Story 3"]
    best = store.keyword_search("topic3", k=5)[0][0]
    assert store.passages([best])[0].title == "Story 3"


def test_reopen_reads_what_was_committed_and_writes_no_pickle(store, tmp_path):
    store.flush()
    files = [p for p in (tmp_path / "idx").rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle")]
    for npy in (tmp_path / "idx").rglob("*.npy"):
        np.load(npy, allow_pickle=False)
    store.close()
    with FaissStore.open(tmp_path / "idx", identity=IDENTITY) as again:
        assert again.counts() == {"articles": 3, "chunks": 3}
        assert again.keyword_search("topic2", k=1)


def test_delete_removes_article_chunks_and_vectors(store):
    gone = store.find_ids(["https://news.example/2/"])
    assert store.delete(gone) == 1
    assert store.counts() == {"articles": 2, "chunks": 2}
    hits = store.dense_search(np.array([0, 1, 0, 0], dtype=np.float32), k=3)
    assert "Story 2" not in [store.passages([i])[0].title for i, _ in hits]
    assert not store.keyword_search("topic2", k=3)


def test_other_model_or_chunker_is_refused_with_how_to_rebuild(store, tmp_path):
    store.close()
    with pytest.raises(IndexMismatchError, match="reindex"):
        FaissStore.open(tmp_path / "idx", identity={**IDENTITY, "model": "other"})
    with pytest.raises(IndexMismatchError, match="chunk_tokens"):
        FaissStore.open(tmp_path / "idx", identity={**IDENTITY, "chunk_tokens": 100})


def test_second_writer_fails_clearly(store, tmp_path):
    with pytest.raises(IndexLockedError, match="another newsrag process"):
        FaissStore.open(tmp_path / "idx", identity=IDENTITY, writable=True)


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="newsrag ingest"):
        FaissStore.open(tmp_path / "nothing")


def test_unflushed_commit_is_rebuilt_from_sqlite_on_open(store, tmp_path):
    store.flush()
    store.upsert([_item(_article(4, "Gamma", 12), 3)])  # committed, derived files now stale
    store._dirty = False  # simulate a kill before flush: close() must not write them
    store.close()
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    db = sqlite3.connect(tmp_path / "idx" / "newsrag.sqlite")
    assert manifest["generation"] < int(db.execute(
        "SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    with FaissStore.open(tmp_path / "idx", identity=IDENTITY) as again:
        assert again.counts()["chunks"] == 4
        hit = again.dense_search(np.array([0, 0, 0, 1], dtype=np.float32), k=1)[0][0]
        assert again.passages([hit])[0].title == "Story 4"
        assert again.passages([again.keyword_search("topic4", k=1)[0][0]])[0].title == "Story 4"


def test_hnsw_index_supports_filters_and_deletes(tmp_path):
    with FaissStore.open(tmp_path / "h", identity=IDENTITY, writable=True, create=True,
                         dense_kind="hnsw") as s:
        s.upsert([_item(_article(1, "Alpha", 1), 0), _item(_article(2, "Beta", 5), 1)])
        s.delete(s.find_ids(["https://news.example/1"]))
        hits = s.dense_search(np.array([1, 0, 0, 0], dtype=np.float32), k=2,
                              filters=Filters(sources=("Beta",)))
        assert [s.passages([i])[0].title for i, _ in hits] == ["Story 2"]


def test_the_feed_is_kept_and_an_index_from_before_feeds_is_upgraded(tmp_path):
    from dataclasses import replace

    path = tmp_path / "idx"
    with FaissStore.open(path, identity=IDENTITY, writable=True, create=True) as store:
        web = replace(_article(1, "Alpha", 1), feed="https://news.example/feed.xml")
        store.upsert([_item(web, 0)])
        store.db.execute("ALTER TABLE articles DROP COLUMN feed")  # as an older version wrote
    with FaissStore.open(path) as reader:
        assert reader.article(web.id).feed is None
    with FaissStore.open(path, writable=True) as writer:
        writer.upsert([_item(web, 0)])
    with FaissStore.open(path) as reader:
        assert reader.article(web.id).feed == "https://news.example/feed.xml"

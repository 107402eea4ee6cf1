"""One suite of store behaviours, run on every store: FAISS on local disk and Milvus (Milvus
Lite, the same client code that talks to a Milvus cluster). The retriever, the chat, the CLI
and the evaluation rely on exactly these behaviours."""

from datetime import datetime, timezone

import numpy as np
import pytest

from newscite.index.store import (
    CheckTarget,
    DenseIndex,
    IndexInfo,
    IngestTarget,
    RemoveTarget,
    SearchIndex,
    Store,
)
from newscite.types import Article, Chunk, Filters

IDENTITY = {"model": "test-model", "dimension": 4, "chunker": "sentence", "chunk_tokens": 200,
            "chunk_overlap": 40}
STORES = ["faiss", "milvus"]


def _open(kind: str, tmp_path, **options):
    if kind == "faiss":
        return Store.open(tmp_path / "idx", **options)
    pytest.importorskip("pymilvus", reason="the Milvus store needs pip install 'newscite[scale]'")
    return Store.open(tmp_path / "idx", engine=f"milvus://{tmp_path}/milvus.db", **options)


def _article(n: int, source: str, day: int | None, body: str | None = None) -> Article:
    return Article.create(title=f"Story {n}", body=body or f"Body of story {n} about topic{n}.",
                          source=source, url=f"https://news.example/{n}",
                          published_at=datetime(2024, 1, day, tzinfo=timezone.utc) if day else None)


def _item(article: Article, direction: int):
    """The article as one chunk whose vector points along axis `direction`."""
    chunk = Chunk(article.id, 0, 0, len(article.body), article.body, header=article.title)
    vector = np.zeros((1, 4), dtype=np.float32)
    vector[0, direction] = 1.0
    return article, [chunk], vector


def _axis(direction: int) -> np.ndarray:
    vector = np.full(4, 0.1, dtype=np.float32)
    vector[direction] = 1.0
    return vector / np.linalg.norm(vector)


def _titles(store, hits) -> list[str]:
    return [p.title for p in store.passages([i for i, _ in hits])]


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    with _open(request.param, tmp_path, identity=IDENTITY, writable=True, create=True) as s:
        s.upsert([_item(_article(1, "Alpha", 1), 0), _item(_article(2, "Beta", 5), 1),
                  _item(_article(3, "Alpha", 9), 2), _item(_article(4, "Gamma", None), 3)])
        yield s


def test_store_offers_every_caller_protocol_and_its_dense_index_the_dense_protocol(store):
    for protocol in (SearchIndex, IndexInfo, IngestTarget, RemoveTarget, CheckTarget):
        assert isinstance(store, protocol), protocol.__name__
    assert isinstance(store.dense, DenseIndex)


def test_get_by_id_passages_and_stats(store):
    article = store.article(_article(2, "Beta", 5).id)
    assert (article.title, article.source, article.url) == ("Story 2", "Beta",
                                                            "https://news.example/2")
    chunk_id = store.dense_search(_axis(1), k=1)[0][0]
    passage = store.passages([chunk_id])[0]
    assert passage.text == article.body[passage.start:passage.end]
    assert (passage.source, passage.date) == ("Beta", "2024-01-05")
    stats = store.stats()
    assert (stats["articles"], stats["chunks"], stats["outlets"]) == (4, 4, 3)
    assert store.sources()[0] == ("Alpha", 2)
    assert store.find_ids(["https://news.example/3"]) == [_article(3, "Alpha", 9).id]


def test_dense_search_ranks_by_cosine_and_filters_by_outlet_and_date(store):
    assert _titles(store, store.dense_search(_axis(2), k=4))[0] == "Story 3"
    alpha = store.dense_search(_axis(1), k=4, filters=Filters(sources=("alpha",)))
    assert sorted(_titles(store, alpha)) == ["Story 1", "Story 3"]
    january_2_to_6 = Filters(since=datetime(2024, 1, 2, tzinfo=timezone.utc),
                             until=datetime(2024, 1, 6, tzinfo=timezone.utc))
    assert _titles(store, store.dense_search(_axis(0), k=4, filters=january_2_to_6)) == \
        ["Story 2"]
    # an article of unknown date is never inside a date range
    late = store.dense_search(_axis(3), k=4, filters=Filters(since=datetime(2024, 1, 4,
                                                                            tzinfo=timezone.utc)))
    assert sorted(_titles(store, late)) == ["Story 2", "Story 3"]
    assert store.dense_search(_axis(0), k=4, filters=Filters(sources=("Nobody",))) == []


def test_scores_of_given_chunks_and_dates(store):
    hits = store.dense_search(_axis(0), k=4)
    ids = np.asarray(sorted(i for i, _ in hits), dtype=np.int64)
    expected = {i: s for i, s in hits}
    assert np.allclose(store.dense_scores(_axis(0), ids), [expected[i] for i in ids], atol=1e-5)
    keyword = store.keyword_scores("topic3", ids)
    assert (keyword > 0).sum() == 1
    assert store.passages([int(ids[np.argmax(keyword)])])[0].title == "Story 3"
    dates = store.chunk_dates(ids)
    assert np.isnan(dates).sum() == 1


def test_keyword_search_with_filters(store):
    assert _titles(store, store.keyword_search("topic3", k=5))[0] == "Story 3"
    late = store.keyword_search("story", k=5,
                                filters=Filters(since=datetime(2024, 1, 4, tzinfo=timezone.utc)))
    assert sorted(_titles(store, late)) == ["Story 2", "Story 3"]
    assert store.keyword_search("topic1", k=5, filters=Filters(sources=("Beta",))) == []


def test_re_upsert_replaces_the_article_its_chunks_and_vectors(store):
    changed = _article(1, "Alpha", 1, body="A new body about harbours and ferries.")
    store.upsert([_item(changed, 3)])
    assert store.counts() == {"articles": 4, "chunks": 4}
    assert store.article(changed.id).body == changed.body
    assert not store.keyword_search("topic1", k=5)
    assert _titles(store, store.keyword_search("ferries", k=5)) == ["Story 1"]
    near_axis_0 = store.dense_search(_axis(0), k=1)
    assert store.passages([near_axis_0[0][0]])[0].title != "Story 1"
    on_axis_3 = store.dense_search(_axis(3), k=2, filters=Filters(sources=("Alpha",)))
    assert _titles(store, on_axis_3)[0] == "Story 1"
    assert store.verify() == []


def test_delete_removes_article_chunks_and_vectors(store):
    assert store.delete(store.find_ids(["https://news.example/2/"])) == 1
    assert store.counts() == {"articles": 3, "chunks": 3}
    assert "Story 2" not in _titles(store, store.dense_search(_axis(1), k=4))
    assert not store.keyword_search("topic2", k=3)
    assert store.article(_article(2, "Beta", 5).id) is None


@pytest.mark.parametrize("kind", STORES)
def test_reopen_reads_what_was_committed(kind, tmp_path):
    with _open(kind, tmp_path, identity=IDENTITY, writable=True, create=True) as store:
        store.upsert([_item(_article(n, "Alpha", n), n % 4) for n in range(1, 9)])
        before = store.dense_search(_axis(2), k=3)
    with _open(kind, tmp_path, identity=IDENTITY) as again:
        assert again.counts() == {"articles": 8, "chunks": 8}
        after = again.dense_search(_axis(2), k=3)
        assert {i for i, _ in after} == {i for i, _ in before}
        assert [s for _, s in after] == pytest.approx([s for _, s in before])
        assert _titles(again, again.keyword_search("topic5", k=1)) == ["Story 5"]
        assert again.check_files() + again.verify() == []
        assert again.stats()["store"] == kind

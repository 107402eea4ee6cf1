"""A flat FAISS index keeps the vectors added after it was read or built in a second, small
index (so the large one is never reallocated): searches, filters, scores and deletions
across the two give exactly what one index over all the vectors gives, and writing a new
base file folds the two together (real fixture text, reproducible vectors)."""

import json

import numpy as np

from newscite.index.store import MANIFEST_NAME, Store
from newscite.types import Article, Filters

from tests.index.test_store_conformance import IDENTITY
from tests.index.test_store_incremental import _articles, _item

QUERIES = [np.roll(np.array([1, 0.3, -0.2, 0], dtype=np.float32), n) for n in range(4)]


def _copies(count: int) -> list[Article]:
    """Distinct articles made of the fixture texts (more chunks than the fixtures hold)."""
    articles = _articles()
    return [Article.create(title=f"{articles[n % 5].title} {n}", source=articles[n % 5].source,
                           url=f"https://copies.example/{n}",
                           body=articles[n % 5].body + f" Copy {n}.") for n in range(count)]


def _expected(store: Store, query: np.ndarray, k: int, filters: Filters | None = None):
    """The top k by inner product over every stored vector, as one flat index gives them."""
    ids, vectors = [np.concatenate(part) for part in zip(*store.catalog.stored_vectors())]
    mask = store.catalog.chunks.allowed(filters)
    if mask is not None:
        ids, vectors = ids[mask], vectors[mask]
    scores = vectors @ query
    top = np.argsort(-scores, kind="stable")[:k]
    return [int(i) for i in ids[top]], scores[top]


def _assert_searches_equal_one_index(store: Store) -> None:
    for query in QUERIES:
        for filters in (None, Filters(sources=("Metro Daily", "Valley Herald"))):
            ids, scores = _expected(store, query, 7, filters)
            found = store.dense_search(query, 7, filters)
            assert [i for i, _ in found] == ids
            np.testing.assert_allclose([s for _, s in found], scores, rtol=1e-5)
        chunk_ids = store.catalog.chunks.ids[::3]
        stored = dict(zip(*[np.concatenate(p) for p in zip(*store.catalog.stored_vectors())]))
        np.testing.assert_allclose(store.dense_scores(query, chunk_ids),
                                   [stored[i] @ query for i in chunk_ids], rtol=1e-5)


def test_additions_after_reading_go_to_a_second_index_and_search_as_one(tmp_path):
    path, articles = tmp_path / "idx", _copies(12)
    with Store.open(path, identity=IDENTITY, writable=True, create=True) as store:
        store.upsert([_item(a, n) for n, a in enumerate(articles[:6])])
        store.flush()  # the base file
        store.upsert([_item(articles[6], 6)])
        store.flush()  # a delta
    with Store.open(path, writable=True) as store:
        dense = store.dense
        base_size = dense.index.ntotal
        assert dense._recent is not None and dense._recent.ntotal  # the delta's vectors
        store.upsert([_item(a, n + 7) for n, a in enumerate(articles[7:])])
        store.delete([articles[0].id, articles[8].id])  # one from each part
        assert dense.index.ntotal < base_size  # removed in place from the base
        assert dense.ids() == store.catalog.chunks.ids.tolist()
        _assert_searches_equal_one_index(store)
    with Store.open(path) as reader:  # the deltas read back give the same
        assert not reader.verify() and not reader.check_files()
        _assert_searches_equal_one_index(reader)


def test_a_new_base_file_folds_the_second_index_in(tmp_path):
    path, articles = tmp_path / "idx", _copies(8)
    with Store.open(path, identity=IDENTITY, writable=True, create=True) as store:
        store.upsert([_item(articles[0], 0)])
        store.flush()
        first = json.loads((path / MANIFEST_NAME).read_text())["dense_file"]
        # more changes than the base has vectors: the next flush writes a new base
        store.upsert([_item(a, n + 1) for n, a in enumerate(articles[1:])])
        store.flush()
        manifest = json.loads((path / MANIFEST_NAME).read_text())
        assert manifest["dense_file"] != first and not manifest["dense_deltas"]
        assert store.dense._recent is None
        assert store.dense.index.ntotal == len(store.catalog.chunks.ids)
        _assert_searches_equal_one_index(store)
    with Store.open(path) as reader:
        assert not reader.check_files()
        assert reader.dense._recent is None
        _assert_searches_equal_one_index(reader)

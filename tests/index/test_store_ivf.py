import faiss
import numpy as np
import pytest

from newscite.index.store import Store
from newscite.index.store.dense import faiss as faiss_module
from newscite.index.store.dense.faiss import ivf_lists
from newscite.types import Chunk, Filters

from tests.index.test_store_conformance import IDENTITY, _article

N = 400


def _items(first: int, count: int, rng: np.random.Generator):
    """One-chunk articles from two outlets, with random unit vectors."""
    items = []
    for n in range(first, first + count):
        article = _article(n, "Alpha" if n % 2 else "Beta", None)
        chunk = Chunk(article.id, 0, 0, len(article.body), article.body, header=article.title)
        vector = rng.standard_normal((1, 4)).astype(np.float32)
        items.append((article, [chunk], vector / np.linalg.norm(vector)))
    return items


def _top(store, vector, **kwargs):
    return store.passages([store.dense_search(vector[0], k=1, **kwargs)[0][0]])[0].title


def test_ivf_store_is_flat_when_small_then_trained_lists_that_update_in_place(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(faiss_module, "IVF_MIN_CHUNKS", N // 2)
    assert ivf_lists(N // 2 - 1) == 0 and ivf_lists(N) == 64
    rng = np.random.default_rng(3)
    items = _items(1, N, rng)
    with Store.open(tmp_path / "idx", identity=IDENTITY, writable=True, create=True,
                         dense_kind="ivf") as s:
        s.upsert(items[:10])
        s.flush()
        assert not isinstance(s.dense.index, faiss.IndexIVF)  # exact while small
        s.upsert(items[10:])
        assert isinstance(s.dense.index, faiss.IndexIVF)  # retrained past the threshold
        assert s.dense.index.nlist == 64
        assert _top(s, items[7][2]) == "Story 8"  # a stored vector finds itself
        assert _top(s, items[6][2], filters=Filters(sources=("Alpha",))) in \
            {f"Story {n}" for n in range(1, N + 1, 2)}
        s.delete(s.find_ids(["https://news.example/8"]))
        assert "Story 8" not in [s.passages([i])[0].title
                                 for i, _ in s.dense_search(items[7][2][0], k=5)]
        chunk_ids = s.dense_search(items[20][2][0], k=3)
        np.testing.assert_allclose(s.dense_scores(items[20][2][0], np.asarray(
            [i for i, _ in chunk_ids])), [score for _, score in chunk_ids], rtol=1e-5)
    with Store.open(tmp_path / "idx", identity=IDENTITY) as again:
        assert isinstance(again.dense.index, faiss.IndexIVF)  # read back from the file
        assert _top(again, items[30][2]) == "Story 31"
        assert again.check_files() == [] and again.verify() == []


def test_ivf_is_a_valid_setting():
    from newscite.config import Config, ConfigError

    assert Config.load({"dense_index": "ivf"}, environ={}).dense_index == "ivf"
    with pytest.raises(ConfigError, match="dense_index"):
        Config.load({"dense_index": "ivfpq"}, environ={})

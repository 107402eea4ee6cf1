"""The segmented BM25 index scores exactly as one bm25s index built in full over the same
live chunks, whatever the segments, deletions and merges (real fixture text)."""

import json

import bm25s
import numpy as np
import pytest

from newscite.index.keywords import KeywordIndex, tokenize
from newscite.index.tiers import FANIN, MAX_MERGED, plan_merge
from newscite.text import sentences

from tests.conftest import FIXTURES, ROOT

QUERIES = ["How much will the new tram line cost?", "water limits drought valley valley",
           "battery recycling startup funds", "NATO Ukraine membership", "council vote",
           "nothing-indexed-here"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Fixture news and the seed article, one chunk per sentence with a title header."""
    articles = [json.loads(line) for line in (FIXTURES / "news.jsonl").read_text().splitlines()]
    articles.append({"title": "NATO", "body": (ROOT / "seeds" / "nato-ukraine-membership.md")
                     .read_text()})
    return [f"{a['title']}\n{s}" for a in articles for s in sentences(a["body"])]


def _full_scores(texts: list[str], query: str) -> np.ndarray:
    full = bm25s.BM25()
    full.index(tokenize(texts), show_progress=False)
    ids = full.get_tokens_ids(tokenize([query])[0])
    return full.get_scores(ids) if ids else np.zeros(len(texts), dtype=np.float32)


def _segmented(texts: list[str], batch: int) -> tuple[KeywordIndex, np.ndarray]:
    ids = np.arange(1, len(texts) + 1, dtype=np.int64) * 3  # ids grow, with gaps
    index = KeywordIndex([], [])
    for start in range(0, len(texts), batch):
        index.add(ids[start:start + batch], texts[start:start + batch])
    return index, ids


@pytest.mark.parametrize("batch", [1, 4, 1000])
def test_segments_score_as_one_full_build(texts, batch):
    assert len(texts) > 20
    index, ids = _segmented(texts, batch)
    assert len(index.segments) == -(-len(texts) // batch)
    for query in QUERIES:
        expected = _full_scores(texts, query)
        np.testing.assert_allclose(index.scores(query), expected, rtol=1e-6, atol=1e-7)
    hits = index.search(QUERIES[0], k=5)
    assert [i for i, _ in hits] == [int(ids[j]) for j in
                                    np.argsort(-_full_scores(texts, QUERIES[0]),
                                               kind="stable")[:5]]


def test_deleted_chunks_stop_counting_in_idf_and_average_length(texts):
    index, ids = _segmented(texts, 3)
    dead = ids[::4]
    index.remove(dead)
    kept = [t for t, i in zip(texts, ids) if i not in set(dead.tolist())]
    assert index.chunk_ids.tolist() == [i for i in ids.tolist() if i not in set(dead.tolist())]
    for query in QUERIES:
        np.testing.assert_allclose(index.scores(query), _full_scores(kept, query), rtol=1e-6,
                                   atol=1e-7)


def test_remembered_scores_follow_every_change(texts):
    """Scores are remembered per query text, read-only, and forgotten when chunks are
    added or removed: each answer still equals a full build over the live chunks."""
    index, ids = _segmented(texts[:-5], 4)
    query = QUERIES[0]
    first = index.scores(query)
    assert index.scores(query) is first and not first.flags.writeable
    index.add(np.arange(1, 6, dtype=np.int64) + int(ids[-1]), texts[-5:])
    np.testing.assert_allclose(index.scores(query), _full_scores(texts, query), rtol=1e-6,
                               atol=1e-7)
    index.remove(ids[:3])
    np.testing.assert_allclose(index.scores(query), _full_scores(texts[3:], query), rtol=1e-6,
                               atol=1e-7)


def test_save_merges_drops_the_dead_and_loads_back_equal(texts, tmp_path):
    index, ids = _segmented(texts[:-5], 2)
    index.remove(ids[1:8])
    names = index.save(tmp_path, generation=7)
    assert len(names) < len(texts) // 2 and all((tmp_path / n).exists() for n in names)
    assert sum(map(len, index.segments)) < len(texts) - 5  # merged: deleted chunks are gone
    live = np.setdiff1d(ids[:len(texts) - 5], ids[1:8])
    loaded = KeywordIndex.load(tmp_path, names, live)
    # terms first seen in the merged segment keep their ids: a later segment still scores
    later = np.arange(len(texts) - 4, len(texts) + 1, dtype=np.int64) * 3
    for again in (index, loaded):
        again.add(later, texts[-5:])
    kept = [t for t, i in zip(texts, list(ids[:len(texts) - 5]) + list(later))
            if i not in set(ids[1:8].tolist())]
    for query in QUERIES:
        expected = _full_scores(kept, query)
        np.testing.assert_allclose(loaded.scores(query), expected, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(index.scores(query), expected, rtol=1e-6, atol=1e-7)
    for npz in tmp_path.glob("*.npz"):
        np.load(npz, allow_pickle=False).files  # no pickled object arrays


def test_merge_policy_keeps_few_segments_and_bounds_each_merge():
    assert plan_merge([500] * (FANIN - 1), [0] * (FANIN - 1)) is None
    assert plan_merge([50_000] + [500] * FANIN, [0] * (FANIN + 1)) == (1, FANIN + 1)
    assert plan_merge([60_000] * FANIN, [0] * FANIN) is None  # over MAX_MERGED: left alone
    assert plan_merge([60_000, 500], [40_000, 0]) == (0, 1)  # mostly deleted: rewritten
    sizes: list[int] = []
    largest = 0
    for _ in range(3000):  # 3000 flushes of 500 chunks: 1.5M chunks
        sizes.append(500)
        while plan := plan_merge(sizes, [0] * len(sizes)):
            start, end = plan
            largest = max(largest, sum(sizes[start:end]))
            sizes[start:end] = [sum(sizes[start:end])]
    assert largest <= MAX_MERGED
    assert len(sizes) < 40  # about 1.5M / MAX_MERGED capped segments, plus the small tiers

"""BestSentence: the cosine of a chunk's closest stored sentence to each of several vectors
(the question's, its clauses'), each chunk read once."""

import numpy as np
import pytest

from newscite.index.store import Store
from newscite.rag.best_sentence import BestSentence
from newscite.text import split_sentences


class CountingStore:
    """The real store, counting the passages it is asked for."""

    def __init__(self, store):
        self.store, self.asked = store, []

    def passages(self, ids):
        self.asked += list(ids)
        return self.store.passages(ids)

    def sentence_vectors(self, texts):
        return self.store.sentence_vectors(texts)


def test_best_sentence_is_the_closest_stored_sentence_and_each_chunk_is_read_once(
        news_index, embedder):
    question = "How full is the reservoir?"
    vectors = embedder.embed([question, "When does the tram line open?"])
    with Store.open(news_index) as store:
        ids = store.catalog.stored_chunk_ids()
        counting = CountingStore(store)
        best = BestSentence(counting, size=len(ids))
        first = best.cosines(ids, vectors)
        assert sorted(counting.asked) == sorted(ids)
        again = best.cosines(ids[:2], vectors)
        assert all(np.array_equal(again[i], first[i]) for i in ids[:2])
        assert len(counting.asked) == len(ids)  # remembered: nothing read again
        for passage in store.passages(ids[:3]):
            texts = [passage.text[s:e] for s, e in split_sentences(passage.text)]
            expected = np.max(embedder.embed(texts) @ vectors.T, axis=0)
            assert first[passage.chunk_id] == pytest.approx(expected, abs=0.01)
        small = BestSentence(counting, size=1)
        small.cosines(ids[:2], vectors)
        small.cosines(ids[:1], vectors)  # only the last chunk was kept
        assert counting.asked[-3:] == [ids[0], ids[1], ids[0]]

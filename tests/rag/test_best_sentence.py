"""BestSentence: the cosine of a chunk's closest stored sentence, each chunk read once."""

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
    vector = embedder.embed([question])[0]
    with Store.open(news_index) as store:
        ids = store.catalog.stored_chunk_ids()
        counting = CountingStore(store)
        best = BestSentence(counting, size=len(ids))
        first = best.run(ids, vector)
        assert sorted(counting.asked) == sorted(ids)
        assert best.run(ids[:2], vector) == {i: first[i] for i in ids[:2]}
        assert len(counting.asked) == len(ids)  # remembered: nothing read again
        for passage in store.passages(ids[:3]):
            texts = [passage.text[s:e] for s, e in split_sentences(passage.text)]
            expected = float(np.max(embedder.embed(texts) @ vector))
            assert first[passage.chunk_id] == pytest.approx(expected, abs=0.01)
        other = embedder.embed(["When does the tram line open?"])[0]
        both = best.cosines(ids, np.stack([vector, other]))
        assert {i: float(v[0]) for i, v in both.items()} == pytest.approx(first)
        assert {i: float(v[1]) for i, v in both.items()} == pytest.approx(best.run(ids, other))
        small = BestSentence(counting, size=1)
        small.run(ids[:2], vector)
        small.run(ids[:1], vector)  # only the last chunk was kept
        assert counting.asked[-3:] == [ids[0], ids[1], ids[0]]

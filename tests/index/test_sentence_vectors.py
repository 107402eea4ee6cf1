"""Sentence vectors stored at ingest (index.store.sentences): every sentence of every chunk
has one, equal to what the embedder gives; a re-ingest, a copy and overlapping chunks embed
nothing twice; reindex drops the old model's; an index written without them still answers."""

import shutil
import sqlite3

import numpy as np
import pytest

from newscite.index.dedup import Deduplicator
from newscite.index.ingest import Ingester, index_identity, reindex
from newscite.index.store import Store
from newscite.index.store.catalog import DB_NAME
from newscite.rag.answer import ExtractiveAnswerer
from newscite.rag.query import Query
from newscite.rag.retrieve import Retriever
from newscite.text import split_sentences
from tests.conftest import FIXTURES, ROOT


class CountingEmbedder:
    """The real embedder, recording what it is asked to embed."""

    def __init__(self, embedder):
        self.embedder, self.calls = embedder, []
        self.dimension, self.identity = embedder.dimension, embedder.identity

    def embed(self, texts):
        self.calls.append(list(texts))
        return self.embedder.embed(texts)


def _chunk_sentences(store: Store) -> list[str]:
    ids = store.catalog.stored_chunk_ids()
    return [p.text[s:e] for p in store.passages(ids) for s, e in split_sentences(p.text)]


def _ingest(path, embedder, chunker, sources, **options):
    with Store.open(path, identity=index_identity(embedder, chunker), writable=True,
                    create=True) as store:
        Ingester(store, embedder, chunker, Deduplicator(), progress=False,
                 **options).run(sources)


@pytest.fixture
def news_copy(tmp_path, news_index):
    shutil.copytree(news_index, tmp_path / "idx")
    return tmp_path / "idx"


def test_every_sentence_of_every_chunk_is_stored_once_as_the_embedder_gives_it(
        news_index, embedder):
    with Store.open(news_index) as store:
        texts = _chunk_sentences(store)
        stored = store.sentence_vectors(texts)
        assert set(stored) == set(texts)
        assert store.stats()["sentence_vectors"] == len(set(texts))  # shared ones once
        sample = sorted(set(texts))[:20]
        got, expected = np.vstack([stored[t] for t in sample]), embedder.embed(sample)
        cosines = np.sum(got * expected, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(
            expected, axis=1)
        assert cosines.min() > 0.995  # float16 on disk; bf16 varies a little with the batch


def test_a_second_ingest_of_the_same_sentences_embeds_none_of_them(tmp_path, embedder,
                                                                   chunker):
    path = tmp_path / "idx"
    _ingest(path, embedder, chunker, [str(FIXTURES / "news.jsonl")])
    counting = CountingEmbedder(embedder)
    with Store.open(path, identity=index_identity(embedder, chunker), writable=True) as store:
        texts = _chunk_sentences(store)
        before = store.stats()["sentence_vectors"]
        ids = store.catalog.stored_chunk_ids()
        chunks = [(p.article_id, p.text) for p in store.passages(ids)]
    from newscite.index.ingest import store_sentence_vectors
    from newscite.types import Chunk

    with Store.open(path, identity=index_identity(embedder, chunker), writable=True) as store:
        again = [Chunk(article_id, 0, 0, len(text), text) for article_id, text in chunks]
        assert store_sentence_vectors(store, counting, again) == 0
        assert counting.calls == []
        assert store.stats()["sentence_vectors"] == before == len(set(texts))


def test_without_sentence_vectors_the_answer_embeds_them_and_says_the_same(tmp_path,
                                                                           embedder, chunker,
                                                                           news_index):
    bare = tmp_path / "bare"
    _ingest(bare, embedder, chunker, [str(FIXTURES / "news.jsonl"), str(ROOT / "seeds")],
            sentence_vectors=False)
    question = "How much will the new tram line cost?"
    answers, embedded = [], []
    for path in (news_index, bare):
        with Store.open(path) as store:
            assert (store.stats()["sentence_vectors"] > 0) == (path == news_index)
            counting = CountingEmbedder(embedder)
            answerer = ExtractiveAnswerer(counting, stored_sentences=store.sentence_vectors)
            passages = store.passages(store.catalog.stored_chunk_ids())[:10]
            query = Query(text=question, vector=embedder.embed([question])[0])
            answers.append(answerer.run(query, passages))
            embedded.append(sum(len(call) for call in counting.calls))
    assert embedded[0] == 0 and embedded[1] > 0  # stored: the answer embeds nothing
    assert answers[0].text == answers[1].text
    assert "240 million" in answers[0].text
    assert ([(c.passage.article_id, c.span) for c in answers[0].citations]
            == [(c.passage.article_id, c.span) for c in answers[1].citations])


def test_reindex_replaces_the_old_models_sentence_vectors(news_copy, embedder, chunker):
    with Store.open(news_copy, writable=True, identity=index_identity(embedder, chunker)) as store:
        with store.catalog.transaction() as db:  # mark every stored vector as the old model's
            db.execute("UPDATE sentence_vectors SET vector = zeroblob(length(vector))")
        reindex(store, embedder, chunker, progress=False)
        texts = _chunk_sentences(store)
        stored = store.sentence_vectors(texts)
        assert set(stored) == set(texts)
        assert min(float(np.linalg.norm(v)) for v in stored.values()) > 0.99


def test_an_index_written_before_sentence_vectors_still_answers(news_copy, embedder):
    """Without the table, the answer embeds the sentences itself and says the same, and
    retrieval ranks by the hand-set sum without the best-sentence part."""
    question = "How much will the new tram line cost?"
    query = Query(text=question, vector=embedder.embed([question])[0])

    def answer_and_top():
        with Store.open(news_copy) as store:
            passages = Retriever(store, embedder).run(query, k=5)
            answer = ExtractiveAnswerer(embedder, stored_sentences=store.sentence_vectors).run(
                query, passages)
            return store.stats()["sentence_vectors"], answer, passages

    stored, with_vectors, top = answer_and_top()
    db = sqlite3.connect(news_copy / DB_NAME)
    db.execute("DROP TABLE sentence_vectors")
    db.commit()
    db.close()
    none, without_vectors, top_without = answer_and_top()
    assert stored > 0 and none == 0
    assert "sentence" in top[0].scores and not any("sentence" in p.scores for p in top_without)
    assert "240 million" in top_without[0].text
    assert without_vectors.text == with_vectors.text and "240 million" in with_vectors.text

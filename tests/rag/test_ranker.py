import json

import numpy as np
import pytest

from newscite.index.store import Store
from newscite.rag.query import Query
from newscite.rag.ranker import (FEATURES, RANKER_PATH, LinearRanker, diversify, features,
                                 load_ranker)
from newscite.rag.retrieve import Retriever
from newscite.types import Passage

IDENTITY = {"model": "all-MiniLM-L6-v2", "chunk_tokens": 320, "chunk_overlap": 40}


def _ranker(**changes) -> LinearRanker:
    values = dict(coef={name: 0.0 for name in FEATURES}, intercept=0.0,
                  mean={name: 0.0 for name in FEATURES}, scale={name: 1.0 for name in FEATURES},
                  identity=IDENTITY)
    values["coef"] = {**values["coef"], "bm25": 2.0, "dense": 1.0}
    return LinearRanker(**{**values, **changes})


def _passage(chunk_id, article, start, text):
    return Passage(chunk_id=chunk_id, article_id=article, title="t", source=None,
                   published_at=None, url=None, text=text, start=start, end=start + len(text))


def test_score_is_the_standardised_linear_sum():
    ranker = _ranker(mean={**_ranker().mean, "bm25": 0.5}, scale={**_ranker().scale, "bm25": 0.5},
                     intercept=-1.0)
    values = {name: np.zeros(2) for name in FEATURES}
    values["bm25"], values["dense"] = np.array([1.0, 0.5]), np.array([0.2, 0.4])
    assert ranker.score(values) == pytest.approx([-1 + 2 * 1.0 + 0.2, -1 + 0 + 0.4])


def test_weights_round_trip_through_json_and_refuse_unknown_features(tmp_path):
    path = tmp_path / "ranker.json"
    path.write_text(_ranker(diversity=1.5).to_json())
    assert load_ranker(path, IDENTITY) == _ranker(diversity=1.5)
    data = json.loads(path.read_text())
    data["coef"]["outlet_is_reuters"] = 1.0
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="unknown features"):
        load_ranker(path, IDENTITY)


def test_a_ranker_fitted_for_another_index_or_missing_falls_back(tmp_path):
    path = tmp_path / "ranker.json"
    path.write_text(_ranker().to_json())
    assert load_ranker(path, {**IDENTITY, "chunk_tokens": 200}) is None
    assert load_ranker(tmp_path / "none.json", IDENTITY) is None


def test_the_shipped_weights_load_for_the_default_index():
    ranker = load_ranker(RANKER_PATH, IDENTITY)
    assert ranker is not None and set(ranker.coef) <= set(FEATURES)


def test_diversify_spreads_articles_only_when_asked():
    ids, scores, articles = [1, 2, 3, 4], np.array([3.0, 2.9, 2.8, 1.0]), ["a", "a", "b", "c"]
    assert diversify(ids, scores, articles, 0.0) == [1, 2, 3, 4]
    assert diversify(ids, scores, articles, 0.5) == [1, 3, 2, 4]
    assert diversify(ids, scores, articles, 5.0) == [1, 3, 4, 2]


def test_features_read_sentences_articles_and_ranks():
    query = Query(text="Who cut jobs at the plant, and who opened it?",
                  clauses=("Who cut jobs at the plant", "who opened it"))
    passages = [_passage(1, "a", 0, "Veltron cut jobs at the plant. It rained."),
                _passage(2, "a", 900, "Nothing here. The mayor opened the plant."),
                _passage(3, "b", 0, "Unrelated weather news.")]
    ids = np.array([1, 2, 3])
    raw = {"bm25": np.array([1.0, 0.5, 0.1]), "bm25_raw": np.array([8.0, 4.0, 0.8]),
           "clauses": np.array([[1.0, 0.2, 0.0], [0.1, 1.0, 0.0]]),
           "dense": np.array([0.6, 0.5, 0.1])}
    ranked = {"bm25": [(1, 8.0), (2, 4.0)], "dense": [(3, 0.9)], "clause0": [(2, 1.0)]}
    values = features(query, ids, ranked, raw, passages, depth=100, prior=raw["bm25"])
    assert set(values) == set(FEATURES)
    assert all(len(v) == 3 for v in values.values())
    assert values["article_chunks"] == pytest.approx(np.log1p([2, 2, 1]))
    assert values["article_best"] == pytest.approx([1.0, 1.0, 0.1])
    assert values["first_chunk"].tolist() == [1.0, 0.0, 1.0]
    assert values["rank_bm25"][2] == 1.0 and values["rank_bm25"][0] == pytest.approx(
        np.log1p(1) / np.log1p(100))
    assert values["rank_clause"][1] < values["rank_clause"][0] == 1.0
    assert values["clause_share"].tolist() == [0.5, 0.5, 0.0]
    assert values["sentence_question"][0] > values["sentence_question"][2] == 0.0
    assert values["dense_gap"] == pytest.approx([0.0, -0.1, -0.5])


@pytest.fixture(scope="module")
def store(news_index):
    with Store.open(news_index) as opened:
        yield opened


def test_the_retriever_ranks_with_a_ranker_and_keeps_its_answer(store, embedder):
    plain = Retriever(store, embedder).run("How full is the reservoir during the drought?", k=3)
    ranked = Retriever(store, embedder, ranker=_ranker(diversity=1.0)).run(
        "How full is the reservoir during the drought?", k=3)
    assert ranked[0].title == plain[0].title == "Drought forces water limits in the valley"
    assert "ranker" in ranked[0].scores and ranked[0].score == ranked[0].scores["ranker"]
    assert "ranker" not in plain[0].scores


def test_pools_give_features_for_training_without_a_ranker(store, embedder):
    retriever = Retriever(store, embedder)
    pools = retriever.pools(retriever.understand("battery recycling startup lithium"),
                            features=True)
    assert len(pools) == 1 and set(pools[0].features) == set(FEATURES)
    assert len(pools[0].articles) == len(pools[0].ids)


def test_shared_names_find_the_entity_that_links_articles():
    query = Query(text="Which company opened a plant and later cut jobs?")
    passages = [_passage(1, "a", 0, "Veltron opened a plant in the shipyard."),
                _passage(2, "b", 0, "Veltron will cut 300 jobs."),
                _passage(3, "c", 0, "The Mayor spoke.")]
    raw = {"bm25": np.array([1.0, 0.9, 0.1]), "bm25_raw": np.array([5.0, 4.5, 0.5]),
           "dense": np.array([0.5, 0.5, 0.1])}
    values = features(query, np.array([1, 2, 3]), {}, raw, passages, depth=100,
                      prior=raw["bm25"])
    assert values["shared_names"].tolist() == [0.1, 0.1, 0.0]

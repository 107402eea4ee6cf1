from datetime import datetime, timezone

import numpy as np
import pytest

from newscite.index.store import Store
from newscite.rag.retrieve import Retriever, Weights, collapse, round_robin, rrf, spans_of
from newscite.recipe import RECIPE
from newscite.text import split_sentences
from newscite.types import Filters, Passage


def test_rrf_sums_reciprocal_ranks():
    fused = rrf({"a": [(1, 9.0), (2, 8.0)], "b": [(2, 0.9), (3, 0.8)]}, k=60)
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61)
    assert max(fused, key=fused.get) == 2


def _passage(chunk_id, article, start, end, text="x"):
    return Passage(chunk_id=chunk_id, article_id=article, title="t", source=None,
                   published_at=None, url=None, text=text, start=start, end=end)


def test_collapse_drops_overlapping_chunks_of_one_article_and_identical_texts():
    kept = collapse([_passage(1, "a", 0, 100, "one"), _passage(2, "a", 50, 150, "two"),
                     _passage(3, "a", 140, 240, "three"), _passage(4, "b", 0, 10, "One!")], k=10)
    assert [p.chunk_id for p in kept] == [1, 3]
    # the same text twice in one article, far apart, is two passages (spans decide there)
    kept = collapse([_passage(1, "a", 0, 10, "Subscribe now"), _passage(2, "a", 500, 510,
                                                                        "Subscribe now."),
                     _passage(3, "b", 0, 10, "subscribe NOW")], k=10)
    assert [p.chunk_id for p in kept] == [1, 2]


@pytest.fixture(scope="module")
def retriever(news_index, embedder):
    store = Store.open(news_index)
    yield Retriever(store, embedder)
    store.close()


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_article_that_answers(retriever, mode):
    top = retriever.run("How full is the reservoir during the drought?", k=3, mode=mode)
    assert top[0].title == "Drought forces water limits in the valley"
    assert top[0].text in retriever.store.article(top[0].article_id).body


def test_hybrid_passages_carry_their_score_parts(retriever):
    top = retriever.run("battery recycling startup lithium", k=2)
    assert top[0].title == "Local startup raises funds for battery recycling"
    assert {"dense", "bm25", "score"} <= set(top[0].scores)
    assert top[0].score == top[0].scores["score"]
    assert top[0].scores["bm25"] == 1.0  # normalised by the best candidate


def test_rrf_fusion_ranks_too(news_index, embedder):
    with Store.open(news_index) as store:
        top = Retriever(store, embedder, fusion="rrf").run("reservoir drought limits", k=2)
    assert top[0].title == "Drought forces water limits in the valley"
    assert "rrf" in top[0].scores


def test_round_robin_interleaves_and_drops_repeats():
    assert round_robin([[1, 2, 3], [4, 1], [5]]) == [1, 4, 5, 2, 3]


def test_named_outlet_steers_retrieval(retriever):
    top = retriever.run("What did the Valley Herald report about money?", k=3)
    assert top[0].source == "Valley Herald"
    shared = retriever.run("What did the Harbor Gazette and the Valley Herald report?", k=2)
    assert {p.source for p in shared} == {"Harbor Gazette", "Valley Herald"}


def test_a_named_day_lifts_that_days_articles(retriever):
    top = retriever.run("the report published on July 19, 2024", k=1)
    assert top[0].published_at.date().isoformat() == "2024-07-19"
    assert top[0].scores["date"] > 0


def test_outlet_and_date_filters(retriever):
    gazette = retriever.run("news", k=10, filters=Filters(sources=("harbor gazette",)))
    assert gazette and {p.source for p in gazette} == {"Harbor Gazette"}
    summer = retriever.run("water", k=10, filters=Filters(
        since=datetime(2024, 7, 1, tzinfo=timezone.utc),
        until=datetime(2024, 7, 31, tzinfo=timezone.utc)))
    assert {p.title for p in summer} == {"Drought forces water limits in the valley"}
    assert retriever.run("water", k=10, filters=Filters(sources=("Nobody",))) == []


def test_seed_article_is_searchable_with_unknown_date_and_outlet(retriever):
    top = retriever.run("Which missile defense system did Kyiv ask NATO allies for?", k=3)
    assert any("THAAD" in p.text for p in top)
    assert top[0].source is None and top[0].published_at is None


def test_empty_query_is_a_clear_error(retriever):
    with pytest.raises(ValueError, match="empty"):
        retriever.run("   ")


def test_multihop_evidence_articles_are_found_in_top_10(multihop_index, multihop_slice, embedder):
    """Integration: a slice of the real corpus, real model; most dev questions find the
    article of at least one evidence fact in the top 10."""
    _, questions = multihop_slice
    answerable = [q for q in questions if q["question_type"] != "null_query"]
    with Store.open(multihop_index) as store:
        retriever = Retriever(store, embedder)
        found = 0
        for q in answerable:
            urls = {e["url"] for e in q["evidence_list"]}
            found += any(p.url in urls for p in retriever.run(q["query"], k=10))
    assert found / len(answerable) >= 0.9, f"{found}/{len(answerable)}"


def test_a_candidate_gains_its_best_sentences_cosine(retriever, embedder):
    """The `sentence` part is the weight times the cosine of the passage's sentence closest to
    the question, read from the index (the embedder gives the same within bf16's noise)."""
    question = "How much will the new tram line cost?"
    top = retriever.run(question, k=3)
    vector = embedder.embed([question])[0]
    for passage in top:
        sentences = [passage.text[s:e] for s, e in split_sentences(passage.text)]
        best = float(np.max(embedder.embed(sentences) @ vector))
        assert passage.scores["sentence"] == pytest.approx(RECIPE.weight_sentence * best,
                                                           abs=0.01)
    assert "240 million" in top[0].text


def test_a_candidate_gains_its_best_sentences_cosine_to_any_clause(retriever, embedder):
    """A multi-part question's clauses get vectors from the question's own run (one vector
    per clause); the `clause_sentence` part is the weight times the best cosine between a
    passage's sentences and any clause, so the passage that answers one part scores for it
    though it shares little with the other."""
    question = ("Which startup raised money to recycle batteries near the harbor, "
                "how full is the reservoir in the valley during the drought?")
    query = retriever.understand(question, embed=True)
    assert len(query.clauses) == 2 and query.clause_vectors.shape == (2, 384)
    vector, clauses = embedder.embed_with_spans(question, spans_of(question, query.clauses))
    assert np.allclose(query.clause_vectors, clauses, atol=1e-3)
    top = retriever.run(query, k=4)
    assert {"Local startup raises funds for battery recycling",
            "Drought forces water limits in the valley"} <= {p.title for p in top[:2]}
    for passage in top:
        sentences = embedder.embed([passage.text[s:e] for s, e in split_sentences(passage.text)])
        best = float(np.max(sentences @ clauses.T))
        assert passage.scores["clause_sentence"] == pytest.approx(
            RECIPE.weight_clause_sentence * best, abs=0.02)


def test_spans_of_finds_the_parts_in_order():
    text = "the cat, the dog, the cat again"
    assert spans_of(text, ("the cat", "the dog", "the cat again", "a bird")) == [
        (0, 7), (9, 16), (18, 31), (0, 0)]


def test_a_one_part_question_embeds_no_clause(retriever):
    query = retriever.understand("How much will the new tram line cost?", embed=True)
    assert query.clauses == () and query.clause_vectors is None
    assert "clause_sentence" not in retriever.run(query, k=1)[0].scores


def test_without_stored_sentences_the_hand_set_sum_is_as_it_was(news_index, embedder, tmp_path):
    import shutil
    import sqlite3

    copy = shutil.copytree(news_index, tmp_path / "idx")
    with sqlite3.connect(copy / "newsrag.sqlite") as db:
        db.execute("DELETE FROM sentence_vectors")
    question = "How full is the reservoir?"
    with Store.open(copy) as store:
        bare = Retriever(store, embedder).run(question, k=3)
    with Store.open(news_index) as store:
        before = Retriever(store, embedder, weights=Weights(sentence=0.0)).run(question, k=3)
    assert bare[0].title == "Drought forces water limits in the valley"
    assert "sentence" not in bare[0].scores
    assert [(p.chunk_id, p.score) for p in bare] == [(p.chunk_id, p.score) for p in before]

"""The pluggable reranker with a real (if untrained-headed) local cross-encoder: it reorders
each outlet's best candidates by the model's own scores, and a bad setting is named."""

import pytest

from newscite.config import Config, ConfigError
from newscite.index.store import Store
from newscite.rag.rerank import CrossEncoderReranker
from newscite.rag.retrieve import Retriever


@pytest.fixture(scope="module")
def cross_encoder_folder(embedder, tmp_path_factory):
    """A cross-encoder saved from the bundled MiniLM (its score head is freshly initialised,
    with a fixed seed): a real model on disk, as a user's trained one would be."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(str(embedder.path), device="cpu", local_files_only=True, num_labels=1).save(
        str(folder))
    return folder


def test_reranker_orders_the_top_candidates_by_the_cross_encoder(news_index, embedder,
                                                                 cross_encoder_folder):
    reranker = CrossEncoderReranker(cross_encoder_folder)
    question = "What did NATO decide about Ukraine's membership?"
    with Store.open(news_index) as store:
        plain = Retriever(store, embedder).run(question, k=5)
        reranked = Retriever(store, embedder, reranker=reranker, rerank_top=50).run(question, k=5)
        candidates = Retriever(store, embedder).run(question, k=50)
    best = reranker.run(question, candidates)[0]
    assert all("rerank" in p.scores for p in reranked) and "rerank" not in plain[0].scores
    scores = [p.scores["rerank"] for p in reranked]
    assert scores == sorted(scores, reverse=True)
    assert reranked[0].chunk_id == best.chunk_id
    assert scores[0] == pytest.approx(best.scores["rerank"], abs=1e-5)

def test_a_reranker_setting_that_is_not_a_model_folder_is_named(tmp_path):
    with pytest.raises(ConfigError, match="'reranker'"):
        Config.load({"reranker": str(tmp_path / "missing")}, environ={})
    with pytest.raises(ValueError, match="'reranker'"):
        CrossEncoderReranker(tmp_path)

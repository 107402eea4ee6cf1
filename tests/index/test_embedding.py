"""The embedder's runs: texts in order of their length in word pieces, so that little is
padded, with the same vectors as sentence-transformers' own batches."""

from __future__ import annotations

import numpy as np
import torch

from newscite.index import embedding
from newscite.index.embedding import Embedder, Precision, length_batches

TEXTS = ["NATO delays Ukraine's membership bid until the war ends.",
         "Short.", "The city council approved the new tram line; it will cost 240 million "
         "euros and open in 2027, officials said on Tuesday.", "Shares fell 3%.",
         "NATO delays Ukraine's membership bid until the war ends.", ""]


def test_runs_follow_falling_length_within_the_limits():
    counts = [5, 9, 5, 8, 9, 2, 5, 2, 2]
    runs = length_batches(counts, texts=2, tokens=18)
    assert [run.tolist() for run in runs] == [[1, 4], [3, 0], [2, 6, 5], [7, 8]]
    assert [len(run) for run in length_batches(counts, texts=1, tokens=0)] == [1] * 9


def test_vectors_match_sentence_transformers_padded_batches(monkeypatch):
    """Over several runs (at most 4 texts each here), so each row must land in its place."""
    monkeypatch.setattr(embedding, "TOKENS_PER_RUN", 0)
    embedder = Embedder(precision=Precision.FP32, batch_size=4)
    assert len(length_batches(embedder.token_counts(TEXTS), *embedder.run_limits)) == 2
    with torch.inference_mode():
        padded = embedder.model.encode(TEXTS, batch_size=64, normalize_embeddings=True,
                                       convert_to_numpy=True)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.dimension) and vectors.dtype == np.float32
    assert (vectors * padded).sum(axis=1).min() >= 0.99999
    assert np.array_equal(vectors[0], vectors[4])


def test_a_vector_does_not_depend_on_the_texts_beside_it():
    embedder = Embedder(precision=Precision.FP32)
    alone = np.vstack([embedder.embed([text]) for text in TEXTS])
    assert np.allclose(embedder.embed(TEXTS), alone, atol=1e-5)


def test_token_counts_include_the_special_tokens_and_stop_at_the_model_limit():
    embedder = Embedder(precision=Precision.FP32)
    counts = embedder.token_counts(["Short.", "word " * 1000, ""])
    assert counts == [4, embedder.max_tokens, 2]


QUESTION = ("Which startup raised money to recycle batteries, and how full is the reservoir "
            "during the drought?")


def test_spans_are_pooled_from_the_texts_own_run():
    """`embed_with_spans`: the text's vector as `embed` gives it, and each span's vector the
    mean of the word-piece vectors inside it, read in the whole text's context."""
    embedder = Embedder(precision=Precision.FP32)
    first = QUESTION.index("startup"), QUESTION.index(",")
    second = QUESTION.index("how"), len(QUESTION) - 1
    vector, spans = embedder.embed_with_spans(QUESTION, [first, second, (0, 0)])
    assert np.allclose(vector, embedder.embed([QUESTION])[0], atol=1e-5)
    encoded = embedder.tokenizer([QUESTION], return_offsets_mapping=True)
    with torch.inference_mode():
        pieces = embedder.model(embedder.model.preprocess([QUESTION]))["token_embeddings"][0]
    for (start, end), row in zip((first, second), spans):
        inside = [i for i, (s, e) in enumerate(encoded["offset_mapping"][0])
                  if s >= start and e <= end and e > s]
        expected = pieces[inside].mean(dim=0).numpy()
        assert np.allclose(row, expected / np.linalg.norm(expected), atol=1e-5)
    assert np.allclose(spans[2], vector)  # no word piece inside: the text's own vector
    alone = embedder.embed([QUESTION[second[0]:second[1]]])[0]
    assert 0.5 < float(spans[1] @ alone) < 0.99  # near the part alone, but not the same

"""The embedder's runs: texts grouped by length in word pieces, so that none is padded, with
the same vectors as sentence-transformers' own padded batches."""

from __future__ import annotations

import numpy as np
import torch

from newscite.index.embedding import Embedder, Precision, length_batches

TEXTS = ["NATO delays Ukraine's membership bid until the war ends.",
         "Short.", "The city council approved the new tram line; it will cost 240 million "
         "euros and open in 2027, officials said on Tuesday.", "Shares fell 3%.",
         "NATO delays Ukraine's membership bid until the war ends.", ""]


def test_runs_hold_one_length_each_longest_first_within_the_limits():
    counts = [5, 9, 5, 9, 9, 2, 5, 9, 2]
    runs = length_batches(counts, texts=2, tokens=18)
    rows = np.concatenate(runs)
    assert sorted(rows.tolist()) == list(range(len(counts)))
    assert [{counts[i] for i in run} for run in runs] == [{9}, {9}, {5}, {2}]
    assert [run.tolist() for run in runs] == [[1, 3], [4, 7], [0, 2, 6], [5, 8]]
    assert [len(run) for run in length_batches(counts, texts=1, tokens=0)] == [1] * 9


def test_vectors_match_sentence_transformers_padded_batches():
    embedder = Embedder(precision=Precision.FP32, batch_size=4)
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

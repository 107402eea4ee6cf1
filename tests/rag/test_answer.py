import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from newscite.rag.answer import SentenceVectors

ROOT = Path(__file__).resolve().parents[2]


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, embedder):
        self.embedder, self.texts = embedder, []

    def embed(self, texts):
        self.texts += texts
        return self.embedder.embed(texts)

    @property
    def dimension(self):
        return self.embedder.dimension


SENTENCES = ["NATO delays Ukraine's membership bid.", "Kyiv asked allies for Patriot systems.",
             "NATO delays Ukraine's membership bid."]


def test_sentence_vectors_embed_each_text_once_and_match_the_embedder(embedder):
    counting = CountingEmbedder(embedder)
    vectors = SentenceVectors(counting, size=10)
    got = vectors(SENTENCES)
    assert counting.texts == SENTENCES[:2]  # the repeat is embedded once
    assert got.shape == (3, embedder.dimension)
    np.testing.assert_allclose(got[0], got[2])
    expected = embedder.embed(SENTENCES[:2])
    assert float(got[1] @ expected[1]) > 0.999
    vectors(SENTENCES[1:])  # both remembered: nothing embedded
    assert counting.texts == SENTENCES[:2]


def test_sentence_vectors_forget_the_least_recently_used(embedder):
    counting = CountingEmbedder(embedder)
    vectors = SentenceVectors(counting, size=1)
    vectors(["first sentence."])
    vectors(["second sentence."])
    vectors(["first sentence."])
    assert counting.texts == ["first sentence.", "second sentence.", "first sentence."]
    assert vectors([]).shape == (0, embedder.dimension)
    with pytest.raises(ValueError, match="cache size"):
        SentenceVectors(embedder, size=-1)


def test_importing_newscite_makes_openmp_threads_sleep():
    """Set before torch or FAISS load their OpenMP runtime; a user's own setting wins."""
    code = "import os, newscite; print(os.environ['OMP_WAIT_POLICY'])"
    env = {"PATH": "/usr/bin:/bin"}

    def run(env):
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True).stdout.strip()

    assert run(env) == "PASSIVE"
    assert run({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"


def test_only_the_sentences_sharing_most_question_words_are_embedded(embedder):
    from newscite.rag.answer import ExtractiveAnswerer
    from newscite.types import Passage

    text = ("Kyiv asked NATO allies for Patriot systems. The weather was mild. "
            "Ukraine's membership bid was delayed by NATO. Markets closed higher.")
    passage = Passage(chunk_id=1, article_id="a", title="T", source="S", published_at=None,
                      url=None, text=text, start=0, end=len(text))
    counting = CountingEmbedder(embedder)
    answerer = ExtractiveAnswerer(counting, embed_sentences=2)
    ranked = answerer.sentences("Why did NATO delay Ukraine's membership bid?", [passage])
    assert len(ranked) == 4
    embedded = [t for t in counting.texts if not t.startswith("Why did")]
    assert embedded == ["Ukraine's membership bid was delayed by NATO.",
                        "Kyiv asked NATO allies for Patriot systems."]
    assert ranked[0].text == "Ukraine's membership bid was delayed by NATO."
    with pytest.raises(ValueError, match="embed_sentences"):
        ExtractiveAnswerer(embedder, embed_sentences=0)

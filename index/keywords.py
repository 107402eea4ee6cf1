"""BM25 keyword index over chunk texts (bm25s, English stop words, Snowball stemming).

Saved in bm25s' own format (numpy arrays without pickle, JSON vocabulary) next to the
chunk ids it covers, so the store can check that it matches its database.

Example:
    >>> kw = KeywordIndex.build(np.array([7, 9]), ["NATO delays Ukraine", "Apple earnings"])
    >>> kw.search("ukraine nato", k=1)
    [(7, ...)]
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer
    except ImportError as exc:
        raise ImportError("BM25 stemming needs PyStemmer: pip install PyStemmer==3.1.0") from exc
    return Stemmer.Stemmer("english")


def stem(words: list[str]) -> list[str]:
    """Snowball English stems, as the BM25 index uses."""
    return _stemmer().stemWords(words)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed word tokens, as the index was built with."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False,
                          show_progress=False)


class KeywordIndex:
    """A bm25s index whose documents are chunks, addressed by chunk id."""

    def __init__(self, retriever, chunk_ids: np.ndarray):
        self.retriever = retriever
        self.chunk_ids = chunk_ids

    @classmethod
    def build(cls, chunk_ids: np.ndarray, texts: list[str]) -> KeywordIndex:
        import bm25s

        retriever = bm25s.BM25()
        if texts:
            retriever.index(tokenize(texts), show_progress=False)
        return cls(retriever, chunk_ids)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        if len(self.chunk_ids):
            self.retriever.save(str(folder), allow_pickle=False)
        np.save(folder / "chunk_ids.npy", self.chunk_ids, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        chunk_ids = np.load(folder / "chunk_ids.npy", allow_pickle=False)
        retriever = (bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False)
                     if len(chunk_ids) else bm25s.BM25())
        return cls(retriever, chunk_ids)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros when no query word is indexed)."""
        if not len(self.chunk_ids):
            return np.zeros(0, dtype=np.float32)
        token_ids = self.retriever.get_tokens_ids(tokenize([query])[0])
        if not token_ids:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        return self.retriever.get_scores(token_ids)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top `k` (chunk id, score) with a positive score, among chunks where `mask` is True."""
        scores = self.scores(query)
        if mask is not None and len(scores):
            scores = np.where(mask, scores, 0.0)
        k = min(k, int(np.count_nonzero(scores > 0)))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.chunk_ids[i]), float(scores[i])) for i in top]

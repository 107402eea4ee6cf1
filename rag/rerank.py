"""Reranking: an optional second look at each outlet's best candidates.

The default is no reranker: the weighted fusion of BM25, clause and dense scores (see
rag.retrieve) measured best on the MultiHop-RAG dev questions, and no trained cross-encoder
ships in a PyPI wheel. A user with a local cross-encoder (a sentence-transformers
`CrossEncoder` folder, e.g. a copy of cross-encoder/ms-marco-MiniLM-L-6-v2) sets
`reranker = "/path/to/folder"`; it then reorders the top `rerank_top` candidates of each
outlet group by its score for (question, header + passage). Nothing is downloaded: the
folder must exist.

Example:
    >>> reranker = CrossEncoderReranker("/models/ms-marco-MiniLM-L-6-v2")
    >>> [p.title for p in reranker.run("Who won the election?", passages)][:1]
    ['Election results: ...']
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from newscite.config import model_folder
from newscite.types import Passage


class Reranker(Protocol):
    """Reorders passages for a question, best first, each scored in `scores["rerank"]`."""

    def run(self, question: str, passages: list[Passage]) -> list[Passage]: ...


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a local sentence-transformers cross-encoder."""

    def __init__(self, path: str | Path, *, batch_size: int = 16):
        self.path = model_folder(path)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(self.path), device="cpu", local_files_only=True)
        self.batch_size = batch_size

    def run(self, question: str, passages: list[Passage]) -> list[Passage]:
        if not passages:
            return []
        pairs = [(question, f"{p.title} | {p.source or ''} | {p.date}\n{p.text}")
                 for p in passages]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        scored = [replace(p, scores={**p.scores, "rerank": float(s)})
                  for p, s in zip(passages, scores)]
        return sorted(scored, key=lambda p: -p.scores["rerank"])

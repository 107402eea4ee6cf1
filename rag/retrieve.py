"""Hybrid retrieval: dense (FAISS) and keyword (BM25) candidates, fused, filtered, collapsed.

Fusion is reciprocal-rank fusion: a chunk's score is the sum over retrievers of
1 / (rrf_k + rank), with rrf_k = 60 by default (Cormack et al., 2009). Filters (date range,
outlets) are applied inside each retriever, so the top k is filled from matching chunks
only. Overlapping chunks of one article and identical texts are collapsed to the best one.

Example:
    >>> retriever = Retriever(store, embedder)
    >>> [p.title for p in retriever.run("NATO Ukraine membership", k=3)]
    ['NATO Set to delay Ukraine’s membership bid as Trump looms']
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from dataclasses import replace

from index.embedding import Embedder
from index.store import Store
from rag.schema import Filters, Passage


class Mode(str, enum.Enum):
    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


def rrf(rankings: dict[str, list[tuple[int, float]]], k: int = 60) -> dict[int, float]:
    """Reciprocal-rank fusion of several ranked (id, score) lists: sum of 1 / (k + rank)."""
    fused: dict[int, float] = defaultdict(float)
    for ranking in rankings.values():
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] += 1.0 / (k + rank)
    return dict(fused)


def _normalised(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def overlaps(a: Passage, b: Passage, share: float = 0.5) -> bool:
    """Same article and the spans share at least `share` of the shorter one; or same text."""
    if a.article_id == b.article_id:
        common = min(a.end, b.end) - max(a.start, b.start)
        return common >= share * min(a.end - a.start, b.end - b.start)
    return _normalised(a.text) == _normalised(b.text)


def collapse(passages: list[Passage], k: int) -> list[Passage]:
    """The first `k` passages in order, skipping any that overlaps one already kept."""
    kept: list[Passage] = []
    for passage in passages:
        if not any(overlaps(passage, other) for other in kept):
            kept.append(passage)
            if len(kept) == k:
                break
    return kept


class Retriever:
    """Finds passages for a query in a store (see the module docstring)."""

    def __init__(self, store: Store, embedder: Embedder, *, mode: Mode | str = Mode.HYBRID,
                 candidates: int = 100, rrf_k: int = 60):
        if candidates < 1:
            raise ValueError(f"setting 'candidates' must be at least 1, got {candidates}")
        if rrf_k < 1:
            raise ValueError(f"setting 'rrf_k' must be at least 1, got {rrf_k}")
        self.store = store
        self.embedder = embedder
        self.mode = Mode(mode)
        self.candidates = candidates
        self.rrf_k = rrf_k

    def rankings(self, query: str, filters: Filters | None = None,
                 mode: Mode | str | None = None) -> dict[str, list[tuple[int, float]]]:
        """Each retriever's ranked (chunk id, score) candidates for `query`."""
        mode = Mode(mode or self.mode)
        ranked: dict[str, list[tuple[int, float]]] = {}
        if mode in (Mode.HYBRID, Mode.DENSE):
            vector = self.embedder.embed([query])[0]
            ranked["dense"] = self.store.dense_search(vector, self.candidates, filters)
        if mode in (Mode.HYBRID, Mode.BM25):
            ranked["bm25"] = self.store.keyword_search(query, self.candidates, filters)
        return ranked

    def run(self, query: str, k: int = 10, filters: Filters | None = None,
            mode: Mode | str | None = None) -> list[Passage]:
        """The top `k` passages for `query`, best first, each with its per-retriever scores."""
        if not query.strip():
            raise ValueError("the query is empty: type a question or some keywords")
        ranked = self.rankings(query, filters, mode)
        scores = {name: dict(ranking) for name, ranking in ranked.items()}
        if len(ranked) > 1:
            fused = rrf(ranked, self.rrf_k)
            order = sorted(fused, key=lambda i: (-fused[i], i))
            scores["fused"] = fused
        else:
            (name, ranking), = ranked.items()
            order = [chunk_id for chunk_id, _ in ranking]
        final = scores.get("fused") or next(iter(scores.values()))
        passages = [
            replace(p, score=final[p.chunk_id],
                    scores={n: s[p.chunk_id] for n, s in scores.items() if p.chunk_id in s})
            for p in self.store.passages(order[: max(k * 4, k + 20)])]
        return collapse(passages, k)

"""News-aware hybrid retrieval: keyword (BM25) and dense (FAISS) candidates, scored, per outlet.

For a question the retriever
1. reads it (`rag.query`): outlets named, days named, relative date ranges, its clauses;
2. per named outlet (or once, over everything, when none is named) gathers the top
   `candidates` chunks of each retriever within the filters, plus the top
   `clause_candidates` BM25 chunks of each clause;
3. scores every candidate, by default with a weighted sum (`Fusion.WEIGHTED`):
   BM25 of the whole question (divided by the best candidate's) + `clause` x the best
   normalised BM25 of any single clause + `dense` x cosine similarity + `date` if the
   article appeared within a day of a day named in the question + `recency` x how new it
   is when the question asks for the latest news, and then the best `sentence_top` of them
   gain `sentence` x the cosine of their sentence closest to the question (vectors stored at
   ingest: a chunk with one sentence that answers rises above one only near the question
   as a whole) and `clause_sentence` x the best such cosine to any clause of a multi-part
   question (each clause's vector pooled from the question's own run: a fact that answers
   one part rises even when it shares little with the question as a whole). `Fusion.RRF`
   instead sums 1 / (rrf_k + rank) over the retrievers (rrf_k = 60, Cormack et al. 2009);
   it measured worse here.
   With a learned ranker (rag.ranker, `ranker = "auto"` or a weights file fitted for this
   index's model and chunking) a logistic model over the candidates' features scores them
   instead, and each group's order spreads over articles and clauses (`ranker.diversify`);
4. optionally reorders each outlet's best `rerank_top` candidates with a reranker
   (rag.rerank: a local cross-encoder, when one is configured);
5. shares the top k round-robin between the named outlets, so that a question about
   several outlets gets evidence from each of them;
6. collapses overlapping chunks of one article and identical texts to the best one.

Example:
    >>> retriever = Retriever(store, embedder)
    >>> [p.title for p in retriever.run("NATO Ukraine membership", k=1)]
    ['NATO Set to delay Ukraine’s membership bid as Trump looms']
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import cached_property
from itertools import zip_longest

import numpy as np

from newscite.index.embedding import Embedder
from newscite.index.store import SearchIndex
from newscite.rag.best_sentence import BestSentence
from newscite.rag.query import Query, QueryParser
from newscite.rag.ranker import READ_TOP, LinearRanker, diversify
from newscite.rag.ranker import features as ranker_features
from newscite.rag.rerank import Reranker
from newscite.recipe import RECIPE
from newscite.types import Filters, Passage


class Mode(str, enum.Enum):
    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


class Fusion(str, enum.Enum):
    WEIGHTED = "weighted"
    RRF = "rrf"


@dataclass(frozen=True)
class Weights:
    """Weights of the score parts in `Fusion.WEIGHTED` (BM25 of the whole question is 1)."""

    clause: float = RECIPE.weight_clause
    dense: float = RECIPE.weight_dense
    date: float = RECIPE.weight_date
    recency: float = RECIPE.weight_recency
    sentence: float = RECIPE.weight_sentence
    clause_sentence: float = RECIPE.weight_clause_sentence


@dataclass
class Pool:
    """One outlet group's candidates: ids (ascending), the hand-set fusion's weighted parts
    and their sum, and, when a ranker is set, its features, each candidate's article and
    the clauses' normalised BM25 (one row per clause)."""

    ids: np.ndarray
    parts: dict[str, np.ndarray]
    total: np.ndarray
    features: dict[str, np.ndarray] | None = None
    articles: list[str] = field(default_factory=list)
    clauses: np.ndarray | None = None


def rrf(rankings: dict[str, list[tuple[int, float]]], k: int = RECIPE.rrf_k) -> dict[int, float]:
    """Reciprocal-rank fusion of several ranked (id, score) lists: sum of 1 / (k + rank)."""
    fused: dict[int, float] = defaultdict(float)
    for ranking in rankings.values():
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] += 1.0 / (k + rank)
    return dict(fused)


def round_robin(rankings: list[list[int]]) -> list[int]:
    """Interleave ranked lists (first of each, then second of each, ...), dropping repeats."""
    merged: dict[int, None] = {}
    for tier in zip_longest(*rankings):
        merged.update((i, None) for i in tier if i is not None)
    return list(merged)


def _normalised(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def overlaps(a: Passage, b: Passage, share: float = 0.5) -> bool:
    """Same article and the spans share at least `share` of the shorter one; or same text."""
    if a.article_id == b.article_id:
        common = min(a.end, b.end) - max(a.start, b.start)
        return common >= share * min(a.end - a.start, b.end - b.start)
    return _normalised(a.text) == _normalised(b.text)


def collapse(passages: list[Passage], k: int) -> list[Passage]:
    """The first `k` passages in order, skipping any that overlaps one already kept (as
    `overlaps` decides; each text is normalised once, not once per pair)."""
    kept: list[Passage] = []
    articles_of: dict[str, set[str]] = {}  # normalised text -> articles of kept passages
    for passage in passages:
        text = _normalised(passage.text)
        if articles_of.get(text, set()) - {passage.article_id} or any(
                passage.article_id == other.article_id and overlaps(passage, other)
                for other in kept):
            continue
        kept.append(passage)
        articles_of.setdefault(text, set()).add(passage.article_id)
        if len(kept) == k:
            break
    return kept


class Retriever:
    """Finds passages for a question in a store (see the module docstring)."""

    def __init__(self, store: SearchIndex, embedder: Embedder, *, mode: Mode | str = Mode.HYBRID,
                 fusion: Fusion | str = Fusion.WEIGHTED, candidates: int = RECIPE.candidates,
                 rrf_k: int = RECIPE.rrf_k, weights: Weights = Weights(),
                 clause_candidates: int = RECIPE.clause_candidates,
                 reference_date: datetime | None = None, reranker: Reranker | None = None,
                 rerank_top: int = RECIPE.rerank_top, ranker: LinearRanker | None = None):
        if candidates < 1:
            raise ValueError(f"setting 'candidates' must be at least 1, got {candidates}")
        if rrf_k < 1:
            raise ValueError(f"setting 'rrf_k' must be at least 1, got {rrf_k}")
        self.store = store
        self.embedder = embedder
        self.mode = Mode(mode)
        self.fusion = Fusion(fusion)
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.weights = weights
        self.clause_candidates = clause_candidates
        self._reference_date = reference_date
        self.reranker = reranker
        self.rerank_top = rerank_top
        self.ranker = ranker
        self.best_sentence = BestSentence(store)

    @cached_property
    def reference_date(self) -> datetime:
        """"Now" for relative dates: configured, else the newest article's date (so a fixed
        corpus gives stable answers), else today."""
        return self._reference_date or self.store.date_span()[1] or datetime.now(timezone.utc)

    @cached_property
    def parser(self) -> QueryParser:
        return QueryParser([name for name, _ in self.store.sources()], self.reference_date)

    def understand(self, text: str, reference_date: datetime | None = None, *,
                   embed: bool = False) -> Query:
        """The question read (outlets, dates, clauses); with `embed`, also its vector, which
        `run` and the answerer then reuse: one question, one embedding."""
        query = self.parser.run(text, reference_date)
        return self.embedded(query) if embed and self.mode is not Mode.BM25 else query

    def embedded(self, query: Query) -> Query:
        """`query` with its vector and, when the clauses' best sentences count, one vector per
        clause, all from one embedding call; as it is when it has its vector already."""
        if query.vector is not None:
            return query
        if not (query.clauses and self._scores_clause_sentences):
            return replace(query, vector=self.embedder.embed([query.text])[0])
        vector, clauses = self.embedder.embed_with_spans(query.text,
                                                         spans_of(query.text, query.clauses))
        return replace(query, vector=vector, clause_vectors=clauses)

    @property
    def _scores_clause_sentences(self) -> bool:
        return bool(self.weights.clause_sentence) and self.fusion is Fusion.WEIGHTED

    def run(self, question: str | Query, k: int = RECIPE.k, filters: Filters | None = None,
            mode: Mode | str | None = None, reference_date: datetime | None = None
            ) -> list[Passage]:
        """The top `k` passages for `question`, best first, each with its score parts."""
        query = question if isinstance(question, Query) else None
        text = query.text if query else question
        if not text.strip():
            raise ValueError("the query is empty: type a question or some keywords")
        query = query or self.understand(text, reference_date)
        return self.select(text, self.pools(query, filters, mode), k)

    def pools(self, query: Query, filters: Filters | None = None, mode: Mode | str | None = None,
              *, features: bool = False) -> list[Pool]:
        """The candidate pool of each outlet group (one group when no outlet is named);
        `features` computes the ranker's features even when no ranker is set (training)."""
        mode = Mode(mode or self.mode)
        filters = filters or Filters()
        since = filters.since or query.since
        until = filters.until or query.until
        groups = [(s,) for s in (filters.sources or query.sources)] or [()]
        if mode is not Mode.BM25:
            query = self.embedded(query)
        return [self._pool(query, Filters(since=since, until=until, sources=group), mode,
                           features) for group in groups]

    def select(self, question: str, pools: list[Pool], k: int) -> list[Passage]:
        """The top `k` passages of the groups' candidate pools: each pool ordered (by the
        ranker, or by the hand-set fusion), the orders shared round-robin, then collapsed."""
        scored: dict[int, dict[str, float]] = {}
        rankings = []
        for pool in pools:
            if pool.features is not None and self.ranker is not None:
                total = self.ranker.score(pool.features)
                ranking = diversify(pool.ids.tolist(), total, pool.articles,
                                    self.ranker.diversity, pool.clauses, self.ranker.coverage)
                parts = {**pool.parts, "ranker": total}
            else:
                total = pool.total
                ranking = [int(pool.ids[j]) for j in np.lexsort((pool.ids, -total))]
                parts = pool.parts
            scored.update((int(i), {**{n: float(v[j]) for n, v in parts.items()},
                                    "score": float(total[j])}) for j, i in enumerate(pool.ids))
            rankings.append(self._rerank(question, ranking, scored) if self.reranker
                            else ranking)
        order = round_robin(rankings)
        passages = [replace(p, score=scored[p.chunk_id]["score"], scores=scored[p.chunk_id])
                    for p in self.store.passages(order[: max(k * RECIPE.collapse_pool,
                                                              k + RECIPE.collapse_pool_extra)])]
        return collapse(passages, k)

    def _rerank(self, question: str, ranking: list[int],
                scored: dict[int, dict[str, float]]) -> list[int]:
        """`ranking` with its first `rerank_top` ids reordered by the reranker."""
        reranked = self.reranker.run(question, self.store.passages(ranking[: self.rerank_top]))
        for passage in reranked:
            scored[passage.chunk_id]["rerank"] = passage.scores["rerank"]
        return [p.chunk_id for p in reranked] + ranking[self.rerank_top:]

    def _pool(self, query: Query, filters: Filters, mode: Mode, features: bool = False) -> Pool:
        """Candidates within `filters` with their hand-set score parts and, when a ranker
        is set and the search is the weighted hybrid one, the ranker's features."""
        vector = query.vector if mode is not Mode.BM25 else None
        ranked: dict[str, list[tuple[int, float]]] = {}
        if mode is not Mode.DENSE:
            ranked["bm25"] = self.store.keyword_search(query.text, self.candidates, filters)
            for n, clause in enumerate(query.clauses if self.clause_candidates else ()):
                ranked[f"clause{n}"] = self.store.keyword_search(clause, self.clause_candidates,
                                                                 filters)
        if vector is not None:
            ranked["dense"] = self.store.dense_search(vector, self.candidates, filters)
        ids = np.asarray(sorted({i for r in ranked.values() for i, _ in r}), dtype=np.int64)
        if not len(ids):
            return Pool(ids, {}, np.zeros(0))
        raw = self._raw_parts(query, vector, ids, mode)
        if self.fusion is Fusion.RRF:
            fused = rrf(ranked, self.rrf_k)
            parts = {"rrf": np.asarray([fused[i] for i in ids])}
        else:
            parts = self._weighted_parts(query, raw, mode)
        if query.dates and self.weights.date:
            parts["date"] = self.weights.date * raw["date"]
        if query.recency and self.weights.recency:
            parts["recency"] = self.weights.recency * raw["recency"]
        pool = Pool(ids, parts, sum(parts.values()))
        wants_features = (features or self.ranker is not None) and mode is Mode.HYBRID \
            and self.fusion is Fusion.WEIGHTED
        sentence = None
        if vector is not None and self.fusion is Fusion.WEIGHTED and (
                self.weights.sentence or self.weights.clause_sentence):
            sentence = self._add_best_sentences(pool, query, raw["dense"], wants_features)
        if wants_features:
            passages = self.store.passages(ids.tolist())
            pool.articles = [p.article_id for p in passages]
            pool.clauses = raw.get("clauses")
            pool.features = ranker_features(query, ids, ranked, raw, passages, self.candidates,
                                            pool.total, sentence)
        return pool

    def _add_best_sentences(self, pool: Pool, query: Query, dense: np.ndarray,
                            for_ranker: bool) -> np.ndarray | None:
        """Add to the pool's `sentence_top` best candidates `weights.sentence` x their best
        sentence's cosine to the question and `weights.clause_sentence` x their best
        sentence's cosine to any clause (a chunk without stored sentence vectors among
        others with them counts its own cosine for the first, nothing for the second).
        Return every candidate's best-sentence cosine to the question (read for the
        ranker's `READ_TOP` best as well when `for_ranker`; a candidate not read counts its
        own). None, and the hand-set sum as it was, for an index without sentence vectors."""
        order = np.lexsort((pool.ids, -pool.total))
        top = order[: max(RECIPE.sentence_top, READ_TOP if for_ranker else 0)]
        vectors = query.vector[None]
        if query.clause_vectors is not None and len(query.clause_vectors):
            vectors = np.vstack([vectors, query.clause_vectors])
        best = self.best_sentence.cosines(pool.ids[top].tolist(), vectors)
        if not best:
            return None
        cosine = np.asarray(dense, dtype=float).copy()
        clause = np.zeros(len(pool.ids))
        for j in top:
            if (found := best.get(int(pool.ids[j]))) is not None:
                cosine[j] = found[0]
                clause[j] = found[1:].max(initial=0.0)
        summed = order[: RECIPE.sentence_top]
        parts = [("sentence", self.weights.sentence, cosine)]
        if len(vectors) > 1:
            parts.append(("clause_sentence", self.weights.clause_sentence, clause))
        for name, weight, values in parts:
            if weight:
                part = np.zeros(len(pool.ids))
                part[summed] = weight * values[summed]
                pool.parts[name] = part
                pool.total = pool.total + part
        return cosine

    def _raw_parts(self, query: Query, vector: np.ndarray | None, ids: np.ndarray,
                   mode: Mode) -> dict[str, np.ndarray]:
        """Unweighted scores of the candidates: BM25 (raw and divided by the best), each
        clause's normalised BM25 (one row per clause), dense cosine, day and newness."""
        raw: dict[str, np.ndarray] = {}
        if mode is not Mode.DENSE:
            raw["bm25_raw"] = np.asarray(self.store.keyword_scores(query.text, ids), dtype=float)
            raw["bm25"] = _unit(raw["bm25_raw"])
            if query.clauses:
                raw["clauses"] = np.asarray([_unit(self.store.keyword_scores(c, ids))
                                             for c in query.clauses])
        if vector is not None:
            raw["dense"] = self.store.dense_scores(vector, ids)
        raw.update(self._date_parts(query, ids))
        return raw

    def _weighted_parts(self, query: Query, raw: dict[str, np.ndarray],
                        mode: Mode) -> dict[str, np.ndarray]:
        parts: dict[str, np.ndarray] = {}
        if "bm25" in raw:
            parts["bm25"] = raw["bm25"]
            if "clauses" in raw and self.weights.clause:
                parts["clause"] = self.weights.clause * raw["clauses"].max(axis=0)
        if "dense" in raw:
            parts["dense"] = (self.weights.dense if mode is Mode.HYBRID else 1.0) * raw["dense"]
        return parts

    def _date_parts(self, query: Query, ids: np.ndarray) -> dict[str, np.ndarray]:
        """1 for articles within a day of a day the question names; newness from 0 (oldest
        candidate) to 1 (newest) when it asks for the latest news."""
        if not query.dates and not query.recency:
            return {}
        stamps = self.store.chunk_dates(ids)
        parts = {}
        if query.dates:
            day = timedelta(days=1).total_seconds()
            named = np.asarray([datetime(d.year, d.month, d.day, 12, tzinfo=timezone.utc)
                                .timestamp() for d in query.dates])
            near = np.abs(stamps[:, None] - named[None, :]) <= day
            parts["date"] = np.nan_to_num(near.any(axis=1).astype(float))
        if query.recency:
            known = np.nan_to_num(stamps, nan=np.nanmin(stamps) if np.isfinite(stamps).any()
                                  else 0.0)
            spread = known.max() - known.min()
            parts["recency"] = (known - known.min()) / spread if spread else np.zeros(len(ids))
        return parts


def spans_of(text: str, parts: tuple[str, ...]) -> list[tuple[int, int]]:
    """The character span of each of `parts` in `text`, searched in order (the clauses of a
    question are cut from it in order); (0, 0) for a part not found."""
    spans, start = [], 0
    for part in parts:
        found = text.find(part, start)
        spans.append((found, found + len(part)) if found >= 0 else (0, 0))
        start = found + len(part) if found >= 0 else start
    return spans


def _unit(scores: np.ndarray) -> np.ndarray:
    """Scores divided by their maximum (all zeros stay zeros)."""
    top = float(np.max(scores)) if len(scores) else 0.0
    return scores / top if top > 0 else np.zeros_like(scores, dtype=np.float64)

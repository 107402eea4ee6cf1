"""A learned ranker for the retriever's candidates: features, a logistic model read from JSON,
and article diversity in each outlet's list.

The hand-set fusion (rag.retrieve, `Fusion.WEIGHTED`) adds BM25, clause BM25 and dense cosine
with constant weights. `LinearRanker` instead scores each candidate of an outlet group by a
logistic regression over features the retriever already has or computes cheaply:
- scores: whole-question BM25 (normalised by the group's best, and raw), each clause's BM25
  (best, mean, share of clauses matched), dense cosine (and its gap to the group's best),
  a day named in the question, newness when the latest news is asked for;
- ranks: the candidate's rank in the BM25, dense and best clause lists;
- place: whether the chunk opens its article, how far into the article it starts;
- its article: how many candidates of the group come from the same article, and that
  article's best BM25 (a fact's article is often found through another of its chunks);
- sentences: how much of the question, and of its worst-covered clause, the chunk's single
  best sentence holds (lexical sentence-level evidence; a long chunk's vector reads only
  its first 256 word pieces);
- shared names: how many other articles among the group's best candidates share a name
  the question does not hold (the entity that links a multi-article question's facts);
- stored sentences: the cosine of the chunk's best sentence (vectors stored at ingest, read
  for the 40 best candidates) and its gap to the group's best; and the hand-set fusion's
  own score as a gap to the group's best.
The weights are fitted by `newscite.eval.train_ranker` on a question set with evidence and
stored as plain JSON beside this module (`ranker.json`), read without pickle or scikit-learn.
A weights file names the model and chunking of the index it was fitted on; for any other
index `load_ranker` returns None and the hand-set fusion stays in use.

`diversify` then orders a group's candidates greedily, each candidate's log-odds lowered by
`diversity` for every chunk of its article already placed: a question whose facts lie in
several articles of one outlet gets them into the top k instead of three chunks of one.

Example:
    >>> ranker = load_ranker(RANKER_PATH, {"model": "all-MiniLM-L6-v2", "chunk_tokens": 320,
    ...                                    "chunk_overlap": 40})
    >>> ranker.score({name: np.zeros(3) for name in ranker.coef}).shape
    (3,)
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from newscite.rag.citations import STOPWORDS
from newscite.rag.query import Query
from newscite.types import Passage

log = logging.getLogger(__name__)

RANKER_PATH = Path(__file__).with_name("ranker.json")
"""The shipped weights, fitted on the MultiHop-RAG dev questions (see the README)."""

FEATURES = ("bm25", "bm25_raw", "clause_max", "clause_mean", "clause_share", "dense",
            "dense_gap", "date", "recency", "rank_bm25", "rank_dense", "rank_clause",
            "first_chunk", "position", "article_chunks", "article_best", "sentence_question",
            "sentence_clause", "shared_names", "sentence_dense", "sentence_gap", "fusion_gap")

CLAUSE_MATCHED = 0.5
"""A clause counts as matched by a chunk whose BM25 for it is at least half the group's best."""

DIVERSIFY_TOP = 60
"""Candidates per group that `diversify` reorders: more than the 40 the retriever reads
after merging groups (4 x k), so the reordering reaches every passage shown."""

SHARED_TOP = 10
"""The group's best candidates by the hand-set fusion whose names the `shared_names`
feature looks for: as many as the passages shown."""

READ_TOP = 40
"""Candidates per group, best by the hand-set fusion, whose sentences and names are read
(the rest score 0 there): reading all ~145 cost about 5x the whole hand-set retrieval."""

_WORD = re.compile(r"\w+")
_NAME = re.compile(r"\b[A-Z][\w’'-]*[a-z][\w’'-]*\b|\b[A-Z]{2,}\b")


def words(text: str) -> set[str]:
    """Content words, case-folded, a plural "s" dropped (a cheap, stable stem)."""
    return {_stem(w) for w in _WORD.findall(text.casefold()) if w not in STOPWORDS}


def _rank_feature(ranking: list[tuple[int, float]], ids: np.ndarray, depth: int) -> np.ndarray:
    """log(1 + rank) / log(1 + depth) of each id in `ranking`; 1 for ids it does not hold."""
    position = {chunk_id: rank for rank, (chunk_id, _) in enumerate(ranking, start=1)}
    scale = np.log1p(max(depth, 1))
    return np.asarray([min(np.log1p(position[i]) / scale, 1.0) if i in position else 1.0
                       for i in ids.tolist()])


def names(text: str) -> set[str]:
    """Capitalised words and acronyms of `text`, case-folded, stop words left out."""
    return {n.casefold() for n in _NAME.findall(text)} - STOPWORDS


def _shared_names(found: dict[int, set[str]], articles: list[str], top: np.ndarray,
                  n: int) -> np.ndarray:
    """For each of n candidates, how many other articles among the `top` candidates share
    its most shared name (`found`: names not in the question, of the candidates read), divided
    by `SHARED_TOP`: the unnamed entity that links the facts of a multi-article question."""
    holders: dict[str, set[str]] = {}
    for j in top:
        for name in found[int(j)]:
            holders.setdefault(name, set()).add(articles[j])
    shared = np.zeros(n)
    for j, held in found.items():
        shared[j] = max((len(holders.get(name, set()) - {articles[j]}) for name in held),
                        default=0) / SHARED_TOP
    return shared


def _sentence_cover(text: str, wanted: list[set[str]]) -> np.ndarray:
    """For each word set in `wanted` (as `words` gives them), the largest share of it one
    sentence of `text` holds. Sentences are cut at . ! ? before a space (cruder than
    newscite.text), and one regular expression finds only the wanted words and the cuts,
    so a passage costs tens of microseconds, not milliseconds."""
    best = np.zeros(len(wanted))
    held: set[str] = set()
    for match in _wanted_pattern(frozenset().union(*wanted)).finditer(text.casefold() + " . "):
        token = match.group()
        if token in ".!?":
            for n, target in enumerate(wanted):
                if target and held:
                    best[n] = max(best[n], len(target & held) / len(target))
            held = set()
        else:
            held.add(_stem(token))
    return best


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


@functools.lru_cache(maxsize=64)
def _wanted_pattern(wanted: frozenset[str]) -> re.Pattern:
    """Whole words whose stem is in `wanted`, or a sentence end."""
    forms = {form for word in wanted for form in (word, word + "s") if _stem(form) == word}
    alternatives = "|".join(map(re.escape, sorted(forms, key=len, reverse=True)))
    return re.compile((rf"(?<!\w)(?:{alternatives})(?!\w)|" if forms else "")
                      + r"[.!?](?=\s)")


def features(query: Query, ids: np.ndarray, ranked: dict[str, list[tuple[int, float]]],
             raw: dict[str, np.ndarray], passages: list[Passage], depth: int,
             prior: np.ndarray, sentence: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The ranker's features (`FEATURES`) of one group's candidates `ids`.

    `raw` holds the unweighted score parts of the retriever ("bm25" normalised, "bm25_raw",
    "clauses" as one row per clause, "dense", "date", "recency"); `passages` the candidates'
    passages in the order of `ids`; `depth` how many candidates each channel gave; `prior`
    the hand-set fusion's scores, which choose the candidates whose text is read;
    `sentence` each candidate's best stored sentence cosine (None: the chunk's own)."""
    n = len(ids)
    zeros = np.zeros(n)
    clauses = raw.get("clauses")
    if clauses is None or not len(clauses):
        clauses = raw["bm25"][None, :]
    dense = raw.get("dense", zeros)
    clause_ranks = [_rank_feature(r, ids, depth) for name, r in ranked.items()
                    if name.startswith("clause")]
    articles = [p.article_id for p in passages]
    count: dict[str, int] = {}
    best: dict[str, float] = {}
    for article, score in zip(articles, raw["bm25"]):
        count[article] = count.get(article, 0) + 1
        best[article] = max(best.get(article, 0.0), float(score))
    question = words(query.text)
    wanted = [question] + [words(c) for c in query.clauses]
    read = np.argsort(-prior, kind="stable")[:READ_TOP]
    cover = np.zeros((n, len(wanted)))
    for j in read:
        cover[j] = _sentence_cover(passages[j].text, wanted)
    known = question | names(query.text)
    sentence = dense if sentence is None else sentence
    found = {int(j): names(passages[j].text) - known for j in read}
    return {
        "bm25": raw["bm25"], "bm25_raw": np.log1p(raw["bm25_raw"]),
        "clause_max": clauses.max(axis=0), "clause_mean": clauses.mean(axis=0),
        "clause_share": (clauses >= CLAUSE_MATCHED).mean(axis=0),
        "dense": dense, "dense_gap": dense - (dense.max() if n else 0.0),
        "date": raw.get("date", zeros), "recency": raw.get("recency", zeros),
        "rank_bm25": _rank_feature(ranked.get("bm25", []), ids, depth),
        "rank_dense": _rank_feature(ranked.get("dense", []), ids, depth),
        "rank_clause": np.min(clause_ranks, axis=0) if clause_ranks else np.ones(n),
        "first_chunk": np.asarray([float(p.start == 0) for p in passages]),
        "position": np.log1p(np.asarray([p.start for p in passages], dtype=float) / 1000.0),
        "article_chunks": np.log1p([count[a] for a in articles]),
        "article_best": np.asarray([best[a] for a in articles]),
        "sentence_question": cover[:, 0],
        "sentence_clause": cover[:, 1:].min(axis=1) if cover.shape[1] > 1 else cover[:, 0],
        "shared_names": _shared_names(found, articles, read[:SHARED_TOP], n),
        "sentence_dense": sentence, "sentence_gap": sentence - (sentence.max() if n else 0.0),
        "fusion_gap": prior - (prior.max() if n else 0.0),
    }


@dataclass(frozen=True)
class LinearRanker:
    """Log-odds = intercept + sum of coef x standardised feature; `diversity` is the log-odds
    a candidate loses per chunk of its article already placed higher, `coverage` what it
    gains per clause it covers better than those placed (see `diversify`; 0: none)."""

    coef: dict[str, float]
    intercept: float
    mean: dict[str, float]
    scale: dict[str, float]
    diversity: float = 0.0
    coverage: float = 0.0
    identity: dict = field(default_factory=dict)
    about: dict = field(default_factory=dict)

    def score(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Log-odds that each candidate holds a piece of evidence."""
        total = np.full(len(next(iter(values.values()))), self.intercept, dtype=float)
        for name, weight in self.coef.items():
            total += weight * (np.asarray(values[name], dtype=float) - self.mean[name]) \
                / self.scale[name]
        return total

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> LinearRanker:
        unknown = set(data["coef"]) - set(FEATURES)
        if unknown:
            raise ValueError(f"ranker weights name unknown features: {sorted(unknown)}")
        return cls(**{k: data[k] for k in ("coef", "intercept", "mean", "scale", "diversity",
                                           "coverage", "identity", "about") if k in data})


def load_ranker(path: str | Path, identity: dict) -> LinearRanker | None:
    """The ranker in `path` if it was fitted for an index of this `identity` (model and
    chunking); None (the hand-set fusion) when the file is missing or fitted for another."""
    path = Path(path)
    if not path.is_file():
        return None
    ranker = LinearRanker.from_dict(json.loads(path.read_text()))
    mismatch = {k: (v, identity.get(k)) for k, v in ranker.identity.items()
                if identity.get(k) != v}
    if mismatch:
        log.info("ranker %s was fitted for another index (%s); using the hand-set fusion",
                 path, mismatch)
        return None
    return ranker


def diversify(ids: list[int], scores: np.ndarray, articles: list[str], diversity: float,
              clauses: np.ndarray | None = None, coverage: float = 0.0) -> list[int]:
    """`ids` best first, chosen greedily among the best `DIVERSIFY_TOP` by score: each
    candidate loses `diversity` per chunk of its article already placed, and gains
    `coverage` x how much it raises the best score placed so far of each clause (`clauses`:
    one row of normalised clause BM25 per clause). Plain score order when both are 0."""
    order = np.argsort(-scores, kind="stable")
    if not diversity and not coverage:
        return [ids[i] for i in order]
    top, rest = order[:DIVERSIFY_TOP], order[DIVERSIFY_TOP:]
    names = {a: n for n, a in enumerate(dict.fromkeys(articles[i] for i in top))}
    article = np.asarray([names[articles[i]] for i in top])
    parts = clauses[:, top] if clauses is not None and coverage else np.zeros((0, len(top)))
    placed, covered = np.zeros(len(names)), np.zeros(len(parts))
    gain = np.asarray(scores, dtype=float)[top]
    left = np.ones(len(top), dtype=bool)
    ranking = []
    for _ in range(len(top)):
        value = gain - diversity * placed[article] + coverage * np.clip(
            parts - covered[:, None], 0.0, None).sum(axis=0)
        pick = int(np.argmax(np.where(left, value, -np.inf)))
        left[pick] = False
        placed[article[pick]] += 1
        covered = np.maximum(covered, parts[:, pick])
        ranking.append(ids[top[pick]])
    return ranking + [ids[i] for i in rest]

"""BM25 keyword index over chunk texts (English stop words, Snowball stemming), in segments.

The index is a list of `index.postings.Segment`s, each holding the term frequencies of one
run of chunks, so a write appends a segment (and deletes mark chunks dead) instead of
rebuilding everything; at each flush, segments are merged as `index.tiers` plans
(synchronously, and each merge bounded in size). Scores are BM25 as bm25s computes them (Lucene variant, k1 1.5, b 0.75,
bm25s' tokenizer and stemmer) over the live chunks of all segments together: document
frequencies, the number of chunks and their average length are global, combined at query
time, so a segmented index scores exactly as one built in full (tests/index/test_keywords.py).

Stored as one `.npz` file per segment in a folder; the manifest lists the files.

Example:
    >>> kw = KeywordIndex.build(np.array([7, 9]), ["NATO delays Ukraine", "Apple earnings"])
    >>> kw.search("ukraine nato", k=1)
    [(7, ...)]
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

from newscite.index.postings import Segment
from newscite.index.tiers import plan_merge

log = logging.getLogger(__name__)

# bm25s' defaults, which the retrieval figures in the README were measured with
K1 = 1.5
B = 0.75

SCORES_REMEMBERED = 16
"""Query texts whose scores are kept until the index changes. One question scores its text
and each clause in every outlet group, then again for the pooled candidates (about 15 passes
over the postings for 4 texts); the chat's concurrent questions add a few more."""


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer
    except ImportError as exc:
        raise ImportError("BM25 stemming needs PyStemmer: pip install PyStemmer==3.1.0") from exc
    return Stemmer.Stemmer("english")


def _idf(n_chunks: int, frequency: int) -> float:
    """BM25's (bm25s' "lucene") inverse document frequency of a term `frequency` chunks hold."""
    return math.log(1 + (n_chunks - frequency + 0.5) / (frequency + 0.5))


def stem(words: list[str]) -> list[str]:
    """Snowball English stems, as the BM25 index uses."""
    return _stemmer().stemWords(words)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed word tokens, as the index was built with."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False,
                          show_progress=False)


class KeywordIndex:
    """BM25 over the live chunks of a list of segments, addressed by chunk id.

    `names[i]` is the file segment i is stored in, None until it is saved. Chunk ids grow
    (SQLite's AUTOINCREMENT), so segments appended in order keep all ids ascending."""

    def __init__(self, segments: list[Segment], names: list[str | None],
                 live_ids: np.ndarray | None = None):
        self.segments = segments
        self.names = names
        self._remembered: OrderedDict[str, np.ndarray] = OrderedDict()
        self._version = 0
        self._lock = threading.Lock()
        self.vocab: dict[str, int] = {}
        for segment in segments:
            for term in segment.new_terms:
                self.vocab[term] = len(self.vocab)
        self._reindex(live_ids)

    def _reindex(self, live_ids: np.ndarray | None = None) -> None:
        """Recompute the concatenated per-chunk arrays after segments changed; chunks not in
        `live_ids` (when given) are dead, else the live mask is carried over by chunk id."""
        old_ids, old_live = getattr(self, "_ids", None), getattr(self, "_live", None)
        self._offsets = np.cumsum([0] + [len(s) for s in self.segments])
        self._ids = np.concatenate([s.chunk_ids for s in self.segments]) if self.segments \
            else np.zeros(0, np.int64)
        self._lengths = np.concatenate([s.lengths for s in self.segments]) if self.segments \
            else np.zeros(0, np.int32)
        if live_ids is not None:
            self._live = np.isin(self._ids, live_ids)
        elif old_ids is not None and len(old_ids):
            dead = old_ids[~old_live]
            self._live = ~np.isin(self._ids, dead)
        else:
            self._live = np.ones(len(self._ids), dtype=bool)
        self._live_ids = self._ids[self._live]
        self._live_length = int(self._lengths[self._live].sum())
        self._changed()

    def _changed(self) -> None:
        """Forget remembered scores: the chunks or their statistics changed."""
        with self._lock:
            self._version += 1
            self._remembered.clear()

    # ---- building and changing --------------------------------------------------------------

    @classmethod
    def build(cls, chunk_ids: np.ndarray, texts: list[str]) -> KeywordIndex:
        """An index of one (unsaved) segment over `texts`, chunk ids ascending."""
        index = cls([], [])
        index.add(np.asarray(chunk_ids, dtype=np.int64), texts)
        return index

    def add(self, chunk_ids: np.ndarray, texts: list[str]) -> None:
        """Append chunks (ids above every id held) as a new, unsaved segment."""
        if not len(chunk_ids):
            return
        import bm25s

        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=True,
                                show_progress=False)
        terms = sorted(tokens.vocab, key=tokens.vocab.get)
        self.add_tokenized(chunk_ids, [np.asarray(doc, dtype=np.int64) for doc in tokens.ids],
                           terms)

    def add_tokenized(self, chunk_ids: np.ndarray, token_ids: list[np.ndarray],
                      terms: list[str]) -> None:
        """`add` for chunks already tokenized: `token_ids[i]` are chunk i's tokens, in text
        order, as positions in `terms` (what `tokenize` makes of its text)."""
        new_terms = [t for t in dict.fromkeys(terms) if t not in self.vocab]
        for term in new_terms:
            self.vocab[term] = len(self.vocab)
        to_global = np.asarray([self.vocab[t] for t in terms], dtype=np.int64)
        segment = Segment.build(chunk_ids, [to_global[ids] for ids in token_ids], new_terms)
        self.segments.append(segment)
        self.names.append(None)
        # appended in place of `_reindex`: copies the per-chunk arrays, sorts nothing
        self._offsets = np.append(self._offsets, self._offsets[-1] + len(segment))
        self._ids = np.concatenate([self._ids, segment.chunk_ids])
        self._lengths = np.concatenate([self._lengths, segment.lengths])
        self._live = np.concatenate([self._live, np.ones(len(segment), dtype=bool)])
        self._live_ids = self._ids[self._live]
        self._live_length += int(segment.lengths.sum())
        self._changed()

    def remove(self, chunk_ids: list[int] | np.ndarray) -> None:
        """Mark chunks deleted; they stop counting at once and are dropped by the next merge
        of their segment."""
        if not len(chunk_ids) or not len(self._ids):
            return
        positions = np.searchsorted(self._ids, np.asarray(chunk_ids, dtype=np.int64))
        positions = positions[positions < len(self._ids)]
        positions = positions[np.isin(self._ids[positions], chunk_ids) & self._live[positions]]
        self._live[positions] = False
        self._live_ids = self._ids[self._live]
        self._live_length -= int(self._lengths[positions].sum())
        self._changed()

    @property
    def chunk_ids(self) -> np.ndarray:
        """The live chunk ids, ascending: what `scores` is aligned with."""
        return self._live_ids

    @property
    def covered(self) -> int:
        """The largest chunk id the segments hold (live or not); 0 when empty."""
        return int(self._ids[-1]) if len(self._ids) else 0

    @property
    def nbytes(self) -> int:
        """Memory held by the postings and per-chunk arrays (not the vocabulary)."""
        return sum(a.nbytes for s in self.segments
                   for a in (s.chunk_ids, s.lengths, s.terms, s.starts, s.docs, s.counts)) + \
            self._ids.nbytes + self._lengths.nbytes + self._live.nbytes

    # ---- saving and loading -------------------------------------------------------------------

    def save(self, folder: Path, generation: int) -> list[str]:
        """Merge as `index.tiers` plans, write the unsaved segments into `folder` under
        new names (each fsynced, then renamed) and return every segment's file name, for the
        manifest. Files of merged-away segments are left for the store to remove."""
        folder.mkdir(exist_ok=True)
        while (plan := plan_merge([len(s) for s in self.segments], self._dead_counts())):
            self._merge(*plan)
        for i, segment in enumerate(self.segments):
            if self.names[i] is None:
                name = f"seg-{generation}-{secrets.token_hex(4)}.npz"
                segment.save(folder / name)
                self.names[i] = name
        return list(self.names)

    def _dead_counts(self) -> list[int]:
        return [int(len(s) - self._live[a:b].sum())
                for s, a, b in zip(self.segments, self._offsets[:-1], self._offsets[1:])]

    def _merge(self, start: int, end: int) -> None:
        """Replace segments [start, end) with one unsaved segment of their live chunks."""
        keep = [self._live[a:b] for a, b in zip(self._offsets[start:end],
                                                  self._offsets[start + 1:end + 1])]
        merged = Segment.merge(self.segments[start:end], keep)
        log.debug("merged keyword segments %d-%d into %d chunks", start, end, len(merged))
        self.segments[start:end] = [merged]
        self.names[start:end] = [None]
        self._reindex()

    @classmethod
    def load(cls, folder: Path, names: list[str], live_ids: np.ndarray) -> KeywordIndex:
        """The segments named, read from `folder`; chunks not in `live_ids` are dead."""
        return cls([Segment.load(folder / name) for name in names], list(names), live_ids)

    # ---- searching ----------------------------------------------------------------------------

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every live chunk for `query`, aligned with `chunk_ids` (zeros when
        no query word is indexed). A word repeated in the query counts each time, as bm25s.
        The last `SCORES_REMEMBERED` texts' scores are kept (read-only) until a change."""
        with self._lock:
            known = self._remembered.get(query)
            if known is not None:
                self._remembered.move_to_end(query)
                return known
            version = self._version
        scores = self._scores(query)
        scores.flags.writeable = False
        with self._lock:
            if version == self._version:  # no change while scoring
                self._remembered[query] = scores
                while len(self._remembered) > SCORES_REMEMBERED:
                    self._remembered.popitem(last=False)
        return scores

    def _scores(self, query: str) -> np.ndarray:
        n_live = len(self._live_ids)
        terms = [self.vocab[t] for t in tokenize([query])[0] if t in self.vocab]
        if not terms or not n_live:
            return np.zeros(n_live, dtype=np.float32)
        average = self._live_length / n_live
        total = np.zeros(len(self._ids), dtype=np.float32)
        for term in terms:
            for positions, weights in self._term_scores(term, n_live, average):
                total[positions] += weights
        return total[self._live]

    def word_weights(self, words: list[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each of `words` (stemmed, as `stem` gives
        them) over the live chunks: how much finding the word says. A word no chunk holds
        weighs most: the index does not cover what it names (or it is mistyped)."""
        n_live = len(self._live_ids)
        return {word: _idf(n_live, sum(len(p) for p, _ in self._postings(self.vocab[word]))
                           if word in self.vocab else 0) for word in words}

    def _postings(self, term: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(positions, counts) of the live chunks holding `term`, per segment."""
        found = []
        for segment, offset in zip(self.segments, self._offsets):
            docs, counts = segment.postings(term)
            positions = docs.astype(np.int64) + offset
            alive = self._live[positions]
            if alive.any():
                found.append((positions[alive], counts[alive]))
        return found

    def _term_scores(self, term: int, n_live: int,
                     average: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """(positions, BM25 weights) of the live chunks holding `term`, per segment: its
        document frequency counted over all segments' live chunks."""
        found = self._postings(term)
        idf = np.float32(_idf(n_live, sum(len(p) for p, _ in found)))
        scored = []
        for positions, counts in found:
            tf = counts.astype(np.float32)
            norm = K1 * ((1 - B) + B * self._lengths[positions] / average)
            scored.append((positions, (idf * (tf / (norm + tf))).astype(np.float32)))
        return scored

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
        return [(int(self._live_ids[i]), float(scores[i])) for i in top]

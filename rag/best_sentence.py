"""The cosine of a chunk's sentence closest to the question, from the vectors stored at ingest.

A chunk whose one sentence answers the question is better evidence than one that is only
near the question as a whole; the retriever adds this cosine to its best candidates
(`Weights.sentence`), and the best cosine to any clause of a multi-part question
(`Weights.clause_sentence`): `cosines` takes the question's vector and one per clause.
Each chunk's sentence vectors are read once (split its text, look the sentences up,
`index.store.sentences`) and remembered for the last `size` chunks, as float16: candidates
recur between questions.

Example:
    >>> best = BestSentence(store)
    >>> best.cosines([12, 40], np.stack([question_vector, clause_vector]))
    {12: array([0.71, 0.52]), 40: array([0.38, 0.45])}     # no entry: none stored
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np

from newscite.index.store import SearchIndex
from newscite.text import split_sentences

# Chunks whose sentence vectors are remembered: ~15 sentences of 384 float16 each, ~12 KB a
# chunk, ~24 MB in all; more than the candidates of a few hundred questions.
CACHED_CHUNKS = 2_000


class BestSentence:
    """Best-sentence cosines of chunks (see the module docstring). Thread-safe."""

    def __init__(self, store: SearchIndex, size: int = CACHED_CHUNKS):
        self.store = store
        self.size = size
        self._matrices: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def cosines(self, chunk_ids: Sequence[int], vectors: np.ndarray) -> dict[int, np.ndarray]:
        """For each chunk that has stored sentence vectors, its best sentence's cosine to each
        row of `vectors` (one array of len(vectors) per chunk)."""
        matrices = self._matrices_of(list(chunk_ids))
        return {i: (m.astype(np.float32) @ vectors.T).max(axis=0)
                for i, m in matrices.items() if len(m)}

    def _matrices_of(self, chunk_ids: list[int]) -> dict[int, np.ndarray]:
        with self._lock:
            known = {i: self._matrices[i] for i in chunk_ids if i in self._matrices}
            for i in known:
                self._matrices.move_to_end(i)
        new = [i for i in chunk_ids if i not in known]
        if new:
            texts = {p.chunk_id: [p.text[s:e] for s, e in split_sentences(p.text)]
                     for p in self.store.passages(new)}
            stored = self.store.sentence_vectors([t for chunk in texts.values() for t in chunk])
            fresh = {i: np.asarray([stored[t] for t in chunk if t in stored], dtype=np.float16)
                     for i, chunk in texts.items()}
            known.update(fresh)
            with self._lock:
                self._matrices.update(fresh)
                while len(self._matrices) > self.size:
                    self._matrices.popitem(last=False)
        return known

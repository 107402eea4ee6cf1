"""Sentence-aware chunking sized in the embedder's own word pieces.

Whole sentences are packed into windows of at most `max_tokens` word pieces, and each
window repeats at least `overlap_tokens` of whole sentences from the end of the previous
one, so a fact of one or two sentences always lies wholly inside some chunk. A chunk is an
exact span of the article body (`body[start:end]`), so answers can quote and highlight it.
The header (title | outlet | date) is embedded and keyword-indexed with the chunk but never
part of its text; it is cut to at most `HEADER_TOKENS` word pieces.

A chunk may be longer than the embedder reads (`model_limit`, 256 word pieces for
all-MiniLM-L6-v2): keyword search reads all of it, the dense vector its header and first
word pieces. Longer chunks keep more of a story's context in one passage; on the MultiHop-RAG
dev questions 320 word pieces found more evidence than 250 and 200, whose chunks fit the
window (see the README's measured figures). Chunks of at most `model_limit` - 3 -
`HEADER_TOKENS` word pieces are embedded whole.

Example:
    >>> chunker = SentenceChunker(tokenizer, max_tokens=320, overlap_tokens=40)
    >>> chunks = chunker.run(article)
    >>> all(article.body[c.start:c.end] == c.text for c in chunks)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from newscite.recipe import RECIPE
from newscite.text import split_sentences
from newscite.types import Article, Chunk

HEADER_TOKENS = 48
"""Longest header, in word pieces; longer titles are cut at a word piece boundary."""
MAX_CHUNK_TOKENS = 1024

class Tokenizer(Protocol):
    """The part of a Hugging Face fast tokenizer that chunking needs."""

    def __call__(self, texts: list[str], **kwargs) -> dict: ...


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    n_tokens: int


def header_for(article: Article) -> str:
    """`title | outlet | date`, the context embedded and keyword-indexed with each chunk."""
    date = article.published_at.date().isoformat() if article.published_at else None
    return " | ".join(part for part in (article.title, article.source, date) if part)


class SentenceChunker:
    """Packs whole sentences into token-limited, overlapping chunks (see module docstring)."""

    def __init__(self, tokenizer: Tokenizer, *, max_tokens: int = RECIPE.chunk_tokens,
                 overlap_tokens: int = RECIPE.chunk_overlap,
                 model_limit: int = 256):
        if not 16 <= max_tokens <= MAX_CHUNK_TOKENS:
            raise ValueError(f"chunk_tokens must be between 16 and {MAX_CHUNK_TOKENS}, "
                             f"got {max_tokens}")
        if not 0 <= overlap_tokens < max_tokens // 2:
            raise ValueError(f"chunk_overlap must be between 0 and half of chunk_tokens "
                             f"({max_tokens // 2 - 1}), got {overlap_tokens}")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.model_limit = model_limit

    @property
    def settings(self) -> dict:
        return {"chunker": "sentence", "chunk_tokens": self.max_tokens,
                "chunk_overlap": self.overlap_tokens}

    def run(self, article: Article) -> list[Chunk]:
        spans = self._sentence_spans(article.body)
        header = self._fit_header(header_for(article))
        chunks, first = [], 0
        while first < len(spans):
            last, used = first, spans[first].n_tokens
            while last + 1 < len(spans) and used + spans[last + 1].n_tokens <= self.max_tokens:
                last += 1
                used += spans[last].n_tokens
            start, end = spans[first].start, spans[last].end
            chunks.append(Chunk(article_id=article.id, ordinal=len(chunks), start=start, end=end,
                                text=article.body[start:end], header=header, n_tokens=used))
            if last + 1 >= len(spans):
                break
            first = self._next_first(spans, first, last)
        return chunks

    def _next_first(self, spans: list[Span], first: int, last: int) -> int:
        """Step back from `last` over whole sentences until the overlap is long enough."""
        nxt, overlap = last + 1, 0
        while nxt - 1 > first and overlap < self.overlap_tokens:
            nxt -= 1
            overlap += spans[nxt].n_tokens
        if overlap + spans[last + 1].n_tokens > self.max_tokens:
            nxt += 1  # the overlap would crowd out the next sentence: keep less of it
        return max(nxt, first + 1)

    def _sentence_spans(self, body: str) -> list[Span]:
        sentences = split_sentences(body)
        if not sentences:
            return []
        encoded = self.tokenizer([body[s:e] for s, e in sentences], add_special_tokens=False,
                                 return_offsets_mapping=True)
        spans = []
        for (start, end), offsets in zip(sentences, encoded["offset_mapping"]):
            if len(offsets) <= self.max_tokens:
                spans.append(Span(start, end, len(offsets)))
            else:
                spans.extend(self._split_long(body, start, offsets))
        return spans

    def _split_long(self, body: str, start: int, offsets: list[tuple[int, int]]) -> list[Span]:
        """Cut a sentence longer than a chunk at word boundaries, `max_tokens` pieces at most."""
        pieces, first = [], 0
        while first < len(offsets):
            last = min(first + self.max_tokens, len(offsets))
            # back off to a token that starts a word, so that no word is cut in two
            while last < len(offsets) and last > first + 1 and \
                    not body[start + offsets[last][0] - 1].isspace():
                last -= 1
            piece_start = start + offsets[first][0]
            piece_end = start + offsets[last - 1][1]
            pieces.append(Span(piece_start, piece_end, last - first))
            first = last
        return pieces

    def _fit_header(self, header: str) -> str:
        """Cut the header to `HEADER_TOKENS` word pieces, or to what a chunk that fits the
        model leaves of its window (special tokens and the newline after the header count)."""
        room = max(HEADER_TOKENS, self.model_limit - 2 - self.max_tokens - 1)
        ids = self.tokenizer([header], add_special_tokens=False,
                             return_offsets_mapping=True)["offset_mapping"][0]
        if len(ids) <= room:
            return header
        return header[:ids[room - 1][1]].rstrip()

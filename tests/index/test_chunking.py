from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from newscite.index.chunking import HEADER_TOKENS, SentenceChunker, split_sentences
from newscite.types import Article

from tests.conftest import ROOT

SEED_BODY = (ROOT / "seeds" / "nato-ukraine-membership.md").read_text().split("---\n", 2)[2].strip()


def _article(body: str, title: str = "A headline") -> Article:
    return Article.create(title=title, body=body, source="Test Wire",
                          published_at=datetime(2024, 1, 2, tzinfo=timezone.utc),
                          url="https://test.example/a")


def test_split_sentences_keeps_abbreviations_and_quotes_together():
    text = "Mr. Smith met Gen. Jones. He said “yes.” Then U.S. officials left.\nNew line"
    spans = [text[s:e] for s, e in split_sentences(text)]
    assert spans == ["Mr. Smith met Gen. Jones.", "He said “yes.”", "Then U.S. officials left.",
                     "New line"]


def test_chunks_are_exact_spans_that_cover_the_body(chunker):
    article = _article(SEED_BODY * 3)
    chunks = chunker.run(article)
    assert len(chunks) > 3
    for chunk in chunks:
        assert article.body[chunk.start:chunk.end] == chunk.text
    for start, end in split_sentences(article.body):
        assert any(c.start <= start and end <= c.end for c in chunks), article.body[start:end]


def test_header_is_cut_and_chunks_within_the_window_are_embedded_whole(chunker, embedder):
    article = _article(SEED_BODY * 3, title="A very long headline " * 30)
    for chunk in chunker.run(article):
        assert chunk.n_tokens <= chunker.max_tokens
        header = embedder.tokenizer(chunk.header, add_special_tokens=False)["input_ids"]
        assert 0 < len(header) <= HEADER_TOKENS and chunk.header.startswith("A very long")
    window = SentenceChunker(embedder.tokenizer, max_tokens=200, overlap_tokens=40,
                             model_limit=embedder.max_tokens)
    for chunk in window.run(article):
        ids = embedder.tokenizer(chunk.indexed_text, add_special_tokens=True)["input_ids"]
        assert len(ids) <= embedder.max_tokens
        assert chunk.header.startswith("A very long headline")


def test_consecutive_chunks_overlap_by_whole_sentences(chunker):
    chunks = chunker.run(_article(SEED_BODY * 2))
    for previous, current in zip(chunks, chunks[1:]):
        assert current.start < previous.end, "no overlap"
        assert current.start > previous.start, "no progress"
        shared = chunker.tokenizer(previous.text[current.start - previous.start:],
                                   add_special_tokens=False)["input_ids"]
        assert len(shared) >= 20


def test_a_sentence_longer_than_a_chunk_is_split_at_word_boundaries(chunker):
    body = " ".join(f"word{i}" for i in range(600)) + "."
    chunks = chunker.run(_article(body))
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text == body[chunk.start:chunk.end]
        assert chunk.n_tokens <= chunker.max_tokens
        assert body[chunk.start - 1:chunk.start] in ("", " ")


def test_rejects_settings_beyond_the_model_limit(embedder):
    import pytest

    with pytest.raises(ValueError, match="chunk_tokens"):
        SentenceChunker(embedder.tokenizer, max_tokens=2000, overlap_tokens=40)
    with pytest.raises(ValueError, match="chunk_overlap"):
        SentenceChunker(embedder.tokenizer, max_tokens=100, overlap_tokens=60)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]),
                        min_size=1, max_size=80), min_size=1, max_size=30))
def test_property_chunks_are_substrings_within_the_limit(chunker, sentences):
    body = ". ".join(sentences).strip()
    if not body:
        return
    article = _article(body)
    chunks = chunker.run(article)
    for chunk in chunks:
        assert body[chunk.start:chunk.end] == chunk.text
        assert len(chunker.tokenizer(chunk.text, add_special_tokens=False)["input_ids"]) \
            <= chunker.max_tokens
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(body) if not ch.isspace())

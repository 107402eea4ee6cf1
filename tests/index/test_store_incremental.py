"""Writes are incremental: a batch adds a keyword segment and FAISS vectors, a flush writes
only what is new, a reopen catches up with SQLite instead of rebuilding, and the results
equal those of indexes rebuilt in full from SQLite (real fixture text)."""

import json
import os

import numpy as np
import pytest

from newscite.index.keywords import KeywordIndex
from newscite.index.store import MANIFEST_NAME, Store
from newscite.index.store.derived import BM25_DIR
from newscite.text import sentences
from newscite.types import Article, Chunk

from tests.conftest import FIXTURES, ROOT
from tests.index.test_store_conformance import IDENTITY

QUERIES = ["tram line cost", "drought water limits", "battery recycling", "NATO membership",
           "council"]


def _articles() -> list[Article]:
    records = [json.loads(line) for line in (FIXTURES / "news.jsonl").read_text().splitlines()]
    records.append({"title": "NATO and Ukraine", "source": "Seed", "url": "https://seed.example/1",
                    "body": (ROOT / "seeds" / "nato-ukraine-membership.md").read_text()})
    return [Article.create(title=r["title"], body=r["body"], source=r.get("source"),
                           url=r["url"]) for r in records]


def _item(article: Article, seed: int):
    """The article with one chunk per sentence and reproducible unit vectors."""
    chunks, start = [], 0
    for ordinal, sentence in enumerate(sentences(article.body)):
        start = article.body.index(sentence, start)
        chunks.append(Chunk(article.id, ordinal, start, start + len(sentence), sentence,
                            header=article.title))
        start += len(sentence)
    vectors = np.random.default_rng(seed).normal(size=(len(chunks), 4)).astype(np.float32)
    return article, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _results(store) -> list:
    """Keyword and dense results for the fixed queries (ids and rounded scores)."""
    out = []
    for n, query in enumerate(QUERIES):
        out.append([(i, round(s, 5)) for i, s in store.keyword_search(query, k=8)])
        vector = np.roll(np.array([1, 0.2, 0, 0], dtype=np.float32), n)
        out.append([(i, round(s, 5)) for i, s in store.dense_search(vector, k=8)])
    return out


@pytest.fixture
def grown(tmp_path):
    """An index written in several flushed runs, with a deletion and a changed article."""
    path = tmp_path / "idx"
    articles = _articles()
    with Store.open(path, identity=IDENTITY, writable=True, create=True) as store:
        store.upsert([_item(articles[0], 0), _item(articles[1], 1)])
        store.flush()
        store.upsert([_item(articles[2], 2)])
        store.upsert([_item(articles[3], 3)])
        store.flush()
        store.delete([articles[1].id])
        changed = Article.create(title=articles[2].title, url=articles[2].url,
                                 source=articles[2].source,
                                 body=articles[2].body.replace("valley", "basin"))
        store.upsert([_item(changed, 4), _item(articles[4], 5)])
        store.flush()
    return path


def test_incremental_writes_equal_a_full_rebuild(grown):
    with Store.open(grown) as reader:
        incremental = _results(reader)
        assert not reader.verify() and not reader.check_files()
        full = KeywordIndex.build(*reader.catalog.chunk_texts())
        for query in QUERIES:
            np.testing.assert_allclose(reader.keywords.scores(query), full.scores(query),
                                       rtol=1e-6)
    with Store.open(grown, writable=True) as writer:
        writer.repair()  # everything rebuilt from SQLite
        assert _results(writer) == incremental
        texts = [p.text for p in writer.passages([i for i, _ in
                                                 writer.keyword_search("basin valley", 20)])]
        assert any("basin" in t for t in texts) and not any("valley" in t for t in texts)


def test_a_flush_writes_only_what_is_new(grown):
    manifest = json.loads((grown / MANIFEST_NAME).read_text())
    before = {p.name: p.stat().st_mtime_ns for p in (grown / BM25_DIR).iterdir()}
    base = (grown / manifest["dense_file"]).stat().st_mtime_ns
    with Store.open(grown, writable=True) as store:
        store.upsert([_item(Article.create(title="Ferries", body="Ferries resume on Monday. "
                                           "The harbor reopened.", url="https://f.example/1"),
                            9)])
    after = json.loads((grown / MANIFEST_NAME).read_text())
    assert after["dense_file"] == manifest["dense_file"]
    assert (grown / manifest["dense_file"]).stat().st_mtime_ns == base
    assert len(after["dense_deltas"]) == len(manifest["dense_deltas"]) + 1
    kept = set(manifest["bm25_segments"]) & set(after["bm25_segments"])
    assert kept == set(manifest["bm25_segments"])  # old segments untouched, one new one
    assert all((grown / BM25_DIR / name).stat().st_mtime_ns == before[name] for name in kept)
    with Store.open(grown) as reader:
        assert reader.passages([reader.keyword_search("ferries", 1)[0][0]])[0].title == "Ferries"


def test_a_kill_before_the_flush_is_caught_up_not_rebuilt(grown, monkeypatch):
    with Store.open(grown, writable=True) as store:
        gone = store.find_ids(["https://harbor.example/tram-line"])
        store.delete(gone)
        store.upsert([_item(Article.create(title="Ferries", body="Ferries resume on Monday.",
                                           url="https://f.example/1"), 9)])
        store._dirty = False  # as if killed here: the manifest is one run behind SQLite
    rebuilt = []
    monkeypatch.setattr(Store, "_rebuild_derived", lambda self: rebuilt.append(self))
    with Store.open(grown) as reader:
        assert reader.check_files()  # the manifest on disk is stale ...
        assert not reader.verify()  # ... but what the reader loaded caught up
        assert reader.passages([reader.keyword_search("ferries", 1)[0][0]])[0].title == "Ferries"
        assert not [p for p in reader.passages([i for i, _ in reader.keyword_search(
            "tram line", 10)]) if p.article_id in gone]
        caught_up = _results(reader)
    with Store.open(grown, writable=True) as writer:  # the next writer flushes it
        assert not writer.check_files() and not writer.verify()
    assert not rebuilt
    monkeypatch.undo()
    with Store.open(grown, writable=True) as writer:
        writer.repair()
        assert _results(writer) == caught_up


def test_many_small_runs_keep_few_files_and_the_same_results(tmp_path):
    articles = _articles()
    path = tmp_path / "idx"
    with Store.open(path, identity=IDENTITY, writable=True, create=True) as store:
        for run in range(30):
            article = articles[run % len(articles)]
            copy = Article.create(title=article.title, body=article.body + f" Update {run}.",
                                  url=f"{article.url}/{run}", source=article.source)
            store.upsert([_item(copy, run)])
            if run % 7 == 3:
                store.delete(store.find_ids([f"{article.url}/{run - 2}"]))
            store.flush()
        results = _results(store)
        manifest = json.loads((path / MANIFEST_NAME).read_text())
        assert len(manifest["bm25_segments"]) < 15 and len(manifest["dense_deltas"]) < 15
        named = set(manifest["bm25_segments"])
        assert len([p for p in (path / BM25_DIR).iterdir() if p.name not in named]) <= 10
        store.repair()
        assert _results(store) == results


def test_a_damaged_segment_is_reported_and_rebuilt(grown):
    manifest = json.loads((grown / MANIFEST_NAME).read_text())
    (grown / BM25_DIR / manifest["bm25_segments"][-1]).write_bytes(b"not a segment")
    with Store.open(grown) as reader:
        assert any("BM25" in p for p in reader.check_files())
        assert reader.keyword_search("tram", 3)  # rebuilt in memory from SQLite
    with Store.open(grown, writable=True) as writer:
        assert not writer.check_files() and not writer.verify()
    assert not [p for p in grown.rglob("*") if p.suffix in (".pkl", ".pickle", ".tmp")]
    assert all(os.path.getsize(p) for p in (grown / BM25_DIR).iterdir())


def test_a_flush_killed_midway_loses_nothing_and_readers_see_a_whole_generation(grown,
                                                                                 monkeypatch):
    """A flush that dies after writing some of its files (here: the second segment file of a
    merge fails) leaves the previous manifest in charge; a reader opened before keeps its
    generation, the next open catches up, and nothing committed is lost."""
    from newscite.index.postings import Segment

    articles = _articles()
    with Store.open(grown) as before:
        seen = _results(before)
    writer = Store.open(grown, writable=True)
    for run in range(12):  # enough small segments for a merge at the next flush
        copy = Article.create(title=f"Run {run}", body=articles[run % 5].body + f" Run {run}.",
                              url=f"https://runs.example/{run}")
        writer.upsert([_item(copy, 20 + run)])
    saved = []
    real_save = Segment.save

    def dying_save(segment, path):
        if saved:
            raise OSError("killed mid-flush")
        saved.append(path)
        real_save(segment, path)

    monkeypatch.setattr(Segment, "save", dying_save)
    with pytest.raises(OSError, match="mid-flush"):
        writer.flush()
    monkeypatch.undo()
    writer._dirty = False  # as if killed: close() writes nothing more
    writer.close()
    with Store.open(grown) as reader:
        assert not reader.verify()
        assert reader.counts()["articles"] == 4 + 12
        assert reader.keyword_search("run 11", 1)
    with Store.open(grown, writable=True) as again:
        assert not again.check_files() and not again.verify()
        texts = {p.title for p in again.passages([i for i, _ in again.keyword_search("run", 20)])}
        assert {f"Run {n}" for n in range(12)} <= texts
    assert seen  # the reader opened before the kill had its own, whole, generation

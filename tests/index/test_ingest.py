import json
import subprocess

from newscite.eval.crash import check_after_kill, kill_when, newscite
from newscite.index.dedup import Deduplicator
from newscite.index.ingest import Ingester, index_identity
from newscite.index.store import Store

from tests.conftest import FIXTURES


def _ingest(path, embedder, chunker, sources):
    with Store.open(path, identity=index_identity(embedder, chunker), writable=True,
                         create=True) as store:
        summary = Ingester(store, embedder, chunker, Deduplicator(), progress=False).run(sources)
        return summary, store.counts(), store.verify()


def test_duplicates_are_stored_once_and_near_copies_merged(tmp_path, embedder, chunker):
    summary, counts, problems = _ingest(tmp_path / "i", embedder, chunker,
                                        [str(FIXTURES / "news.jsonl")])
    assert (summary.added, summary.merged, summary.rejected) == (3, 1, 0)
    assert counts["articles"] == 3 and not problems
    with Store.open(tmp_path / "i") as store:
        tram = store.article(store.find_ids(["https://harbor.example/tram-line"])[0])
        assert [c.source for c in tram.also_reported_by] == ["Metro Daily"]
        assert tram.also_reported_by[0].url == "https://metro.example/news/tram"


def test_reingest_embeds_nothing_and_changes_replace_chunks(tmp_path, embedder, chunker):
    source = tmp_path / "news.jsonl"
    source.write_text((FIXTURES / "news.jsonl").read_text())
    _ingest(tmp_path / "i", embedder, chunker, [str(source)])
    again, counts, _ = _ingest(tmp_path / "i", embedder, chunker, [str(source)])
    assert (again.unchanged, again.chunks_embedded, again.added) == (3, 0, 0)
    records = [json.loads(line) for line in source.read_text().splitlines()]
    records[2]["body"] = records[2]["body"].replace("31 percent", "29 percent")
    records.append({"title": "New story", "body": "A brand new story about ferries. " * 5,
                    "url": "https://new.example/ferries"})
    source.write_text("\n".join(json.dumps(r) for r in records))
    changed, counts, problems = _ingest(tmp_path / "i", embedder, chunker, [str(source)])
    assert (changed.updated, changed.added, changed.unchanged) == (1, 1, 2)
    assert counts["articles"] == 4 and not problems
    with Store.open(tmp_path / "i") as store:
        hits = store.passages([i for i, _ in store.keyword_search("reservoir capacity", k=5)])
        assert any("29 percent" in p.text for p in hits)
        assert not any("31 percent" in p.text for p in hits)


def test_bad_records_are_reported_and_good_ones_kept(tmp_path, embedder, chunker):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.json").write_text("{not json")
    (tmp_path / "in" / "mixed.jsonl").write_text(
        json.dumps({"title": "no body"}) + "\n" +
        json.dumps({"title": "Good one", "text": "Ferries resume service on Monday.",
                    "link": "https://ok.example/1", "pubDate": "not a date"}) + "\n")
    (tmp_path / "in" / "garbage.txt").write_bytes(b"\x00\x01\x02binary\x00" * 100)
    summary, counts, _ = _ingest(tmp_path / "i", embedder, chunker, [str(tmp_path / "in")])
    assert summary.added == 1 and summary.rejected == 3
    assert counts["articles"] == 1
    assert all(r.reason for r in summary.rejections)


def test_store_remove_then_reingest_restores(news_index, embedder, chunker, tmp_path):
    import shutil

    path = tmp_path / "copy"
    shutil.copytree(news_index, path)
    with Store.open(path, writable=True) as store:
        before = store.counts()["articles"]
        assert store.delete(store.find_ids(["https://valley.example/drought-limits"])) == 1
        assert store.counts()["articles"] == before - 1 and not store.verify()
    summary, counts, _ = _ingest(path, embedder, chunker, [str(FIXTURES / "news.jsonl")])
    assert summary.added == 1 and counts["articles"] == before


def test_kill_9_mid_ingest_keeps_every_commit_and_resumes(tmp_path, multihop_slice):
    """SIGKILL a real ingest at several moments (during start-up, then after more and more
    commits, each time a random fraction of a second later); after every kill the index opens,
    is consistent and keeps every article committed before; a final run completes it.
    (`python -m newscite.eval.bench_crash` does the same 50 times over the whole corpus.)"""
    import random

    corpus, _ = multihop_slice
    records = json.loads(corpus.read_text())[:24]
    source = tmp_path / "slice.json"
    source.write_text(json.dumps(records))
    index = tmp_path / "idx"
    args = ("ingest", str(source), "--index", str(index), "--commit-every", "3", "--no-progress")
    rng = random.Random(7)
    committed: set[str] = set()
    kills = 0
    for target in (0, 3, 9, 15):
        delay = rng.uniform(0.5, 3.0) if target == 0 else rng.uniform(0.0, 1.0)
        if not kill_when(newscite(*args), index, after_articles=target, delay=delay):
            continue
        kills += 1
        check = check_after_kill(index, committed)
        assert check.survived, (check.problems, check.lost)
        committed = check.articles
    assert kills >= 3, f"only {kills} kills landed before the ingest finished"
    finished = newscite(*args, stderr=subprocess.PIPE)
    assert finished.wait(timeout=300) == 0, finished.stderr.read().decode()
    with Store.open(index) as store:
        assert store.counts()["articles"] == len(records)
        assert store.verify() == []

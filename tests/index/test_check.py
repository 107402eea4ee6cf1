"""`newscite check [--repair]`, read-only indexes and the writer lock, on a real small index."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest

from newscite.cli import main
from newscite.index.store import MANIFEST_NAME, Store

from tests.conftest import FIXTURES, ROOT


@pytest.fixture
def index_copy(news_index, tmp_path):
    """A private copy of the session's small news index, free to damage."""
    copy = tmp_path / "idx"
    shutil.copytree(news_index, copy)
    return copy


def _manifest(index) -> dict:
    return json.loads((index / MANIFEST_NAME).read_text())


def _counts(index) -> dict:
    with Store.open(index) as store:
        return store.counts()


def _check(index, capsys, *extra) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["check", "--index", str(index), *extra])
    return code, capsys.readouterr().out


def test_clean_index_is_ok(index_copy, capsys):
    counts = _counts(index_copy)
    code, out = _check(index_copy, capsys)
    assert code == 0
    assert out.strip() == f"index OK: {counts['articles']} articles, {counts['chunks']} chunks"


def _delete_faiss(index):
    (index / _manifest(index)["dense_file"]).unlink()


def _delete_bm25(index):
    shutil.rmtree(index / _manifest(index)["bm25_dir"])


def _corrupt_manifest(index):
    (index / MANIFEST_NAME).write_text("{not json")


def _stale_manifest(index):
    manifest = _manifest(index)
    manifest["generation"] -= 1
    (index / MANIFEST_NAME).write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage, reported", [
    (_delete_faiss, ".faiss (named in manifest.json) is missing"),
    (_delete_bm25, "(named in manifest.json) is missing"),
    (_corrupt_manifest, "manifest.json is missing or not valid JSON"),
    (_stale_manifest, "manifest.json is for generation"),
])
def test_damage_is_reported_then_repaired(index_copy, capsys, damage, reported):
    counts = _counts(index_copy)
    damage(index_copy)
    code, out = _check(index_copy, capsys)
    assert code == 1 and reported in out and "index OK" not in out
    code, out = _check(index_copy, capsys)
    assert code == 1, "a read-only check must not repair what it reports"
    code, out = _check(index_copy, capsys, "--repair")
    assert code == 0 and "repaired" in out and "index OK" in out
    code, out = _check(index_copy, capsys)
    assert code == 0 and out.startswith("index OK")
    assert _counts(index_copy) == counts


def test_wrong_faiss_contents_are_reported(index_copy, capsys):
    import faiss

    manifest = _manifest(index_copy)
    empty = faiss.IndexIDMap2(faiss.IndexFlatIP(manifest["identity"]["dimension"]))
    faiss.write_index(empty, str(index_copy / manifest["dense_file"]))
    code, out = _check(index_copy, capsys)
    assert code == 1 and "holds 0 vectors" in out
    assert _check(index_copy, capsys, "--repair")[0] == 0


def test_repair_needs_a_writable_store(index_copy):
    with Store.open(index_copy) as store, pytest.raises(PermissionError, match="read-only"):
        store.repair()


def test_read_only_store_answers_searches_and_refuses_writes(index_copy, embedder):
    with Store.open(index_copy) as store:
        assert store.keyword_search("tram line", 3)
        assert store.dense_search(embedder.embed(["tram line cost"])[0], 3)
        with pytest.raises(PermissionError, match=str(index_copy)):
            store.delete(["anything"])


@pytest.fixture
def read_only_index(index_copy):
    """The index copy with write permission removed everywhere (restored afterwards); for
    root, whom permissions do not stop, the copy is also bind-mounted read-only on itself."""
    paths = [index_copy, *index_copy.rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    mounted = os.access(index_copy, os.W_OK) and _mount_read_only(index_copy)
    if os.access(index_copy, os.W_OK):
        for path in paths:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        pytest.skip("neither file permissions nor a read-only mount stop this user")
    yield index_copy
    if mounted:
        subprocess.run(["umount", "--lazy", str(index_copy)], check=True)
    for path in paths:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _mount_read_only(folder) -> bool:
    """Bind-mount `folder` read-only on itself (needs root); whether it worked."""
    if subprocess.run(["mount", "--bind", str(folder), str(folder)]).returncode:
        return False
    if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)]).returncode:
        subprocess.run(["umount", str(folder)])
        return False
    return True


def test_read_only_directory_still_answers(read_only_index, capsys):
    capsys.readouterr()
    assert main(["search", "tram line cost", "--index", str(read_only_index), "-k", "1"]) == 0
    assert "City council approves new tram line" in capsys.readouterr().out
    assert main(["check", "--index", str(read_only_index)]) == 0
    assert main(["remove", "https://harbor.example/tram-line", "--index",
                 str(read_only_index)]) == 2
    err = capsys.readouterr().err
    assert "not writable" in err and str(read_only_index) in err


def test_second_writer_fails_clearly_and_changes_nothing(index_copy):
    before = (_manifest(index_copy), _counts(index_copy))
    with Store.open(index_copy, writable=True):
        result = subprocess.run(
            [sys.executable, "-m", "newscite.cli", "ingest", str(FIXTURES / "news.jsonl"),
             str(ROOT / "seeds"), "--index", str(index_copy), "--no-progress"],
            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "another newscite process" in result.stderr and "Traceback" not in result.stderr
    assert (_manifest(index_copy), _counts(index_copy)) == before


def test_reader_of_an_unwritable_directory_opens_the_database_immutable(index_copy, monkeypatch,
                                                                        embedder):
    """Runs even as root: pretend the directory is not writable, as it is for other users."""
    from newscite.index.store import catalog
    monkeypatch.setattr(catalog.os, "access", lambda path, mode: False)
    with Store.open(index_copy) as store:
        assert store.passages([c for c, _ in store.keyword_search("tram line", 2)])
        assert store.dense_search(embedder.embed(["tram line cost"])[0], 2)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.catalog.db.execute("DELETE FROM ingests")


def test_unreadable_database_is_one_clear_line(index_copy, capsys):
    (index_copy / "newsrag.sqlite").write_bytes(b"this is not a database" * 100)
    for name in ("newsrag.sqlite-wal", "newsrag.sqlite-shm"):
        (index_copy / name).unlink(missing_ok=True)
    capsys.readouterr()
    assert main(["check", "--index", str(index_copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newscite: error:") and "not a database" in err


@pytest.fixture
def small_disk(tmp_path):
    """An empty 8 MB tmpfs (mounting needs root, as CI runs; skipped otherwise)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=True)


@pytest.mark.parametrize("left", [0, 600_000], ids=["full", "fills-up-mid-ingest"])
def test_disk_full_is_one_clear_error_and_keeps_the_index(small_disk, news_index, capsys,
                                                          multihop_slice, left):
    """An ingest onto a full disk, or one that fills up under it, ends with one line naming
    the index and the full disk; the index keeps every article it had and stays consistent."""
    index = shutil.copytree(news_index, small_disk / "idx")
    with Store.open(index) as store:
        before = {row[0] for row in store.catalog.db.execute("SELECT id FROM articles")}
    articles = small_disk.parent / "new.json"
    articles.write_text(json.dumps(json.loads(multihop_slice[0].read_text())[:12]))
    filler = small_disk / "filler"
    with open(filler, "wb") as fh:  # leave `left` bytes free
        disk = os.statvfs(small_disk)
        os.posix_fallocate(fh.fileno(), 0, max(1, disk.f_bavail * disk.f_frsize - left))
    capsys.readouterr()
    code = main(["ingest", str(articles), "--index", str(index), "--commit-every", "2",
                 "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the model's loading bar
    assert code == 2, err
    assert err.startswith("newscite: error:") and "no space left" in err and str(index) in err
    filler.unlink()
    with Store.open(index, writable=True) as store:  # as the next writer opens it
        assert store.verify() == [] and store.check_files() == []
        after = {row[0] for row in store.catalog.db.execute("SELECT id FROM articles")}
    assert before <= after
    if left:  # some batches were committed before the disk filled up, not all
        assert len(before) < len(after) < len(before) + 12
    else:
        assert after == before

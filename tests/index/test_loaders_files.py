"""Files and folders, and the MultiHop-RAG corpus when present."""

from __future__ import annotations

import logging
from datetime import timezone

import pytest

import newscite.index.loaders as loaders
from newscite.index.loaders import load
from newscite.types import Rejection

from tests.index.loaderkit import (BRIDGE, FERRY, MARKETS, MULTIHOP, PAGE, articles, write,
                                   write_json)


# --- files and folders ------------------------------------------------------------------

def test_folders_are_read_recursively_sorted_and_hidden_skipped(tmp_path, caplog):
    write_json(tmp_path / "b.json", [{"title": "B", "body": BRIDGE}])
    write(tmp_path / "a" / "deeper" / "c.txt", "C\n\n" + MARKETS)
    write(tmp_path / "a" / "a.md", "A\n\n" + FERRY)
    write(tmp_path / "a" / "notes.csv", "title,body\nX,Y\n")
    write(tmp_path / ".git" / "config.json", '{"body": "not news"}')
    write(tmp_path / ".draft.txt", "Hidden\n\nnot news")
    with caplog.at_level(logging.DEBUG, logger="newscite.index.loaders"):
        items = list(load([tmp_path]))
    assert [a.title for a in items] == ["A", "C", "B"]
    assert "notes.csv" in caplog.text


def test_named_files_of_unknown_type_and_missing_paths_are_rejected(tmp_path):
    csv_file = write(tmp_path / "notes.csv", "title,body\n")
    unsupported, missing = load([csv_file, tmp_path / "nope.json"])
    assert unsupported.origin == str(csv_file) and "unsupported file type" in unsupported.reason
    assert ".jsonl" in unsupported.hint and ".rss" in unsupported.hint
    assert missing == Rejection(str(tmp_path / "nope.json"), "no such file", "check the path")


def test_a_crashing_loader_does_not_stop_the_other_files(tmp_path, monkeypatch):
    def explode(path, field_map=None):
        raise RuntimeError("boom")
        yield  # a generator, like every loader

    monkeypatch.setitem(loaders.LOADERS, ".html", explode)
    items = list(load([write(tmp_path / "page.html", PAGE),
                       write_json(tmp_path / "ok.json", [{"body": BRIDGE}])]))
    assert isinstance(items[0], Rejection) and "unexpected error" in items[0].reason
    assert items[1].body == BRIDGE


@pytest.mark.skipif(not MULTIHOP.exists(), reason="MultiHop-RAG corpus not in ../shared")
def test_multihop_corpus_loads_whole():
    items = list(load([MULTIHOP]))
    assert len(articles(items)) == len(items) == 609
    assert all(a.published_at is not None and a.published_at.tzinfo == timezone.utc for a in items)
    assert all(a.source for a in items)
    assert len({a.id for a in items}) == 609
    assert all(a.title and a.url and a.category for a in items)




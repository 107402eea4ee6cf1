"""newscite on Milvus (Milvus Lite, a local file) end to end through the command line: the
same ingest, search, ask, stats, remove and check as on FAISS, with the same answers."""

import json

import pytest

from newscite.cli import main

from tests.conftest import FIXTURES, ROOT

pytest.importorskip("pymilvus", reason="the Milvus store needs pip install 'newscite[scale]'")

SOURCES = [str(ROOT / "seeds"), str(FIXTURES / "news.jsonl")]
QUESTIONS = ["How much will the tram line cost?", "money raised by the startup",
             "drought water limits"]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory):
    """The same news ingested into FAISS and into a Milvus Lite file: (faiss, milvus) flags."""
    root = tmp_path_factory.mktemp("stores")
    faiss = ["--index", str(root / "faiss")]
    milvus = ["--index", str(root / "milvus"), "--store", f"milvus://{root}/news.db"]
    for flags in (faiss, milvus):
        assert main(["ingest", *SOURCES, *flags, "--no-progress"]) == 0
    return faiss, milvus


def _json(capsys, argv: list[str]):
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("question", QUESTIONS)
def test_search_and_ask_give_the_same_passages_on_both_stores(indexes, capsys, question):
    faiss, milvus = indexes
    searched = [_json(capsys, ["search", question, "-k", "4", "--json", *flags])
                for flags in indexes]
    assert [(p["title"], p["text"]) for p in searched[0]] == \
        [(p["title"], p["text"]) for p in searched[1]]
    assert [p["score"] for p in searched[0]] == pytest.approx([p["score"] for p in searched[1]],
                                                              abs=1e-4)
    answers = [_json(capsys, ["ask", question, "--json", *flags]) for flags in indexes]
    assert answers[0]["answer"] == answers[1]["answer"]
    assert [p["text"] for p in answers[0]["passages"]] == \
        [p["text"] for p in answers[1]["passages"]]


def test_outlet_filter_and_stats_on_milvus(indexes, capsys):
    _, milvus = indexes
    passages = _json(capsys, ["search", "money raised", "--source", "Harbor Gazette", "--json",
                              *milvus])
    assert passages and {p["source"] for p in passages} == {"Harbor Gazette"}
    stats = _json(capsys, ["stats", "--json", *milvus])
    assert stats["store"] == "milvus" and stats["articles"] == 4
    assert stats["milvus_uri"].startswith("milvus:///") and stats["milvus_collection"]


def test_check_finds_a_lost_collection_and_repair_rebuilds_it(indexes, capsys, tmp_path):
    import shutil

    from newscite.index.store.dense.milvus import connect

    _, milvus = indexes
    copy = tmp_path / "copy"
    shutil.copytree(milvus[1], copy)
    flags = ["--index", str(copy), "--store", milvus[3]]
    # a copied index directory has its own collection, built from its SQLite on repair
    assert main(["check", *flags]) == 1
    assert main(["check", "--repair", *flags]) == 0
    assert main(["remove", "https://valley.example/drought-limits", *flags]) == 0
    stats = _json(capsys, ["stats", "--json", *flags])
    client = connect(milvus[3])
    client.drop_collection(stats["milvus_collection"])
    client.close()
    capsys.readouterr()
    assert main(["check", *flags]) == 1
    assert "is missing" in capsys.readouterr().out
    assert main(["search", "tram", *flags]) == 2
    assert "newscite check --repair" in capsys.readouterr().err
    assert main(["check", "--repair", *flags]) == 0
    assert _json(capsys, ["search", "tram line", "-k", "1", "--json", *flags])[0]["title"] == \
        "City council approves new tram line"


def test_a_bad_store_setting_names_the_setting(capsys, tmp_path):
    assert main(["stats", "--index", str(tmp_path), "--store", "milvus"]) == 2
    assert "setting 'store'" in capsys.readouterr().err


def test_other_processes_write_and_read_a_milvus_index(indexes, capsys, tmp_path):
    """A new process finds the collection released (not in memory) and loads it. (Milvus
    Lite serves one process per file, for as long as the process lives: hence a file of its
    own, which this process never opens.)"""
    import subprocess
    import sys

    faiss, _ = indexes
    flags = ["--index", str(tmp_path / "idx"), "--store", f"milvus://{tmp_path}/other.db"]

    def newscite(*argv: str) -> str:
        result = subprocess.run([sys.executable, "-m", "newscite.cli", *argv, *flags],
                                capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    newscite("ingest", *SOURCES, "--no-progress")
    found = json.loads(newscite("search", QUESTIONS[0], "-k", "3", "--json"))
    expected = _json(capsys, ["search", QUESTIONS[0], "-k", "3", "--json", *faiss])
    assert [p["text"] for p in found] == [p["text"] for p in expected]

import json

import pytest

from newscite.cli import main

from tests.conftest import FIXTURES, ROOT


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory):
    index = tmp_path_factory.mktemp("cli") / "idx"
    assert main(["ingest", str(ROOT / "seeds"), str(FIXTURES / "news.jsonl"), "--index",
                 str(index), "--no-progress"]) == 0
    return index


def test_search_json_has_every_field(cli_index, capsys):
    capsys.readouterr()
    assert main(["search", "tram line cost", "--index", str(cli_index), "-k", "2", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 2
    top = results[0]
    assert top["title"] == "City council approves new tram line"
    assert top["source"] == "Harbor Gazette" and top["date"].startswith("2024-03-04")
    assert top["url"] == "https://harbor.example/tram-line" and "240 million" in top["text"]
    assert top["rank"] == 1 and top["score"] > 0


def test_search_filters_and_text_output(cli_index, capsys):
    capsys.readouterr()
    assert main(["search", "money raised", "--index", str(cli_index), "--source",
                 "Harbor Gazette", "--since", "2024-05-01", "--until", "2024-05-11"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(" 1. [") and "Local startup raises funds" in out
    assert "Valley Herald" not in out


def test_stats_and_remove(cli_index, capsys, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(cli_index, copy)
    capsys.readouterr()
    assert main(["stats", "--index", str(copy), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["articles"] == 4 and stats["outlets"] == 2 and stats["model"] == "all-MiniLM-L6-v2"
    assert main(["remove", "https://valley.example/drought-limits", "--index", str(copy)]) == 0
    assert main(["remove", "https://nowhere.example/x", "--index", str(copy)]) == 1
    capsys.readouterr()
    assert main(["stats", "--index", str(copy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 3


def test_errors_are_one_clear_line(tmp_path, capsys, monkeypatch):
    assert main(["search", "x", "--index", str(tmp_path / "none")]) == 2
    assert "newscite ingest" in capsys.readouterr().err
    monkeypatch.setenv("NEWSCITE_K", "lots")
    assert main(["stats", "--index", str(tmp_path / "none")]) == 2
    assert "NEWSCITE_K" in capsys.readouterr().err


def test_other_chunk_settings_are_refused(cli_index, capsys):
    assert main(["search", "tram", "--index", str(cli_index), "--chunk-tokens", "120"]) == 2
    assert "reindex" in capsys.readouterr().err

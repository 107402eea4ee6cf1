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


def _seed_questions() -> list[str]:
    lines = (ROOT / "eval" / "questions" / "seed.jsonl").read_text().splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def test_chat_and_command_line_give_the_same_answers_under_the_same_settings(
        news_index, capsys, monkeypatch):
    """One wiring (newscite.factory): the chat backend honours every setting the command line
    does. A non-default abstain_below (from the environment, as a user would set it) must
    change some answers, and both must change the same way."""
    from newscite.config import Config
    from newscite.types import Final
    from newscite.ui.backend import Backend

    def chat_answers(environ):
        backend = Backend(Config.load({"index": str(news_index)}, environ=environ))
        return [next(e.answer for e in backend.ask(q) if isinstance(e, Final)).text
                for q in _seed_questions()]

    strict = {"NEWSCITE_ABSTAIN_BELOW": "0.5"}  # weakly supported answers then abstain
    monkeypatch.setenv("NEWSCITE_ABSTAIN_BELOW", "0.5")
    command_line = []
    for question in _seed_questions():
        capsys.readouterr()
        assert main(["ask", question, "--index", str(news_index), "--json"]) == 0
        command_line.append(json.loads(capsys.readouterr().out)["answer"])
    assert chat_answers(strict) == command_line
    assert chat_answers({}) != command_line  # the setting matters on these questions


def test_ingest_names_the_outlet_of_files_that_name_none(tmp_path, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "bridge.txt").write_text("Date: 2023-10-05\nThe old bridge will close for "
                                       "repairs in November, the council said.\n")
    index = str(tmp_path / "idx")
    assert main(["ingest", str(folder), "--index", index, "--default-source", "River Post",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["search", "bridge repairs", "--index", index, "--json"]) == 0
    [hit] = json.loads(capsys.readouterr().out)
    assert (hit["source"], hit["date"][:10]) == ("River Post", "2023-10-05")


def test_ingest_without_sentence_vectors_then_with_them(tmp_path, capsys):
    """`--sentence-vectors false` stores none; a later ingest with them stores only its own."""
    index = str(tmp_path / "idx")
    assert main(["ingest", str(FIXTURES / "news.jsonl"), "--index", index,
                 "--sentence-vectors", "false", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["stats", "--index", index, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sentence_vectors"] == 0
    assert main(["ingest", str(ROOT / "seeds"), "--index", index, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["stats", "--index", index, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sentence_vectors"] > 0
    assert main(["ingest", str(ROOT / "seeds"), "--index", index, "--sentence-vectors",
                 "perhaps"]) == 2
    assert "must be true or false" in capsys.readouterr().err

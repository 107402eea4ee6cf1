"""The chat server's backend over real indexes: answers, uploads, overview, failures."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from newscite.config import Config
from newscite.types import Answer, Final, Notice, Retracted
from newscite.ui.backend import Backend, Unavailable

from tests.conftest import ROOT

LIGHTHOUSE = {"title": "Lighthouse museum reopens", "source": "Coastal Courier",
              "published_at": "2024-08-02T10:00:00Z", "url": "https://coast.example/lighthouse",
              "body": "The old lighthouse on Gull Point reopened as a maritime museum on Friday "
                      "after a two-year restoration. The museum displays the original Fresnel "
                      "lens and logbooks kept since 1881."}


@pytest.fixture
def index_copy(news_index, tmp_path):
    """A private copy of the fixture index: these tests add articles to it."""
    return shutil.copytree(news_index, tmp_path / "idx")


def final(events) -> Answer:
    """The answer of the last event, which must be the `Final` one."""
    *_, last = events
    assert isinstance(last, Final)
    return last.answer


def test_answers_with_citations_and_describes_the_index(index_copy):
    backend = Backend(Config.load({"index": str(index_copy)}, environ={}))
    answer = final(backend.ask("How much will the new tram line cost?"))
    assert "[1]" in answer.text and answer.citations[0].passage.source == "Harbor Gazette"
    overview = backend.overview()
    assert overview.articles == 4 and not overview.problem
    assert {"Harbor Gazette", "Valley Herald"} <= {name for name, _ in overview.outlets}
    assert backend.modes == ["extractive"]
    assert any("Valley Herald" in q for q in backend.example_questions())


def test_uploaded_articles_are_searchable_at_once_and_bad_files_are_named(index_copy, tmp_path):
    backend = Backend(Config.load({"index": str(index_copy)}, environ={}))
    upload = tmp_path / "gradio" / "feed.jsonl"
    upload.parent.mkdir()
    upload.write_text(json.dumps(LIGHTHOUSE) + "\n{\"title\": \"broken\n")
    (tmp_path / "gradio" / "notes.pdf").write_text("%PDF-1.4")
    summary, refused = backend.add_files([str(upload), str(tmp_path / "gradio" / "notes.pdf")])
    assert summary.added == 1
    assert [r.origin for r in summary.rejections] == ["feed.jsonl#line 2"]
    assert [r.origin for r in refused] == ["notes.pdf"]
    answer = final(backend.ask("What does the lighthouse museum display?"))
    assert answer.citations[0].passage.source == "Coastal Courier"
    assert backend.overview().articles == 5
    assert "Coastal Courier" in backend.example_questions()[0]


def test_the_chat_follows_a_reindex_to_the_other_kind_of_vectors(index_copy, tmp_path):
    """Another process re-embeds the index int8 <-> float: with precision "auto" the chat's
    embedder follows, so its questions are embedded as the chunks are and uploads are taken."""
    pytest.importorskip("onnxruntime")
    backend = Backend(Config.load({"index": str(index_copy)}, environ={}))
    before = backend.embedder.identity["quantization"]
    subprocess.run([sys.executable, "-m", "newscite.cli", "reindex", "--index", str(index_copy),
                    "--precision", "fp32" if before else "onnx-int8"], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    backend.reopen()
    assert backend.embedder.identity["quantization"] != before
    answer = final(backend.ask("How full is the reservoir during the drought?"))
    assert "31 percent" in answer.text
    upload = tmp_path / "lighthouse.jsonl"
    upload.write_text(json.dumps(LIGHTHOUSE) + "\n")
    summary, _ = backend.add_files([str(upload)])
    assert summary.added == 1 and not summary.rejections


def test_without_an_index_questions_are_refused_and_an_upload_creates_it(tmp_path):
    backend = Backend(Config.load({"index": str(tmp_path / "none")}, environ={}))
    assert "no newscite index" in backend.overview().problem
    with pytest.raises(Unavailable, match="no newscite index"):
        final(backend.ask("anything?"))
    upload = tmp_path / "feed.jsonl"
    upload.write_text(json.dumps(LIGHTHOUSE) + "\n")
    summary, _ = backend.add_files([str(upload)])
    assert summary.added == 1 and backend.overview().articles == 1


def test_an_empty_question_is_a_value_error(index_copy):
    backend = Backend(Config.load({"index": str(index_copy)}, environ={}))
    with pytest.raises(ValueError, match="empty"):
        final(backend.ask("   "))


def test_a_dead_llm_server_falls_back_to_the_extractive_answer(index_copy):
    pytest.importorskip("newscite.rag.llm")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config.load({"index": str(index_copy), "llm_base_url": f"http://127.0.0.1:{port}/v1",
                          "llm_timeout": 2}, environ={})
    backend = Backend(config)
    assert backend.modes == ["extractive", "generate"]
    assert "no LLM server answers" in backend.llm_status
    question = "How much will the new tram line cost?"
    events = list(backend.ask(question, mode="generate"))
    kinds = [type(event) for event in events]
    assert Retracted in kinds and Notice in kinds
    assert kinds.index(Retracted) < kinds.index(Final)
    assert kinds.index(Notice) < kinds.index(Final)
    notice = next(event for event in events if isinstance(event, Notice))
    assert "LLM could not answer" in notice.message
    answer = final(events)
    assert answer.origin == "fallback" and "[1]" in answer.text
    assert answer.text == final(backend.ask(question, mode="extractive")).text

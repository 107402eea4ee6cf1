"""Writing report.json / report.md / plots, and comparing two reports."""

from __future__ import annotations

import json

import pytest

from newscite.eval.report import compare_reports, write_report
from newscite.eval.runner import run_eval

SETTINGS = {"chunk_size": 256, "chunk_overlap": 200, "retriever": "keyword", "manifest": {"n": 6}}


@pytest.fixture
def report_dir(tmp_path, questions, retrieve, answerer):
    result = run_eval(questions, retrieve, answerer, k=10, settings=SETTINGS, progress=False)
    write_report(result, tmp_path / "a")
    return tmp_path / "a"


def test_files_are_written(report_dir):
    for name in ("report.json", "report.md", "metrics_by_type.png", "latency.png"):
        assert (report_dir / name).stat().st_size > 0, name
    for name in ("metrics_by_type.png", "latency.png"):
        assert (report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_round_trips_with_settings_versions_and_per_question_scores(report_dir):
    text = (report_dir / "report.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert json.loads(json.dumps(data)) == data
    assert data["settings"] == SETTINGS and data["k"] == 10
    assert data["environment"]["python"].startswith("3.")
    assert "numpy" in data["environment"]["packages"]
    assert "commit" in data["git"]  # None outside a git checkout or before the first commit
    assert data["n_questions"] == 7 and data["question_types"]["fact"] == 3
    assert data["overall"]["hits@10"]["value"] == pytest.approx(5 / 6)
    assert set(data["overall"]["mrr@10"]) == {"value", "n", "ci_low", "ci_high"}
    assert data["headline"][:3] == ["hits@4", "hits@10", "mrr@10"]
    q4 = next(q for q in data["questions"] if q["id"] == "q4")
    assert q4["scores"]["mrr@10"] == 0.5 and q4["retrieved"][1]["relevant"] is True
    assert q4["failures"] == ["answer does not match gold (strict)"]


def test_markdown_has_tables_settings_and_failing_questions(report_dir):
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    headings = [
        "## Headline",
        "## Retrieval by question type",
        "## Answers by question type",
        "## Abstention by question type",
        "## Citations by question type",
        "## Latency",
        "## Failing questions",
    ]
    assert all(heading in md for heading in headings)
    assert "| metric | value | 95% CI | n |" in md
    assert "| Hits@10 | 0.833 |" in md
    assert md.count("top-k = 10 · chunk size = 256 · chunk overlap = 200") >= 5
    assert "5 of 7 questions fail; showing 5." in md
    assert "### q5 · fact" in md and "“Apple makes the iPhone.”" in md
    assert "✓ *Chip results* — Example News, date unknown" in md
    assert "![latency](latency.png)" in md


def test_lenient_match_is_never_shown_without_exact_match(report_dir):
    lines = (report_dir / "report.md").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "lenient" in line:
            nearby = "\n".join(lines[max(0, i - 2) : i + 1])
            assert "exact match of the lead (strict)" in nearby, line


def test_retrieval_only_report_has_no_answer_tables(tmp_path, questions, retrieve):
    result = run_eval(questions, retrieve, progress=False)
    paths = write_report(result, tmp_path / "r")
    md = paths["report.md"].read_text(encoding="utf-8")
    assert "## Answers by question type" not in md and "lenient" not in md
    assert "chunk size = not stated" in md


def test_compare_pairs_questions_and_reports_deltas(
    tmp_path, report_dir, questions, worse_retrieve, answerer
):
    settings = {**SETTINGS, "retriever": "skip-best"}
    worse = run_eval(questions, worse_retrieve, answerer, settings=settings, progress=False)
    write_report(worse, tmp_path / "b")
    table = compare_reports(report_dir / "report.json", tmp_path / "b" / "report.json")
    assert "paired questions: 7 (only in A: 0, only in B: 0)" in table
    assert "| retriever | keyword | skip-best |" in table
    # Without its best passage the retriever loses q1, q2 and q7 (one relevant chunk each) and
    # keeps q3 and q4 at rank 1: Hits@10 5/6 -> 2/6, MRR@10 4.5/6 -> 2/6.
    assert "| Hits@10 | 0.833 | 0.333 | -0.500 |" in table
    assert "| MRR@10 | 0.750 | 0.333 | -0.417 |" in table
    hits_row = next(line for line in table.splitlines() if line.startswith("| Hits@10 "))
    p_value = float(hits_row.split("|")[6])
    assert p_value < 0.1


def test_compare_with_itself_shows_no_change(report_dir):
    table = compare_reports(report_dir / "report.json", report_dir / "report.json")
    assert "Settings that differ" not in table
    rows = [row for row in table.splitlines() if row.startswith("| ") and "metric" not in row]
    assert len(rows) == 12  # every headline metric, answers, leads and abstention included
    assert all("| +0.000 | [+0.000, +0.000] | 1.000 |" in row for row in rows)

"""run_eval over the tiny corpus in conftest.py; expected figures worked out by hand there.

Keyword retrieval gives (relevant ranks in brackets): q1 [1], q2 [1], q3 [1, 2] (both facts),
q4 [2] (the chipmaker chunk outranks the revenue fact), q5 nothing retrieved, q7 [1];
q6 is unanswerable and not scored for retrieval. The answerer quotes the top passage's
first sentence with [1], so it contains the gold for q1-q3 and is exact only for q7
("Yes. ..."); it abstains on q5 (wrongly) and q6 (rightly).
"""

from __future__ import annotations

import pytest

from newscite.eval.runner import metric_names, run_eval


def _value(result, name):
    return result.overall[name].value


def test_retrieval_only(questions, retrieve):
    result = run_eval(questions, retrieve, k=10, settings={"chunk_size": 64}, progress=False)
    assert not result.answered
    assert result.settings == {"chunk_size": 64}
    assert _value(result, "hits@4") == pytest.approx(5 / 6)
    assert _value(result, "hits@10") == pytest.approx(5 / 6)
    assert _value(result, "mrr@10") == pytest.approx((1 + 1 + 1 + 0.5 + 0 + 1) / 6)
    assert _value(result, "evidence_recall@10") == pytest.approx(5 / 6)
    assert _value(result, "all_evidence@10") == pytest.approx(5 / 6)
    assert _value(result, "article_recall@10") == pytest.approx(2 / 3)  # q1, q4 yes; q5 no
    assert result.overall["hits@10"].n == 6
    assert "exact_match" not in result.overall
    assert set(result.latency) == {"retrieve"}

    fact = result.by_type["fact"]
    assert fact["hits@10"].value == pytest.approx(2 / 3) and fact["hits@10"].n == 3
    assert "hits@10" not in result.by_type["null_query"]
    low, high = result.overall["hits@10"].ci_low, result.overall["hits@10"].ci_high
    assert low <= 5 / 6 <= high <= 1.0


def test_small_k_separates_recall_from_all_evidence(questions, retrieve):
    result = run_eval(questions, retrieve, k=1, progress=False)
    scored = [name for name in metric_names(1) if name in result.overall]
    assert scored[:4] == ["hits@1", "mrr@1", "evidence_recall@1", "all_evidence@1"]
    assert _value(result, "hits@1") == pytest.approx(4 / 6)
    assert _value(result, "evidence_recall@1") == pytest.approx((1 + 1 + 0.5 + 0 + 0 + 1) / 6)
    assert _value(result, "all_evidence@1") == pytest.approx(3 / 6)


def test_with_answers(questions, retrieve, answerer):
    result = run_eval(questions, retrieve, answerer, k=10, progress=False)
    assert result.answered
    assert _value(result, "exact_match") == pytest.approx(1 / 6)
    assert _value(result, "gold_contained") == pytest.approx(4 / 6)
    assert _value(result, "lenient_match") == pytest.approx(4 / 6)
    assert _value(result, "abstention_precision") == pytest.approx(1 / 2)
    assert _value(result, "abstention_recall") == 1.0
    assert _value(result, "false_abstention_rate") == pytest.approx(1 / 6)
    assert _value(result, "citation_markers_resolve") == 1.0
    assert _value(result, "cited_sentence_share") == pytest.approx(4.5 / 5)
    assert _value(result, "citation_support") == 1.0
    assert set(result.latency) == {"retrieve", "answer", "total"}
    assert result.latency["answer"]["n"] == 7 and result.questions_per_second > 0


def test_records_keep_what_was_retrieved_and_why_questions_fail(questions, retrieve, answerer):
    result = run_eval(questions, retrieve, answerer, progress=False)
    records = {r.id: r for r in result.records}
    q4 = records["q4"]
    assert q4.relevant_ranks == [2]
    assert [p.relevant for p in q4.retrieved] == [False, True]
    assert q4.retrieved[1].title == "Chip results" and q4.retrieved[1].date == "date unknown"
    assert q4.facts_found == ["Nvidia reported record data centre revenue"] and not q4.facts_missed
    assert q4.scores["mrr@10"] == 0.5
    assert records["q3"].facts_missed == []
    assert records["q5"].facts_missed == ["Apple makes the iPhone."]
    assert records["q5"].failures == [
        "no relevant chunk retrieved",
        "abstained although answerable",
    ]
    assert records["q1"].failures == ["answer does not match gold (strict)"]
    assert records["q6"].failures == [] and records["q7"].failures == []
    assert records["q1"].answer_text == "NATO foreign ministers met in Brussels on Tuesday. [1]"
    assert all(r.seconds["retrieve"] >= 0 for r in result.records)


def test_errors_name_the_question(questions):
    def broken(question, k):
        raise KeyError("index missing")

    with pytest.raises(RuntimeError, match="retrieve failed on question 'q1'"):
        run_eval(questions, broken, progress=False)
    with pytest.raises(ValueError):
        run_eval([], broken, progress=False)

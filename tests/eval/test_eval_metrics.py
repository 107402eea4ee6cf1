"""Each metric on a hand-computed fixture."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from newscite.eval import metrics
from newscite.eval.questions import load_questions
from newscite.types import Coverage, Passage

FACT = "NATO foreign ministers met in Brussels."
OTHER = "Ukraine asked for THAAD."


def _passage(
    text: str,
    article_id: str = "0123456789abcdef",
    url: str | None = None,
    coverage: tuple[Coverage, ...] = (),
) -> Passage:
    published = datetime(2024, 12, 3, tzinfo=timezone.utc)
    return Passage(
        0, article_id, "t", "s", published, url, text, 0, len(text), also_reported_by=coverage
    )


# --- retrieval --------------------------------------------------------------------------


def test_readme_check_relevant_at_ranks_1_and_3():
    chunks = [f"Intro. {FACT} More.", "Unrelated text.", f"{FACT}", "Other."]
    assert metrics.relevant_ranks([FACT], chunks, 10) == [1, 3]
    assert metrics.hits_at_k([FACT], chunks, 4) == 1.0
    assert metrics.mrr_at_k([FACT], chunks, 10) == 1.0


def test_only_spaces_and_newlines_are_stripped():
    assert metrics.hits_at_k([FACT], ["NATO foreign\nministers  met in\n\nBrussels."], 1) == 1.0
    assert metrics.hits_at_k(["NATO foreign\nministers met"], ["NATOforeignministersmet"], 1) == 1.0
    # Case, punctuation and tabs are not normalised.
    assert metrics.hits_at_k([FACT], ["nato foreign ministers met in brussels."], 1) == 0.0
    assert metrics.hits_at_k([FACT], ["NATO foreign ministers met in Brussels"], 1) == 0.0
    assert metrics.hits_at_k([FACT], ["NATO foreign\tministers met in Brussels."], 1) == 0.0


def test_ranks_beyond_k_do_not_count():
    chunks = ["x"] * 4 + [FACT] + ["y"] * 10
    assert metrics.hits_at_k([FACT], chunks, 4) == 0.0
    assert metrics.hits_at_k([FACT], chunks, 10) == 1.0
    assert metrics.mrr_at_k([FACT], chunks, 10) == pytest.approx(1 / 5)
    assert metrics.mrr_at_k([FACT], ["x"] * 10 + [FACT], 10) == 0.0


def test_mrr_uses_first_relevant_rank():
    assert metrics.mrr_at_k([FACT, OTHER], ["x", "y", OTHER, FACT], 10) == pytest.approx(1 / 3)


def test_evidence_recall_and_all_evidence():
    facts = [FACT, OTHER, "A third fact."]
    chunks = [f"{FACT} {OTHER}", "nothing"]
    assert metrics.facts_found(facts, chunks, 10) == [True, True, False]
    assert metrics.evidence_recall_at_k(facts, chunks, 10) == pytest.approx(2 / 3)
    assert metrics.all_evidence_at_k(facts, chunks, 10) == 0.0
    assert metrics.all_evidence_at_k(facts[:2], chunks, 10) == 1.0
    # A fact split across two chunks is found in neither.
    split = ["NATO foreign ministers", "met in Brussels."]
    assert metrics.evidence_recall_at_k([FACT], split, 10) == 0.0


def test_passages_are_scored_by_their_text():
    passages = [_passage("nothing"), _passage(f"x {FACT}")]
    assert metrics.relevant_ranks([FACT], passages, 10) == [2]
    assert metrics.mrr_at_k([FACT], passages) == 0.5


def test_retrieval_needs_gold_facts():
    with pytest.raises(ValueError):
        metrics.hits_at_k([], ["x"], 4)
    with pytest.raises(ValueError):
        metrics.hits_at_k([" \n"], ["x"], 4)


def test_article_recall_matches_urls_ids_and_merged_coverage():
    passages = [
        _passage("a", article_id="aaaaaaaaaaaaaaaa", url="HTTPS://Example.com/one/"),
        _passage("b", article_id="b" * 16, coverage=(Coverage("Other", "https://other.com/c"),)),
        _passage("c", article_id="cccccccccccccccc", url="https://example.com/three"),
    ]
    gold = ["https://example.com/one", "b" * 16, "https://other.com/c", "https://x.com/4"]
    assert metrics.article_recall_at_k(gold, passages, 10) == pytest.approx(3 / 4)
    assert metrics.article_recall_at_k(["https://example.com/three"], passages, 2) == 0.0


# --- answers ----------------------------------------------------------------------------


def test_normalise_answer():
    assert metrics.normalise_answer("The U.S.-developed THAAD!") == "u s developed thaad"
    assert metrics.normalise_answer("  An   apple,  a pear ") == "apple pear"
    assert metrics.normalise_answer("True") == "yes"
    assert metrics.normalise_answer("FALSE.") == "no"
    assert metrics.normalise_answer("“Insufficient information.”") == "insufficient information"
    assert metrics.normalise_answer("Bankman-Fried") == metrics.normalise_answer("Bankman Fried")


def test_exact_match_is_strict_after_normalisation():
    assert metrics.exact_match("Brussels.", ["Brussels"]) == 1.0
    assert metrics.exact_match("the brussels", "Brussels") == 1.0
    assert metrics.exact_match("In Brussels", ["Brussels"]) == 0.0
    assert metrics.exact_match("Germany", ["U.S.", "Germany"]) == 1.0
    assert metrics.exact_match("Insufficient information", ["Insufficient information."]) == 1.0
    # a date lead may name its weekday; nothing else may lead the gold
    assert metrics.exact_match("Friday, November 17, 2023", ["November 17, 2023"]) == 1.0
    assert metrics.exact_match("Friday", ["November 17, 2023"]) == 0.0
    assert metrics.exact_match("Sunday Times", ["Times"]) == 0.0


def test_exact_match_reads_the_leading_yes_or_no():
    assert metrics.exact_match("Yes, both outlets reported it [1].", ["Yes"]) == 1.0
    assert metrics.exact_match("No.", ["no"]) == 1.0
    assert metrics.exact_match("False", ["No"]) == 1.0
    assert metrics.exact_match("I think yes", ["Yes"]) == 0.0
    assert metrics.exact_match("No, it did not", ["Yes"]) == 0.0
    assert metrics.exact_match("", ["Yes"]) == 0.0


def test_gold_contained_needs_whole_words():
    assert metrics.gold_contained("They met in Brussels [1].", ["Brussels"]) == 1.0
    assert metrics.gold_contained("It is not known.", ["No"]) == 0.0
    assert metrics.gold_contained("Sam Bankman Fried was convicted", ["Sam Bankman-Fried"]) == 1.0
    assert metrics.gold_contained("Bankman-Fried", ["Sam Bankman-Fried"]) == 0.0


def test_lenient_match_is_any_word_in_common():
    assert metrics.lenient_match("Bankman-Fried", ["Sam Bankman-Fried"]) == 1.0
    assert metrics.lenient_match("the cat", ["The Verge"]) == 0.0  # "the" is dropped


def test_constant_hedge_scores_high_on_lenient_and_low_on_exact_match():
    golds = ["Yes", "no", "Insufficient information.", "Sam Bankman-Fried", "Google", "No"]
    hedge = "Yes no insufficient"
    lenient = [metrics.lenient_match(hedge, [g]) for g in golds]
    strict = [metrics.exact_match(hedge, [g]) for g in golds]
    assert sum(lenient) / len(golds) == pytest.approx(4 / 6)
    assert sum(strict) / len(golds) == pytest.approx(1 / 6)


def test_constant_hedge_on_multihop_dev_reproduces_the_readme(multihop_dev_path):
    questions = load_questions(multihop_dev_path)
    hedge = "Yes no insufficient"
    lenient = sum(metrics.lenient_match(hedge, q.answers) for q in questions) / len(questions)
    strict = sum(metrics.exact_match(hedge, q.answers) for q in questions) / len(questions)
    assert lenient == pytest.approx(0.64, abs=0.01)  # README: "scores 0.64"
    assert strict < 0.35  # only the "Yes" golds (30%), through the leading-word rule


# --- abstention -------------------------------------------------------------------------


def test_abstention_indicators_average_to_precision_recall_and_false_rate():
    # (abstained, unanswerable) per question
    cases = [(True, True), (True, False), (False, True), (False, False), (False, False),
             (True, True)]
    rows = [metrics.abstention_indicators(*case) for case in cases]

    def mean(name):
        values = [row[name] for row in rows if row[name] is not None]
        return sum(values) / len(values)

    assert mean("abstention_precision") == pytest.approx(2 / 3)  # 2 of 3 abstentions right
    assert mean("abstention_recall") == pytest.approx(2 / 3)  # 2 of 3 unanswerable caught
    assert mean("false_abstention_rate") == pytest.approx(1 / 3)  # 1 of 3 answerable refused
    assert metrics.abstention_indicators(False, False)["abstention_precision"] is None


# --- citations --------------------------------------------------------------------------


def test_answer_sentences_keep_their_markers():
    text = "NATO met in Brussels. [1] The U.S. officials agreed [2]. Done!\n- a bullet [3]"
    assert metrics.split_sentences(text) == [
        "NATO met in Brussels. [1]",
        "The U.S. officials agreed [2].",
        "Done!",
        "- a bullet [3]",
    ]


def test_markers_resolve_to_shown_passages():
    assert metrics.markers_resolve("A [1]. B [3].", 3) == 1.0
    assert metrics.markers_resolve("A [1]. B [3].", 2) == 0.0
    assert metrics.markers_resolve("A [0].", 2) == 0.0
    assert metrics.markers_resolve("No markers.", 2) is None


def test_cited_sentence_share():
    assert metrics.cited_sentence_share("One [1]. Two. Three [2]. Four.") == 0.5
    assert metrics.cited_sentence_share("") is None


def test_citation_support_is_lexical_containment():
    passages = ["NATO foreign ministers met in Brussels on Tuesday.", "Germany urged caution."]
    text = (
        "NATO ministers met in Brussels [1]. "  # 4/4 content words in [1]
        "Germany urged caution on Tuesday [2]. "  # 3/4 in [2]: supported
        "Zelensky resigned [1]. "  # 0/2: unsupported
        "Not cited at all."  # ignored
    )
    assert metrics.citation_support(text, passages) == pytest.approx(2 / 3)
    # Threshold boundary: 3 of 5 content words is 0.6 (supported), 2 of 5 is not.
    five_words = "alpha beta gamma delta epsilon [1]."
    assert metrics.citation_support(five_words, ["alpha beta gamma"]) == 1.0
    assert metrics.citation_support(five_words, ["alpha beta"]) == 0.0
    # A marker pointing past the shown passages supports nothing; cited passages pool words.
    assert metrics.citation_support("NATO met in Brussels [5].", passages) == 0.0
    assert metrics.citation_support("Germany met caution [1, 2].", passages) == 1.0
    assert metrics.citation_support("Nothing cited.", passages) is None


def test_citation_support_accepts_passages():
    passages = [_passage("NATO foreign ministers met in Brussels on Tuesday.")]
    assert metrics.citation_support("Ministers met in Brussels [1].", passages) == 1.0


# --- statistics -------------------------------------------------------------------------


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean():
    values = [0.0, 1.0] * 50
    low, high = metrics.bootstrap_ci(values)
    assert (low, high) == metrics.bootstrap_ci(values)
    assert low < 0.5 < high
    assert 0.35 < low and high < 0.65  # 95% of means lie within ~2 standard errors (0.05)
    assert metrics.bootstrap_ci([0.7] * 10) == pytest.approx((0.7, 0.7))
    with pytest.raises(ValueError):
        metrics.bootstrap_ci([])


def test_paired_bootstrap():
    same = metrics.paired_bootstrap([0.0, 1.0] * 10, [0.0, 1.0] * 10)
    assert same == (0.0, 0.0, 0.0, 1.0)
    better = metrics.paired_bootstrap([0.0] * 20, [1.0] * 20)
    assert better == pytest.approx((1.0, 1.0, 1.0, 0.0))
    delta, low, high, p = metrics.paired_bootstrap([0.0, 1.0] * 10, [1.0, 1.0] * 10)
    assert delta == pytest.approx(0.5)
    assert 0.0 < low <= 0.5 <= high <= 1.0
    assert p < 0.01
    again = metrics.paired_bootstrap([0.0, 1.0] * 10, [1.0, 1.0] * 10, seed=0)
    assert again == (delta, low, high, p)
    noisy = metrics.paired_bootstrap([1, 0, 1, 0, 1], [0, 1, 1, 0, 1])
    assert noisy.delta == 0.0 and noisy.p_value == 1.0
    with pytest.raises(ValueError):
        metrics.paired_bootstrap([1.0], [1.0, 0.0])


def test_latency_summary():
    summary = metrics.latency_summary([0.1] * 19 + [1.0])
    assert summary["n"] == 20
    assert summary["p50"] == pytest.approx(0.1)
    # p95 interpolates between the 19th and 20th sorted values at position 0.95 * 19 = 18.05.
    assert summary["p95"] == pytest.approx(0.1 + 0.05 * 0.9)
    assert summary["mean"] == pytest.approx((1.9 + 1.0) / 20)
    assert summary["max"] == 1.0

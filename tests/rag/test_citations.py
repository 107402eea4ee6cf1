from hypothesis import given, settings
from hypothesis import strategies as st

from newscite.rag.citations import check, markers, supported
from newscite.types import Passage


def _passage(text, title="Drought forces water limits"):
    return Passage(chunk_id=1, article_id="a", title=title, source="Valley Herald",
                   published_at=None, url=None, text=text, start=0, end=len(text))


PASSAGES = [_passage("The reservoir stands at 31 percent of capacity. Farmers said it came too late."),
            _passage("Residents may water gardens only before 8 a.m.", title="Garden rules")]


def test_markers_in_every_form():
    assert markers("A [1]. B [2, 3][4].") == [1, 2, 3, 4]


def test_valid_citations_are_kept_with_the_quoted_span():
    report = check("The reservoir is at 31 percent of capacity [1]. Gardens may be watered "
                   "only before 8 a.m. [2].", PASSAGES)
    assert report.valid and report.removed == 0
    assert [c.n for c in report.citations] == [1, 2]
    start, end = report.citations[0].span
    assert PASSAGES[0].text[start:end] == "The reservoir stands at 31 percent of capacity."


def test_out_of_range_and_zero_markers_are_removed_and_counted():
    report = check("The reservoir is at 31 percent [1][3]. Farmers said it came too late [0].",
                   PASSAGES)
    assert report.removed == 2
    assert "[3]" not in report.text and "[0]" not in report.text
    assert report.uncited == ["Farmers said it came too late."]
    assert [c.n for c in report.citations] == [1]


def test_unsupported_sentence_is_flagged():
    report = check("The mayor resigned over a corruption scandal yesterday [1].", PASSAGES)
    assert report.unsupported and not report.valid
    assert supported("Farmers said it came too late", PASSAGES[:1])


def test_no_markers_at_all_is_not_valid():
    report = check("The reservoir is at 31 percent.", PASSAGES)
    assert not report.valid and report.citations == []


# Property tests: whatever a model writes, the checked text cites only passages that exist.
WORDS = st.sampled_from(["The", "reservoir", "stands", "at", "31", "percent", "gardens",
                         "mayor", "resigned", ".", ",", "!", "?", "\n", "[", "]", "(1)"])
MARKS = st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=3).map(
    lambda numbers: "[" + ", ".join(map(str, numbers)) + "]")
TEXTS = st.lists(WORDS | MARKS, max_size=40).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.integers(min_value=0, max_value=2))
def test_checked_text_cites_only_existing_passages(text, count):
    passages = PASSAGES[:count]
    report = check(text, passages)
    assert all(1 <= n <= count for n in markers(report.text))
    assert report.removed == sum(not 1 <= n <= count for n in markers(text))
    for citation in report.citations:
        assert citation.passage is passages[citation.n - 1]
        if citation.span:
            start, end = citation.span
            assert 0 <= start < end <= len(citation.passage.text)
    again = check(report.text, passages)
    assert again.removed == 0 and again.text == report.text


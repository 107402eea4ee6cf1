from rag.citations import check, markers, supported
from rag.schema import Passage


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

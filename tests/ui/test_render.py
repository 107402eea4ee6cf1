"""The chat page's pure parts: rendering, timeline, upload names and login."""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import pytest

from newscite.types import Answer, Citation, Coverage, IngestSummary, Passage, Rejection
from newscite.ui import render
from newscite.ui.render import Overview, Turn
from newscite.ui.timeline import ALSO, CITED, RETRIEVED, coverage_points, timeline_figure
from newscite.ui.uploads import safe_name, stage

DAY = datetime(2024, 3, 4, 9, tzinfo=timezone.utc)
TEXT = "The council voted on Monday. The line will cost 240 million euros. Work starts soon."


def passage(chunk_id=1, source="Harbor Gazette", text=TEXT, when=DAY, url="https://h.example/a",
            title="Council approves tram", also=()):
    return Passage(chunk_id=chunk_id, article_id=f"a{chunk_id}", title=title, source=source,
                   published_at=when, url=url, text=text, start=0, end=len(text),
                   also_reported_by=also)


def cited_answer():
    first = passage(also=(Coverage("Metro Daily", "https://m.example/t", DAY),))
    second = passage(2, "Valley Herald", "Reservoir at 31 percent.", DAY.replace(month=7))
    uncited = passage(3, "Metro Daily", "Unrelated.", DAY.replace(day=9))
    return Answer(question="How much?", text="It costs 240 million euros [1]. Low water [2].",
                  citations=[Citation(1, first, (29, 66)), Citation(2, second, (0, 24)),
                             Citation(1, first, (0, 28))],
                  passages=[first, second, uncited])


def test_escape_leaves_no_markup_markdown_or_template_syntax():
    escaped = render.escape("<script>alert(1)</script> **b** [x](javascript:y) ${v} {{h}} $$")
    assert not re.search(r"[<>\[\]*$`{}()]", escaped)
    assert html.unescape(escaped) == "<script>alert(1)</script> **b** [x](javascript:y) " \
                                     "${v} {{h}} $$"


def test_sources_of_groups_spans_per_marker_in_marker_order():
    sources = render.sources_of(cited_answer())
    assert [(s.n, s.passage.source, s.spans) for s in sources] == [
        (1, "Harbor Gazette", ((29, 66), (0, 28))), (2, "Valley Herald", ((0, 24),))]
    assert all(s.cited for s in sources)


def test_an_answer_without_citations_lists_its_passages_as_closest_coverage():
    answer = Answer(question="q", text="Not found.", passages=[passage()], abstained=True)
    assert [(s.n, s.cited) for s in render.sources_of(answer)] == [(1, False)]
    assert "closest coverage" in render.sources_html([Turn("q", answer)])


def test_message_links_known_markers_to_their_sources_and_escapes_the_rest():
    message = render.message_html("Cost <b>high</b> [1]. Other [2]. Both [1, 2]\nnext", turn=3,
                                  numbers={1})
    assert message.count('<a class="cite" href="#src-3-1">&#91;1&#93;</a>') == 2
    assert "&#91;2&#93;" in message and "#src-3-2" not in message
    assert "<b>" not in message and "&#60;b&#62;high" in message
    assert "<br>" in message and "\n" not in message


def test_chat_messages_alternate_user_and_assistant_with_linked_markers():
    messages = render.chat_messages([Turn("How much?", cited_answer())])
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert 'href="#src-1-1"' in messages[1]["content"]
    assert 'href="#src-1-2"' in messages[1]["content"]


def test_notices_stand_above_their_answer_escaped():
    turn = Turn("q", cited_answer(), ("The question has 3,157 characters; only <its> first "
                                      "1,994 were read.",))
    reply = render.chat_messages([turn])[1]["content"]
    assert reply.startswith('<div class="note">The question has 3,157 characters; only '
                            '&#60;its&#62; first 1,994 were read.</div><div class="answer">')
    assert render.chat_messages([Turn("q", cited_answer())])[1]["content"].startswith(
        '<div class="answer">')


def test_an_article_without_outlet_or_date_shows_neither():
    bare = passage(source=None, when=None)
    head = render.source_html(1, render.Source(1, bare, ((4, 11),)))
    assert "Unknown outlet" not in head and "date unknown" not in head
    assert '<span class="marker">&#91;1&#93;</span> </div>' in head
    dated = render.source_html(1, render.Source(1, passage(source=None)))
    assert '<span class="date">2024&#45;03&#45;04</span></div>' in dated
    assert 'class="outlet"' not in dated
    assert render.status_html(Overview(articles=3)) == '<div class="status">3 articles.</div>'


def test_highlighted_marks_merged_spans_in_escaped_text():
    marked = render.highlighted("a <x> b c", [(0, 3), (2, 5), (8, 9)])
    assert marked == "<mark>a &#60;x&#62;</mark> b <mark>c</mark>"


def test_highlighted_cuts_a_long_passage_around_its_span():
    text = "x" * 1000 + "TARGET" + "y" * 1000
    marked = render.highlighted(text, [(1000, 1006)])
    assert "<mark>TARGET</mark>" in marked
    assert marked.startswith("…") and marked.endswith("…") and len(marked) < 700


def test_source_entry_shows_outlet_date_linked_title_quote_and_other_outlets():
    panel = render.sources_html([Turn("How much?", cited_answer())])
    entry = html.unescape(re.search(r'<li class="source" id="src-1-1">.*?</li>', panel).group())
    assert "Harbor Gazette" in entry and "2024-03-04" in entry
    assert ('<a href="https://h.example/a" target="_blank" rel="noopener noreferrer">'
            "Council approves tram</a>") in entry
    assert "<mark>The council voted on Monday.</mark> <mark>The line will cost 240 million " \
           "euros.</mark> Work starts soon." in entry
    assert "Also reported by" in entry and "Metro Daily" in entry
    assert 'id="src-1-2"' in panel and 'id="src-1-3"' not in panel


def test_article_html_and_unsafe_urls_never_become_markup():
    evil = passage(title="<img src=x onerror=alert(1)>", source="<b>Evil</b>",
                   text="<script>alert(1)</script>", url="javascript:alert(1)")
    answer = Answer(question="<i>q</i>", text="Bad [1]", citations=[Citation(1, evil, (0, 8))],
                    passages=[evil])
    page = render.sources_html([Turn("<i>q</i>", answer)]) + "".join(
        m["content"] for m in render.chat_messages([Turn("<i>q</i>", answer)]))
    assert not re.search(r"<(script|img|b|i)\b", page)
    assert "javascript" not in page.replace("javascript&#58;", "")
    assert "href=\"javascript" not in page


def test_sources_panel_lists_newest_answer_first_and_opens_the_one_shown():
    turns = [Turn("first", cited_answer()), Turn("second", cited_answer())]
    panel = render.sources_html(turns)
    assert panel.index('id="turn-2"') < panel.index('id="turn-1"')
    assert '<details class="turn" id="turn-2" open>' in panel
    assert '<details class="turn" id="turn-1" open>' in render.sources_html(turns, shown=1)
    assert render.answer_choices(turns) == [("1. first", 1), ("2. second", 2)]


def test_overview_and_status_show_counts_or_the_problem():
    overview = Overview(articles=5, chunks=8, outlets=[("Harbor Gazette", 3), ("<b>X</b>", 2)],
                        first_date=DAY, last_date=DAY.replace(month=8), model="all-MiniLM-L6-v2",
                        reference_date=DAY.replace(month=8), index_path="/idx", llm="extractive")
    table = render.overview_html(overview)
    assert "<b>X" not in table
    for expected in ("5", "8", "Harbor Gazette", "2024-03-04 to 2024-08-04", "all-MiniLM-L6-v2",
                     "Reference date", "extractive", "<b>X</b>"):
        assert expected in html.unescape(table)
    assert "5 articles from 2 outlets" in render.status_html(overview)
    missing = render.status_html(Overview(problem="no newscite index at /idx"))
    assert "no newscite index at /idx" in missing and "Add articles" in missing


def test_ingest_report_counts_and_lists_every_problem():
    summary = IngestSummary(added=2, chunks_embedded=3,
                            rejections=[Rejection("feed.jsonl#line 2", "not valid JSON")])
    report = html.unescape(render.ingest_html(
        summary, [Rejection("notes.pdf", "unsupported file type '.pdf'")]))
    assert "Added 2 new" in report and "3 passages" in report
    assert "feed.jsonl#line 2" in report and "notes.pdf" in report
    assert "Nothing was added" in render.ingest_html(IngestSummary(rejected=1))


def test_coverage_points_mark_cited_retrieved_and_copies():
    kinds = {(p.outlet, p.kind) for p in coverage_points(cited_answer())}
    assert kinds == {("Harbor Gazette", CITED), ("Valley Herald", CITED),
                     ("Metro Daily", RETRIEVED), ("Metro Daily", ALSO)}


def test_timeline_figure_has_a_row_per_outlet_or_is_none_without_dates():
    figure = timeline_figure(cited_answer())
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert sorted(labels) == ["Harbor Gazette", "Metro Daily", "Valley Herald"]
    undated = Answer(question="q", text="t", passages=[passage(when=None)])
    assert timeline_figure(undated) is None


@pytest.mark.parametrize("name, expected", [
    ("feed.jsonl", "01-feed.jsonl"),
    ("../../etc/passwd", "01-passwd"),
    ("..\\..\\win\\evil.JSON", "01-evil.json"),
    (".hidden.md", "01-hidden.md"),
    ("My Feed (1).xml", "01-My_Feed_1.xml"),
    ("....", "01-upload"),
])
def test_safe_name_keeps_only_a_harmless_basename(name, expected):
    assert safe_name(name, 1) == expected


def test_stage_copies_supported_files_and_refuses_others(tmp_path):
    uploads, private = tmp_path / "gradio", tmp_path / "private"
    uploads.mkdir(), private.mkdir()
    (uploads / "news.jsonl").write_text("{}")
    (uploads / "notes.pdf").write_text("%PDF")
    staged, refused = stage([str(uploads / "news.jsonl"), str(uploads / "notes.pdf")], private)
    assert staged == [(private / "01-news.jsonl", "news.jsonl")]
    assert (private / "01-news.jsonl").read_text() == "{}"
    assert [r.origin for r in refused] == ["notes.pdf"] and "unsupported" in refused[0].reason


def test_login_needs_both_user_and_password():
    from newscite.config import Config
    from newscite.ui.app import auth_from_env, launch_options

    assert auth_from_env({"NEWSCITE_USER": "ann", "NEWSCITE_PASSWORD": "pw"}) == ("ann", "pw")
    assert auth_from_env({"NEWSCITE_USER": "ann"}) is None
    options = launch_options(Config.load({}, environ={}), environ={})
    assert options["server_name"] == "127.0.0.1" and options["auth"] is None
    assert options["max_file_size"] == "50mb"

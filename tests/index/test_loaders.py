"""Loaders on small real files written here, and on the MultiHop-RAG corpus when present."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import newscite.index.loaders as loaders
from newscite.index.loaders import load
from newscite.index.loaders.records import FIELDS, from_record
from newscite.types import Article, Rejection

MULTIHOP = Path(__file__).parents[2] / ".." / "shared" / "data" / "multihop-rag" / "corpus.json"

FERRY = ("Ferry workers voted on Tuesday to end a three-week strike that had stranded "
         "islanders, the union said.\n\nServices resume “tomorrow at 6am” — the first "
         "crossing is already sold out.")
BRIDGE = "The old bridge will close for repairs in November, the council said on Monday."
MARKETS = "Stocks fell sharply on Friday as oil prices rose for a fourth day."


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode(encoding)
    path.write_bytes(content)
    return path


def write_json(path: Path, document: object) -> Path:
    return write(path, json.dumps(document, ensure_ascii=False, indent=1))


def articles(items: list) -> list[Article]:
    return [item for item in items if isinstance(item, Article)]


def rejections(items: list) -> list[Rejection]:
    return [item for item in items if isinstance(item, Rejection)]


# --- JSON records: fields, aliases, field_map -------------------------------------------

def test_json_list_with_our_field_names(tmp_path):
    path = write_json(tmp_path / "news.json", [{
        "title": "Ferry strike ends", "body": FERRY, "source": "Harbour Gazette",
        "published_at": "2023-10-10T14:30:00+02:00", "url": "https://gazette.example/ferry",
        "author": "Ann Lee", "category": "local"}])
    [article] = load([path])
    assert article.title == "Ferry strike ends"
    assert article.body == FERRY
    assert (article.source, article.url, article.authors, article.category) == (
        "Harbour Gazette", "https://gazette.example/ferry", ("Ann Lee",), "local")
    assert article.published_at == utc(2023, 10, 10, 12, 30)
    assert article.origin == f"{path}#record 1"


def test_common_aliases_are_understood(tmp_path):
    path = write_json(tmp_path / "aliases.json", [
        {"headline": "Bridge to close", "text": BRIDGE, "pubDate": "Mon, 02 Oct 2023 09:00:00 GMT",
         "outlet": "City Post", "link": "https://citypost.example/bridge",
         "byline": "By Bo Chan and Cy Dee", "section": "transport"},
        {"title": "Markets slide", "maintext": MARKETS, "publish_date": "2023-10-06",
         "publisher": {"id": "wire", "name": "Wire Service"},
         "canonical_url": "https://wire.example/m",
         "authors": ["Di Eve", "Ed Fox"]},
    ])
    bridge, markets = load([path])
    assert (bridge.title, bridge.body, bridge.source, bridge.url) == (
        "Bridge to close", BRIDGE, "City Post", "https://citypost.example/bridge")
    assert bridge.published_at == utc(2023, 10, 2, 9)
    assert bridge.authors == ("Bo Chan", "Cy Dee")
    assert bridge.category == "transport"
    assert (markets.body, markets.source, markets.published_at) == (
        MARKETS, "Wire Service", utc(2023, 10, 6))
    assert markets.authors == ("Di Eve", "Ed Fox")


def test_field_map_takes_precedence_over_aliases(tmp_path):
    path = write_json(tmp_path / "custom.json", [{
        "hed": "Ferry strike ends", "story_text": FERRY, "text": "teaser only",
        "title": "old title", "when": "2023-10-10T12:00:00Z"}])
    [article] = load([path], field_map={"body": "story_text", "title": "hed",
                                        "published_at": "when"})
    assert (article.title, article.body, article.published_at) == (
        "Ferry strike ends", FERRY, utc(2023, 10, 10, 12))


def test_unknown_field_map_name_fails_before_reading(tmp_path):
    with pytest.raises(ValueError, match="known fields are"):
        load([tmp_path / "anything.json"], field_map={"text": "story"})


def test_json_wrapped_list_and_single_object(tmp_path):
    wrapped = write_json(tmp_path / "api.json", {"status": "ok", "articles": [
        {"title": "A", "body": BRIDGE}, {"title": "B", "body": MARKETS}]})
    single = write_json(tmp_path / "one.json", {"title": "C", "content": FERRY})
    assert [a.title for a in load([wrapped, single])] == ["A", "B", "C"]


def test_none_null_and_empty_values_mean_missing(tmp_path):
    path = write_json(tmp_path / "nulls.json", [{
        "title": "Bridge to close", "body": BRIDGE, "author": "None", "source": "",
        "url": "null", "published_at": None, "category": "  "}])
    [article] = load([path])
    assert article.authors == ()
    assert article.source is article.url is article.published_at is article.category is None


def test_missing_title_is_the_first_line_shortened_at_a_word(tmp_path):
    first_line = ("Officials in the coastal town said on Thursday that the storm surge had "
                  "flooded more than two hundred homes and closed every road into the harbour")
    path = write_json(tmp_path / "untitled.json", [{"body": first_line + "\n\nMore text."},
                                                   {"body": BRIDGE}])
    long_one, short_one = load([path])
    assert long_one.title.endswith("…") and len(long_one.title) <= 121
    assert first_line.startswith(long_one.title[:-1])
    assert first_line[len(long_one.title) - 1] == " "
    assert short_one.title == BRIDGE


# --- dates ------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("2023-10-05T14:30:00+02:00", utc(2023, 10, 5, 12, 30)),
    ("2023-10-05 09:15", utc(2023, 10, 5, 9, 15)),  # naive: taken as UTC
    ("Tue, 10 Oct 2023 14:30:00 EST", utc(2023, 10, 10, 19, 30)),
    ("October 5, 2023", utc(2023, 10, 5)),
    (1696948200, utc(2023, 10, 10, 14, 30)),
    (1696948200000, utc(2023, 10, 10, 14, 30)),
])
def test_dates_become_utc(value, expected):
    article = from_record({"body": BRIDGE, "date": value}, "dates.json#record 1")
    assert article.published_at == expected
    assert article.published_at.tzinfo == timezone.utc


@pytest.mark.parametrize("value", [
    "sometime last week", "10:30", "Tuesday", "1066-10-14", [2023, 10, 5], True,
    (datetime.now(timezone.utc) + timedelta(days=30)).isoformat(),
])
def test_unusable_dates_keep_the_article_with_date_unknown(tmp_path, caplog, value):
    path = write_json(tmp_path / "dates.json", [{"body": MARKETS}, {"body": BRIDGE, "date": value}])
    with caplog.at_level(logging.WARNING):
        items = list(load([path]))
    assert [a.body for a in articles(items)] == [MARKETS, BRIDGE]
    assert items[1].published_at is None
    assert f"{path}#record 2" in caplog.text and "date unknown" in caplog.text


def test_tomorrow_is_still_a_plausible_date():
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    assert from_record({"body": BRIDGE, "date": tomorrow.isoformat()}, "x").published_at is not None


# --- records that cannot be used --------------------------------------------------------

def test_record_without_body_is_rejected_and_the_rest_load(tmp_path):
    path = write_json(tmp_path / "corpus.json", [
        {"title": "Ferry", "body": FERRY},
        {"title": "No text here", "url": "https://example.com/x"},
        {"title": "Blank", "body": " \u200b\n\t\x00 "},
        "just a string",
        {"title": "Markets", "text": MARKETS},
    ])
    items = list(load([path]))
    assert [a.title for a in articles(items)] == ["Ferry", "Markets"]
    no_text, blank, not_object = rejections(items)
    assert no_text == Rejection(f"{path}#record 2", "no article text",
                                "add a 'body' (or text/content) field")
    assert blank.origin == f"{path}#record 3" and blank.reason == "no article text"
    assert not_object.origin == f"{path}#record 4" and "got a string" in not_object.reason


def test_invalid_json_is_one_rejection_with_position(tmp_path):
    path = write(tmp_path / "broken.json",
                 '[{"title": "A", "body": "text"},\n {"title": "B" "body": 1}]')
    [rejection] = load([path])
    assert rejection.origin == str(path)
    assert "not valid JSON" in rejection.reason and "line 2" in rejection.reason
    assert rejection.hint


def test_empty_file_is_rejected(tmp_path):
    items = list(load([write(tmp_path / "empty.json", ""), write(tmp_path / "blank.txt", " \n\n")]))
    assert [(r.reason) for r in items] == ["empty file", "empty file"]


def test_binary_garbage_is_rejected(tmp_path):
    garbage = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(7).randbytes(4000)
    [rejection] = load([write(tmp_path / "photo.json", garbage)])
    assert rejection.reason == "binary file, not text"


def test_cp1252_text_is_decoded(tmp_path):
    text = ("---\ntitle: Café owners protest\n---\n"
            "Owners of the café on Rue de l’Église said the new rules were “unfair” — "
            "they will close on Friday in protest. The mayor’s office said it would "
            "review the décision before the end of the month.\n")
    [article] = load([write(tmp_path / "cafe.txt", text, encoding="cp1252")])
    assert article.title == "Café owners protest"
    assert article.body == text.split("---\n", 2)[2].strip()


@pytest.mark.parametrize("sentence", [
    "Le maire a déclaré que la rue resterait fermée jusqu’à vendredi « au moins ».",
    "Der Bürgermeister sagte, die Straße bleibt gesperrt.",
])
def test_short_western_legacy_text_is_read_as_windows_1252(tmp_path, sentence):
    [article] = load([write(tmp_path / "short.txt", sentence, encoding="cp1252")])
    assert article.body == sentence


def test_utf16_text_with_byte_order_mark_is_decoded(tmp_path):
    [article] = load([write(tmp_path / "wide.txt", "Bridge\n\n" + BRIDGE, encoding="utf-16")])
    assert article.body == "Bridge\n\n" + BRIDGE


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = write(tmp_path / "bom.json", b"\xef\xbb\xbf" + json.dumps([{"body": BRIDGE}]).encode())
    assert [a.body for a in load([path])] == [BRIDGE]


def test_huge_article_is_rejected_quickly_and_others_kept(tmp_path):
    huge = ("The committee met again. " * 2_100_000)[:50_000_000]
    path = write_json(tmp_path / "big.json", [{"title": "Ferry", "body": FERRY},
                                              {"title": "Transcript", "body": huge},
                                              {"title": "Bridge", "body": BRIDGE}])
    started = time.monotonic()
    items = list(load([path]))
    assert time.monotonic() - started < 10
    assert [a.title for a in articles(items)] == ["Ferry", "Bridge"]
    [too_long] = rejections(items)
    assert too_long.origin == f"{path}#record 2"
    assert "too long" in too_long.reason and "50,000,000" in too_long.reason
    assert "split" in too_long.hint


# --- JSON Lines -------------------------------------------------------------------------

def test_jsonl_bad_line_is_one_rejection(tmp_path):
    lines = [json.dumps({"title": "Ferry", "body": FERRY}), "",
             '{"title": "Broken", "body": "unterminated',
             json.dumps({"title": "Bridge", "body": BRIDGE, "date": "2023-10-02"})]
    path = write(tmp_path / "news.jsonl", "\n".join(lines) + "\n")
    items = list(load([path]))
    assert [a.title for a in articles(items)] == ["Ferry", "Bridge"]
    assert articles(items)[1].origin == f"{path}#line 4"
    [bad] = rejections(items)
    assert bad.origin == f"{path}#line 3" and "not valid JSON" in bad.reason


def test_ndjson_line_separator_inside_a_string_is_not_a_line_break(tmp_path):
    body = "First sentence.\u2028Second sentence."
    path = write(tmp_path / "news.ndjson", json.dumps({"body": body}, ensure_ascii=False) + "\n")
    [article] = load([path])
    assert article.body == body


# --- text and Markdown ------------------------------------------------------------------

def test_text_with_front_matter(tmp_path):
    path = write(tmp_path / "ferry.md", (
        "---\r\ntitle: \"Ferry strike: workers vote to return\"\r\nsource: Harbour Gazette\r\n"
        "published_at: 2023-10-10T14:30:00+02:00\r\nurl: https://gazette.example/ferry\r\n"
        "authors:\r\n  - Ann Lee\r\n  - Bo Chan\r\ncategory: local\r\nlayout: post\r\n---\r\n"
        + FERRY.replace("\n", "\r\n") + "\r\n"))
    [article] = load([path])
    assert article.title == "Ferry strike: workers vote to return"
    assert (article.source, article.url, article.category) == (
        "Harbour Gazette", "https://gazette.example/ferry", "local")
    assert article.authors == ("Ann Lee", "Bo Chan")
    assert article.published_at == utc(2023, 10, 10, 12, 30)
    assert article.body == FERRY
    assert article.origin == str(path)


def test_text_without_front_matter_takes_first_line_as_title(tmp_path):
    path = write(tmp_path / "bridge.txt", "\n\nBridge to close in November\n\n" + BRIDGE + "\n")
    [article] = load([path])
    assert article.title == "Bridge to close in November"
    assert article.body == "Bridge to close in November\n\n" + BRIDGE
    assert article.published_at is None


@pytest.mark.parametrize("key", ["date", "published"])
def test_front_matter_date_and_published_are_the_date(tmp_path, key):
    [article] = load([write(tmp_path / "m.md", f"---\n{key}: 2023-11-02\n---\n{MARKETS}\n")])
    assert article.published_at == utc(2023, 11, 2)


def test_header_lines_under_a_title_give_date_outlet_and_author(tmp_path):
    path = write(tmp_path / "bridge.txt", "Bridge to close in November\nDate: 5 October 2023\n"
                                          "Source: River Post\nBy: Ann Lee\n\n" + BRIDGE + "\n")
    [article] = load([path])
    assert (article.title, article.source, article.authors) == (
        "Bridge to close in November", "River Post", ("Ann Lee",))
    assert article.published_at == utc(2023, 10, 5)
    assert article.body == BRIDGE


def test_a_date_line_at_the_top_is_the_date_and_not_the_body(tmp_path):
    [article] = load([write(tmp_path / "m.txt", f"Date: 2023-10-06\n{MARKETS}\n")])
    assert article.published_at == utc(2023, 10, 6) and article.body == MARKETS


def test_other_colon_lines_stay_body_and_no_date_is_guessed(tmp_path):
    text = f"Note: markets were volatile.\n{MARKETS}"
    [article] = load([write(tmp_path / "note.txt", text + "\n")])
    assert article.body == text and article.published_at is None  # not the file's mtime


def test_default_source_names_only_articles_without_an_outlet(tmp_path):
    write(tmp_path / "news" / "a.txt", BRIDGE)
    write_json(tmp_path / "news" / "b.json", {"body": MARKETS, "source": "Wire"})
    found = load([tmp_path / "news"], default_source="River Post")
    assert [a.source for a in articles(list(found))] == ["River Post", "Wire"]
    assert [a.source for a in articles(list(load([tmp_path / "news"])))] == [None, "Wire"]


def test_markdown_rule_at_the_top_is_not_front_matter(tmp_path):
    text = "---\nA line of prose, not a key.\n---\n" + MARKETS
    [article] = load([write(tmp_path / "rule.md", text)])
    assert article.body == text.strip()


# --- HTML -------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Storm hits coast | Daily Planet</title>
<meta name="author" content="Lois Lane">
<meta property="og:site_name" content="Daily Planet">
<meta property="article:published_time" content="2023-10-05T14:30:00+02:00">
<link rel="canonical" href="https://dailyplanet.example/storm">
</head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<article>
<h1>Storm hits coast</h1>
<p>A powerful storm struck the coast on Thursday, leaving thousands of homes without power
and flooding low-lying streets in the harbour district.</p>
<p>Officials said repairs could take “several days” — residents were told to stay indoors
and to avoid the seafront until the wind drops.</p>
</article>
<footer>© 2023 Daily Planet. All rights reserved. Subscribe to our newsletter.</footer>
</body></html>"""


def test_html_page(tmp_path):
    path = write(tmp_path / "site" / "storm.html", PAGE)
    [article] = load([path])
    assert article.title == "Storm hits coast"
    assert (article.source, article.url, article.authors) == (
        "Daily Planet", "https://dailyplanet.example/storm", ("Lois Lane",))
    assert article.published_at == utc(2023, 10, 5, 12, 30)
    assert "repairs could take “several days” — residents" in article.body
    assert "Subscribe" not in article.body and "Sport" not in article.body


def test_html_without_main_text_is_rejected(tmp_path):
    path = write(tmp_path / "empty.htm", "<html><head><title>Index</title></head>"
                                         "<body><img src='logo.png'></body></html>")
    [rejection] = load([path])
    assert rejection.reason == "no article text found in the HTML page"


# --- RSS and Atom -----------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Harbour Gazette</title>
  <link>https://gazette.example</link>
  <item>
    <title>Ferry strike ends</title>
    <link>https://gazette.example/ferry</link>
    <pubDate>Tue, 10 Oct 2023 14:30:00 EST</pubDate>
    <dc:creator>Ann Lee</dc:creator>
    <category>Local</category>
    <description>Workers vote to return.</description>
    <content:encoded><![CDATA[<p>Ferry workers voted on Tuesday to end the strike.</p>
      <p>Services resume &ldquo;tomorrow&rdquo;<br/>at 6am.</p>]]></content:encoded>
  </item>
  <item>
    <title>Bridge to close</title>
    <link>https://gazette.example/bridge</link>
    <pubDate>some day soon</pubDate>
    <description>The old bridge closes for &lt;b&gt;repairs&lt;/b&gt; in November.</description>
  </item>
  <item>
    <title>Headline only</title>
    <link>https://gazette.example/headline</link>
  </item>
</channel>
</rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Wire Service</title>
  <id>urn:wire</id>
  <updated>2023-10-06T18:00:00Z</updated>
  <entry>
    <title>Markets slide</title>
    <link href="https://wire.example/markets"/>
    <id>urn:wire:markets</id>
    <updated>2023-10-06T17:45:00+01:00</updated>
    <author><name>Di Eve</name></author>
    <summary type="text">Stocks fell sharply on Friday as oil prices rose for a fourth day.</summary>
  </entry>
</feed>"""


def test_rss_feed(tmp_path, caplog):
    path = write(tmp_path / "gazette.rss", RSS)
    with caplog.at_level(logging.WARNING):
        ferry, bridge, headline_only = load([path])
    assert ferry.title == "Ferry strike ends"
    assert ferry.body == ("Ferry workers voted on Tuesday to end the strike.\n\n"
                          "Services resume “tomorrow”\nat 6am.")
    assert (ferry.source, ferry.url, ferry.authors, ferry.category) == (
        "Harbour Gazette", "https://gazette.example/ferry", ("Ann Lee",), "Local")
    assert ferry.published_at == utc(2023, 10, 10, 19, 30)
    assert ferry.origin == f"{path}#entry 1"
    assert bridge.body == "The old bridge closes for repairs in November."
    assert bridge.published_at is None and f"{path}#entry 2" in caplog.text
    assert headline_only == Rejection(f"{path}#entry 3", "feed entry has no text",
                                      headline_only.hint)


def test_atom_feed(tmp_path):
    [article] = load([write(tmp_path / "wire.atom", ATOM)])
    assert (article.title, article.body, article.source) == (
        "Markets slide", MARKETS, "Wire Service")
    assert article.url == "https://wire.example/markets"
    assert article.authors == ("Di Eve",)
    assert article.published_at == utc(2023, 10, 6, 16, 45)


def test_malformed_feed_without_entries_is_rejected(tmp_path):
    [rejection] = load([write(tmp_path / "cut.xml", "<?xml version='1.0'?>\n<rss><chan")])
    assert rejection.reason.startswith("not a readable RSS or Atom feed")


def test_xml_that_is_not_a_feed_is_rejected(tmp_path):
    sitemap = "<?xml version='1.0'?><urlset><url><loc>https://a.example/</loc></url></urlset>"
    [rejection] = load([write(tmp_path / "sitemap.xml", sitemap)])
    assert rejection.reason == "no entries in the feed"


def test_entity_expansion_is_refused(tmp_path):
    laughs = "\n".join(f'  <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n  <!ENTITY lol0 "lol">\n{laughs}\n]>\n'
            "<rss version='2.0'><channel><title>&lol9;</title><item><title>x</title>"
            "<description>&lol9;</description></item></channel></rss>")
    started = time.monotonic()
    [rejection] = load([write(tmp_path / "bomb.xml", bomb)])
    assert time.monotonic() - started < 1
    assert rejection.reason == "XML entity declarations are not allowed"


# --- files and folders ------------------------------------------------------------------

def test_folders_are_read_recursively_sorted_and_hidden_skipped(tmp_path, caplog):
    write_json(tmp_path / "b.json", [{"title": "B", "body": BRIDGE}])
    write(tmp_path / "a" / "deeper" / "c.txt", "C\n\n" + MARKETS)
    write(tmp_path / "a" / "a.md", "A\n\n" + FERRY)
    write(tmp_path / "a" / "notes.csv", "title,body\nX,Y\n")
    write(tmp_path / ".git" / "config.json", '{"body": "not news"}')
    write(tmp_path / ".draft.txt", "Hidden\n\nnot news")
    with caplog.at_level(logging.DEBUG, logger="newscite.index.loaders"):
        items = list(load([tmp_path]))
    assert [a.title for a in items] == ["A", "C", "B"]
    assert "notes.csv" in caplog.text


def test_named_files_of_unknown_type_and_missing_paths_are_rejected(tmp_path):
    csv_file = write(tmp_path / "notes.csv", "title,body\n")
    unsupported, missing = load([csv_file, tmp_path / "nope.json"])
    assert unsupported.origin == str(csv_file) and "unsupported file type" in unsupported.reason
    assert ".jsonl" in unsupported.hint and ".rss" in unsupported.hint
    assert missing == Rejection(str(tmp_path / "nope.json"), "no such file", "check the path")


def test_a_crashing_loader_does_not_stop_the_other_files(tmp_path, monkeypatch):
    def explode(path, field_map=None):
        raise RuntimeError("boom")
        yield  # a generator, like every loader

    monkeypatch.setitem(loaders.LOADERS, ".html", explode)
    items = list(load([write(tmp_path / "page.html", PAGE),
                       write_json(tmp_path / "ok.json", [{"body": BRIDGE}])]))
    assert isinstance(items[0], Rejection) and "unexpected error" in items[0].reason
    assert items[1].body == BRIDGE


@pytest.mark.skipif(not MULTIHOP.exists(), reason="MultiHop-RAG corpus not in ../shared")
def test_multihop_corpus_loads_whole():
    items = list(load([MULTIHOP]))
    assert len(articles(items)) == len(items) == 609
    assert all(a.published_at is not None and a.published_at.tzinfo == timezone.utc for a in items)
    assert all(a.source for a in items)
    assert len({a.id for a in items}) == 609
    assert all(a.title and a.url and a.category for a in items)


# --- properties -------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
ALIASES = st.sampled_from([alias for names in FIELDS.values() for alias in names])
RECORDS = st.dictionaries(ALIASES | st.text(max_size=8), JSON_VALUES, max_size=8)


@given(JSON_VALUES | RECORDS)
def test_from_record_never_raises(value):
    assert isinstance(from_record(value, "fuzz.json#record 1"), (Article, Rejection))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(st.lists(JSON_VALUES | RECORDS, max_size=4) | JSON_VALUES)
def test_json_and_jsonl_loaders_never_raise(tmp_path, document):
    json_file = write(tmp_path / "fuzz.json", json.dumps(document))
    jsonl_file = write(tmp_path / "fuzz.jsonl", "\n".join(
        json.dumps(item) for item in (document if isinstance(document, list) else [document])))
    for item in load([json_file, jsonl_file]):
        assert isinstance(item, (Article, Rejection))

"""Text, Markdown, HTML and feed documents written here."""

from __future__ import annotations

import logging
import time

import pytest

from newscite.index.loaders import load
from newscite.types import Rejection

from tests.index.loaderkit import (BRIDGE, FERRY, MARKETS, PAGE, articles, utc, write, write_json)

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




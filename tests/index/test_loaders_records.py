"""JSON and JSON Lines records: fields, aliases, dates, unusable records, and properties."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newscite.index.loaders import load
from newscite.index.loaders.records import FIELDS, from_record
from newscite.types import Article, Rejection

from tests.index.loaderkit import (BRIDGE, FERRY, MARKETS, articles, rejections, utc, write,
                                   write_json)

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


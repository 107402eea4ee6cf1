"""clean_text fixes encoding debris and nothing else; clean_title gives one line."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from newscite.index.clean import clean_text, clean_title


def test_line_endings_become_newlines():
    assert clean_text("Oil rose.\r\nGold fell.\rBonds held.") == \
        "Oil rose.\nGold fell.\nBonds held."


def test_control_and_zero_width_characters_are_removed_tab_kept():
    raw = "\ufeffThe\u200b minister\x00 resigned\x07 on\tFriday.\x1b\x85"
    assert clean_text(raw) == "The minister resigned on\tFriday."


def test_trailing_spaces_and_blank_line_runs():
    raw = "  \n\nFirst paragraph.   \n\t\n\n\n\nSecond paragraph.\t \n \n"
    assert clean_text(raw) == "First paragraph.\n\nSecond paragraph."


def test_quotes_dashes_and_other_visible_characters_are_kept():
    raw = "“We’re not leaving” – the mayor — said… «non» ‘ok’ 5\u00a0km café ½ ﬁ"
    assert clean_text(raw) == raw


def test_text_is_composed_to_nfc():
    assert clean_text("Cafe\u0301 Zu\u0308rich") == "Café Zürich"


def test_a_removed_character_between_letter_and_accent_still_composes():
    assert clean_text("e\x00\u0301") == "é"


def test_clean_title_is_one_line_with_single_spaces():
    assert clean_title("  Storm hits\n coast:\t\u201cthousands\u201d  without power \r\n") == \
        "Storm hits coast: \u201cthousands\u201d without power"


@given(st.text())
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@given(st.text())
def test_clean_text_leaves_no_debris(text):
    cleaned = clean_text(text)
    assert "\r" not in cleaned and "\n\n\n" not in cleaned and "\ufeff" not in cleaned
    assert all(ch in "\n\t" or unicodedata.category(ch) != "Cc" for ch in cleaned)
    assert cleaned == cleaned.strip()
    assert all(line == line.rstrip() for line in cleaned.split("\n"))
    assert unicodedata.is_normalized("NFC", cleaned)


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S"]), min_size=1))
def test_clean_text_keeps_visible_text_unchanged(text):
    text = unicodedata.normalize("NFC", text)
    assert clean_text(text) == text

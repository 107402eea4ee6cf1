"""The chat page in a real browser: `newscite serve` over a real index, driven by Chromium.

Needs Debian's chromium at /usr/bin/chromium (`make test` installs it) and the playwright
package; skipped without them. One server serves the whole module over a private copy of
the fixture index (one test adds articles to it); each test gets a fresh page.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import expect  # noqa: E402

from newscite.eval.serving import CHROMIUM, CHROMIUM_ARGS, served  # noqa: E402

SCREENSHOT = Path("/tmp/newscite-ui.png")
TRAM = "How much will the new tram line cost?"
LIGHTHOUSE = {"title": "Lighthouse museum reopens <script>alert(1)</script>",
              "source": "Coastal Courier", "published_at": "2024-08-02T10:00:00Z",
              "url": "https://coast.example/lighthouse",
              "body": "The old lighthouse on Gull Point reopened as a maritime museum on Friday "
                      "after a two-year restoration. <script>alert(1)</script> The museum "
                      "displays the original Fresnel lens and logbooks kept since 1881."}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium "
                                "(apt-get install chromium, or run `make test` as root)")


@pytest.fixture(scope="module")
def server(news_index, tmp_path_factory):
    """URL of the chat over a copy of the fixture index, served for the whole module."""
    folder = tmp_path_factory.mktemp("ui")
    with served(shutil.copytree(news_index, folder / "idx"), folder) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on the chat; fails the test if any script opens a dialog."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server)
    expect(page.locator("#status")).to_contain_text("articles", timeout=30_000)
    yield page
    context.close()
    assert not dialogs, f"a script ran in the page: {dialogs}"


def ask(page, question: str):
    """Ask `question`; returns the sources-panel block of its answer once it is complete."""
    answers = page.locator("#sources-panel details.turn").count()
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    expect(page.locator("#sources-panel details.turn")).to_have_count(answers + 1,
                                                                       timeout=30_000)
    return page.locator(f"#sources-panel #turn-{answers + 1}")


def last_reply(page):
    return page.locator("#chat .bot .answer").last


def test_an_answer_cites_its_sources_with_the_quoted_span(page):
    block = ask(page, TRAM)
    expect(last_reply(page).locator("a.cite").first).to_have_attribute("href", "#src-1-1")
    entry = block.locator("#src-1-1")
    expect(entry.locator(".outlet")).to_have_text("Harbor Gazette")
    expect(entry.locator(".date")).to_have_text("2024-03-04")
    title = entry.locator(".title a")
    expect(title).to_have_text("City council approves new tram line")
    expect(title).to_have_attribute("href", "https://harbor.example/tram-line")
    expect(title).to_have_attribute("target", "_blank")
    expect(title).to_have_attribute("rel", "noopener noreferrer")
    expect(entry.locator("mark").filter(has_text="240 million euros")).to_have_count(1)
    expect(entry.locator(".also")).to_contain_text("Also reported by: Metro Daily")
    expect(page.locator("#timeline [data-testid=matplotlib] img")).to_be_visible()
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_a_follow_up_keeps_earlier_sources_a_click_away(browser, server):
    context = browser.new_context(viewport={"width": 600, "height": 800})  # columns stack
    page = context.new_page()
    page.goto(server)
    expect(page.locator("#status")).to_contain_text("articles", timeout=30_000)
    ask(page, TRAM)
    ask(page, "And when will it open?")
    expect(last_reply(page)).to_contain_text("2027")
    first_source = page.locator("#src-1-1")
    expect(first_source).not_to_be_in_viewport()
    page.locator("#chat .bot .answer").first.locator("a.cite").first.click()
    expect(first_source).to_be_in_viewport()
    expect(first_source).to_be_visible()  # its answer's block opened to show it
    page.locator("#picker input").click()
    page.get_by_role("option", name="1. How much").click()
    expect(page.locator("#turn-1")).to_have_js_property("open", True)
    expect(page.locator("#turn-2")).to_have_js_property("open", False)
    page.locator("#clear").click()
    expect(page.locator("#chat .bot")).to_have_count(0)
    expect(page.locator("#sources-panel")).to_contain_text("Each answer's sources appear here")
    context.close()


def test_an_outlet_filter_limits_the_sources(page):
    page.locator("#filters").get_by_text("Filters for the next questions").click()
    page.locator("#outlets input").click()
    page.get_by_role("option", name="Valley Herald").click()
    page.keyboard.press("Escape")
    block = ask(page, "What did officials decide?")
    outlets = block.locator(".outlet").all_inner_texts()
    assert outlets and set(outlets) == {"Valley Herald"}


def test_an_empty_date_range_says_which_dates_the_index_covers(page):
    page.locator("#filters").get_by_text("Filters for the next questions").click()
    page.locator("#since textarea").fill("2030-01-01")
    page.locator("#until textarea").fill("2030-02-01")
    ask(page, TRAM)
    note = page.locator("#chat .bot .note").last  # above the answer, in the chat
    expect(note).to_have_text(re.compile(r"No articles between 2030-01-01 and 2030-02-01; "
                                         r"the index covers 2024-03-04 to 2024-\d\d-\d\d\."))


def test_the_sources_panel_scrolls_within_its_column(page):
    ask(page, TRAM)
    panel, timeline = page.locator("#sources-panel"), page.locator("#timeline")
    expect(timeline).to_be_visible()
    # Many answers' sources: the panel grows to its limit, then scrolls.
    panel.evaluate("e => { const list = e.querySelector('ol.sources'); "
                   "const entry = list.querySelector('li'); "
                   "for (let i = 0; i < 30; i++) list.appendChild(entry.cloneNode(true)); }")
    assert panel.evaluate("e => e.scrollHeight > e.clientHeight")
    assert panel.evaluate("e => getComputedStyle(e).overflowY") == "auto"
    box, below = panel.bounding_box(), timeline.bounding_box()
    assert box["y"] + box["height"] <= below["y"]
    assert box["height"] <= page.viewport_size["height"]


def test_an_example_question_is_asked_with_one_click(page):
    example = page.locator("#chat button").filter(has_text="What did").first
    expect(example).to_be_visible()
    example.click()
    expect(page.locator("#sources-panel details.turn")).to_have_count(1, timeout=30_000)


def test_mistakes_get_friendly_messages(page):
    page.locator("#ask").click()
    expect(page.locator("#notice")).to_contain_text("Type a question about the news first")
    page.locator("#filters").get_by_text("Filters for the next questions").click()
    page.locator("#since textarea").fill("March 4")
    page.locator("#question textarea").fill(TRAM)
    page.locator("#ask").click()
    expect(page.locator("#notice")).to_contain_text("is not a date: use YYYY-MM-DD")
    expect(page.locator("#question textarea")).to_have_value(TRAM)


def test_uploaded_articles_are_answerable_at_once_and_shown_as_text(page, tmp_path):
    upload = tmp_path / "coast.jsonl"
    upload.write_text(json.dumps(LIGHTHOUSE) + "\n{\"title\": \"broken\n")
    page.get_by_role("tab", name="Add articles").click()
    page.locator("#upload input[type=file]").set_input_files(str(upload))
    # the file list shows name and extension in separate elements: match the row's name
    expect(page.locator("#upload").get_by_role("row", name=re.compile(r"coast\.jsonl"))) \
        .to_be_visible()
    page.locator("#add-button").click()
    report = page.locator("#ingest-report")
    expect(report).to_contain_text("Added 1 new", timeout=60_000)
    expect(report).to_contain_text("coast.jsonl#line 2: not valid JSON")
    page.get_by_role("tab", name="Chat").click()
    block = ask(page, "What does the lighthouse museum display?")
    entry = block.locator("#src-1-1")
    expect(entry.locator(".outlet")).to_have_text("Coastal Courier")
    expect(entry.locator(".title")).to_have_text(LIGHTHOUSE["title"])
    expect(entry.locator("blockquote")).to_contain_text("<script>alert(1)</script>")
    expect(last_reply(page)).to_contain_text("<script>alert(1)</script>")
    expect(page.locator("#sources-panel script, #chat .answer script")).to_have_count(0)
    page.get_by_role("tab", name="Index").click()
    expect(page.locator("#overview")).to_contain_text("Coastal Courier")


def test_bad_uploads_are_explained(page, tmp_path):
    broken, pdf = tmp_path / "broken.json", tmp_path / "notes.pdf"
    broken.write_text("{not json")
    pdf.write_bytes(b"%PDF-1.4")
    page.get_by_role("tab", name="Add articles").click()
    page.locator("#upload input[type=file]").set_input_files(str(pdf))
    expect(page.get_by_text("Invalid file type: notes.pdf")).to_be_visible()
    page.locator("#upload input[type=file]").set_input_files(str(broken))
    # the file list splits the name into stem and extension; its cell is named in full
    expect(page.locator("#upload").get_by_role("cell", name="broken.json")).to_be_visible()
    page.locator("#add-button").click()
    report = page.locator("#ingest-report")
    expect(report).to_contain_text("Nothing was added", timeout=60_000)
    expect(report).to_contain_text("broken.json: not valid JSON")


def test_the_index_tab_describes_the_index(page):
    page.get_by_role("tab", name="Index").click()
    overview = page.locator("#overview")
    for text in ("Articles", "Chunks", "Harbor Gazette", "2024-03-04", "all-MiniLM-L6-v2",
                 "Reference date"):
        expect(overview).to_contain_text(text)


def test_a_login_is_required_when_user_and_password_are_set(browser, news_index, tmp_path):
    with served(news_index, tmp_path, NEWSCITE_USER="ann", NEWSCITE_PASSWORD="s3cret") as url:
        page = browser.new_page()
        page.goto(url)
        page.get_by_label("username").fill("ann")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Incorrect Credentials")).to_be_visible()
        page.get_by_label("username").fill("ann")  # a failed login empties the form
        page.get_by_label("password").fill("s3cret")
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#status")).to_contain_text("articles", timeout=30_000)
        page.close()

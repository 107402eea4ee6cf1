"""How fast the chat answers in a real browser, and screenshots of its main states.

The latency a user feels is not the chain's alone: Gradio's queue, the websocket and the
page's rendering add to it. So this serves the chat with `newscite serve` (over an index of
seeds/, built in a temporary folder when missing), drives it with headless Chromium and
times in the page itself, for QUESTION, over RUNS runs after one warm-up (chat cleared
between runs):
- first token: from the click on Ask until the first answer text enters the chat;
- full answer: until the final answer, its [n] markers linked, and its sources-panel
  block are shown.
Times are taken by a MutationObserver in the page (when the DOM changes, before paint).
Then it saves 1280x800 screenshots of the main states into docs/screenshots/ (the upload
goes to a copy of the index, never to the one given). The server is stopped on the way
out, errors included. The load average is printed: timings from a busy machine are slower.

Run from the repository root (needs /usr/bin/chromium and the playwright package):

    .venv/bin/python -m newscite.eval.bench_chat [--index DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from newscite.eval import serving

log = logging.getLogger("bench_chat")

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
NEWSCITE = Path(sys.executable).with_name("newscite")
QUESTION = "Which missile defense system did Kyiv ask NATO allies for?"
NOT_FOUND = "Who won the 2023 Super Bowl?"
# The seed article has no outlet or date, so its answers have no timeline: the screenshots
# of an answer use these dated (made-up) reports, uploaded through the Add articles tab.
ANSWER, FOLLOW_UP = "What does the lighthouse museum display?", "How many people visited it?"
UPLOAD = [
    {"title": "Lighthouse museum reopens on Gull Point", "source": "Coastal Courier",
     "published_at": "2024-08-02T10:00:00Z", "url": "https://coast.example/lighthouse",
     "body": "The old lighthouse on Gull Point reopened as a maritime museum on Friday after "
             "a two-year restoration. The museum displays the original Fresnel lens and "
             "logbooks kept by the keepers since 1881."},
    {"title": "Gull Point lighthouse welcomes first visitors", "source": "Harbor Gazette",
     "published_at": "2024-08-05T08:30:00Z", "url": "https://harbor.example/gull-point",
     "body": "More than two thousand people visited the Gull Point lighthouse museum in its "
             "first weekend. Volunteers guide visitors up the 117 steps to the lantern room, "
             "and the entry is free until the end of August."},
]
RUNS = 5
MAX_SHOT = 300_000  # bytes

# Installed once in the page: stamps the click on Ask, the first answer text and the
# complete answer (performance.now(), ms) into window.bench.
TIMER_JS = """() => {
  const bots = () => document.querySelectorAll('#chat .bot .answer');
  const turns = () => document.querySelectorAll('#sources-panel details.turn').length;
  document.addEventListener('click', event => {
    if (event.target.closest('#ask'))
      window.bench = {start: performance.now(), bots: bots().length, turns: turns()};
  }, true);
  new MutationObserver(() => {
    const b = window.bench;
    if (!b || b.full) return;
    const answers = bots(), last = answers[answers.length - 1];
    if (answers.length <= b.bots || !last.textContent.trim()) return;
    b.first ??= performance.now();
    if (last.querySelector('a.cite') && turns() > b.turns) b.full = performance.now();
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def ask(page, question: str) -> None:
    """Ask `question` and wait until its answer and sources-panel block are shown."""
    turns = page.locator("#sources-panel details.turn")
    before = turns.count()
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    expect(turns).to_have_count(before + 1, timeout=60_000)


def clear(page) -> None:
    page.locator("#clear").click()
    expect(page.locator("#chat .bot")).to_have_count(0)


def timed_run(page) -> tuple[float, float]:
    """(seconds to the first answer text, seconds to the full answer) of QUESTION."""
    ask(page, QUESTION)
    page.wait_for_function("() => window.bench && window.bench.full")
    bench = page.evaluate("() => window.bench")
    return (bench["first"] - bench["start"]) / 1000, (bench["full"] - bench["start"]) / 1000


def shoot(page, name: str) -> None:
    path = SHOTS / name
    page.screenshot(path=str(path))
    size = path.stat().st_size
    log.info("saved %s (%d KB)", path.relative_to(ROOT), size // 1000)
    if size > MAX_SHOT:
        log.warning("%s is over %d KB", name, MAX_SHOT // 1000)


def screenshots(page, folder: Path) -> None:
    """The main states of the page, into SHOTS."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    upload = folder / "lighthouse.jsonl"
    upload.write_text("".join(json.dumps(record) + "\n" for record in UPLOAD))
    page.get_by_role("tab", name="Add articles").click()
    page.locator("#upload input[type=file]").set_input_files(str(upload))
    expect(page.locator("#upload")).to_contain_text(upload.stem)
    page.locator("#add-button").click()
    expect(page.locator("#ingest-report")).to_contain_text(f"Added {len(UPLOAD)} new",
                                                           timeout=60_000)
    expect(page.locator("#upload")).not_to_contain_text(upload.stem)  # the form was reset
    shoot(page, "add-articles.png")
    page.get_by_role("tab", name="Chat").click()
    clear(page)
    ask(page, ANSWER)
    expect(page.locator("#timeline [data-testid=matplotlib] img")).to_be_visible()
    shoot(page, "chat-answer.png")
    ask(page, FOLLOW_UP)
    shoot(page, "follow-up.png")
    clear(page)
    ask(page, NOT_FOUND)
    shoot(page, "not-found.png")
    page.get_by_role("tab", name="Index").click()
    expect(page.locator("#overview")).to_contain_text("Coastal Courier")
    shoot(page, "index.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="index of seeds/ (built when missing; "
                                                   "default: a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        folder = Path(tmp)
        index = args.index.resolve() if args.index else folder / "index"
        if not (index / "manifest.json").exists():
            log.info("indexing seeds/ into %s", index)
            subprocess.run([NEWSCITE, "ingest", "seeds/", "--index", index], cwd=ROOT,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=True)
        copy = shutil.copytree(index, folder / "served")  # the upload lands in the copy
        log.info("starting newscite serve")
        with serving.served(copy, folder) as url, sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=str(serving.CHROMIUM),
                                             args=serving.CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            expect(page.locator("#status")).to_contain_text("articles", timeout=30_000)
            page.evaluate(TIMER_JS)
            runs = []
            for run in range(RUNS + 1):
                if run:
                    clear(page)
                first, full = timed_run(page)
                log.info("%s: first token %.3f s, full answer %.3f s",
                         f"run {run}" if run else "warm-up", first, full)
                if run:
                    runs.append((first, full))
            screenshots(page, folder)
            browser.close()
    load_after = os.getloadavg()
    print(f"\nChat latency in Chromium, {RUNS} runs after 1 warm-up: {QUESTION!r}")
    print(f"{'':<14} {'median s':>9} {'max s':>7}")
    for name, times in (("first token", [r[0] for r in runs]),
                        ("full answer", [r[1] for r in runs])):
        print(f"{name:<14} {statistics.median(times):>9.3f} {max(times):>7.3f}")
    print("runs (first / full, s): " + ", ".join(f"{a:.3f} / {b:.3f}" for a, b in runs))
    print(f"load average (1/5/15 min) on {os.cpu_count()} cores: before "
          f"{'/'.join(f'{x:.2f}' for x in load_before)}, after "
          f"{'/'.join(f'{x:.2f}' for x in load_after)}")


if __name__ == "__main__":
    main()

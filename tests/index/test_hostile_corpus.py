"""A corpus of bad files, ingested in one run beside good records by a real `newscite ingest`.

Every file is either ingested as it should be or rejected with a clear message (one
`rejected FILE: reason (hint)` line each); the process ends by itself (a timeout would be
a hang) with a bounded peak memory, and the good records of the run are kept. The test
writes the "files tried / handled" figure to `hostile-report.json` in its temporary folder
and prints it (`pytest -s`).

The 50 MB article and the 20 MB line are refused by the loaders' size limit (2 million
characters an article), so they cost no embedding; 100,000 tiny articles would take half an
hour to embed on 2 cores, so they go through the loaders only (`test_100k_tiny_articles_load`).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from newscite.index import loaders
from newscite.index.store import Store
from newscite.types import Article, Rejection

from tests.conftest import ROOT

PEAK_RSS_LIMIT = 3 << 30  # bytes; the whole 609-article corpus peaks at 2.2 GB
TIMEOUT = 300  # seconds; the run takes well under a minute

WORDS = ("harbor council budget ferry tram bridge storm rain drought court trial election "
         "vote market bank oil price school hospital mayor river port festival museum rail "
         "strike union police fire coast wind energy solar farm wheat export import tariff "
         "league match coach stadium airport flight delay road tunnel water reservoir").split()


def story(seed: int, sentences: int = 6) -> str:
    """A distinct, plausible body: random sentences over WORDS (seeded), never a near copy."""
    rng = random.Random(seed)
    return " ".join(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."
                    for _ in range(sentences))


def good(seed: int, **fields) -> dict:
    return {"title": f"Good story {seed}", "body": story(seed), "source": "Harbor Gazette",
            "published_at": "2024-05-0%dT08:00:00Z" % (seed % 9 + 1),
            "url": f"https://harbor.example/{seed}", **fields}


def jsonl(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


@dataclass
class Case:
    """A bad (or odd) file and what must become of it: `ingested` articles from it, and
    rejection lines whose reasons contain each of `rejected`."""

    name: str
    content: bytes
    ingested: int = 0
    rejected: tuple[str, ...] = ()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
""" + b"".join(b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
               for i in range(1, 10)) + b"""]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>a</title>
<description>&lol9;</description></item></channel></rss>"""

XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>a</title><description>&x;
</description></item></channel></rss>"""

HTML_PAGE = ("<html><head><title>Tram line opens</title><meta property='og:site_name' "
             "content='Metro Daily'><body><nav>Home News</nav><article><h1>Tram line opens"
             "<p>" + "</p><p>".join(story(90 + i) for i in range(3)) +  # unclosed tags below
             "<p><b><i>The mayor said more lines follow.<div><span>").encode()

RSS_CUT = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Coast News</title>"
           f"<item><title>Storm warning</title><link>https://coast.example/storm</link>"
           f"<description>{story(70)}</description></item>"
           "<item><title>Cut off</title><description>Half an ite").encode()

ABSURD_DATES = ["2999-01-01T00:00:00Z", "9999-12-31", "0001-01-01", 10**20, -10**15,
                "yesterday", "32/13/2023", "not a date"]


def cases() -> list[Case]:
    rng = random.Random(3)
    binary = bytes(rng.randrange(256) for _ in range(4096)) + b"\x00" * 16
    return [
        Case("good.jsonl", jsonl(good(1), good(2), good(3)).encode(), ingested=3),
        Case("broken.json", b'{"title": "Cut", "body": "The article stops he', rejected=(
            "not valid JSON",)),
        Case("some-bad-lines.jsonl", jsonl(good(4), '{"title": broken', good(5), "[1, 2]")
             .encode(), ingested=2, rejected=("not valid JSON", "not an article object")),
        Case("deeply-nested.json", b"[" * 100_000 + b"]" * 100_000,
             rejected=("nested too deeply",)),
        Case("nested-record.jsonl", jsonl({"title": "Nest", "body": json.loads(
            '{"a":' * 60 + '"x"' + "}" * 60)}).encode(), rejected=("no article text",)),
        Case("not-objects.json", b'[1, "a story", null, true]',
             rejected=("not an article object",) * 4),
        Case("billion-laughs.xml", BILLION_LAUGHS, rejected=("XML entity declarations",)),
        Case("xxe.rss", XXE, rejected=("XML entity declarations",)),
        Case("cut-off.rss", RSS_CUT, ingested=1, rejected=("feed entry has no text",)),
        Case("unclosed-tags.html", HTML_PAGE, ingested=1),
        Case("script-only.html", b"<html><body><script>document.write('news')</script>"
                                 b"</body></html>", rejected=("no article text",)),
        *[Case(f"binary{ext}", binary, rejected=("binary file",))
          for ext in (".json", ".jsonl", ".html", ".rss", ".txt", ".xml")],
        Case("archive.jsonl.gz", gzip.compress(jsonl(good(6)).encode() * 1000),
             rejected=("unsupported file type",)),
        Case("gzip-inside.json", gzip.compress(jsonl(good(7)).encode()),
             rejected=("binary file",)),
        Case("control-chars.jsonl", jsonl(good(8, body="Ferry\x00 \x07service\x1b[31m "
                                                        "resumes\x7f\u200b on\x0c Monday. "
                                                        + story(8))).encode(), ingested=1),
        Case("invalid-utf8.txt", b"Harbor council votes \xff\xfe on the budget. "
                                 + story(9).encode(), ingested=1),
        Case("mixed-encodings.txt", "Caf\u00e9 owners on the pier \u2014 ".encode()
             + "na\u00efve plan, says the caf\u00e9 union. ".encode("cp1252")
             + story(10).encode(), ingested=1),
        Case("empty.json", b"", rejected=("empty file",)),
        Case("blank.jsonl", b"\n  \n\t\n", rejected=("empty file",)),
        Case("huge-line.jsonl", jsonl(good(11, body="word " * 4_000_000)).encode(),
             rejected=("article text too long",)),
        Case("fifty-mb.txt", ("Title of a huge article\n\n" + story(12) + " ") .encode()
             + b"filler text " * (50 * 1024 * 1024 // 12), rejected=("article text too long",)),
        Case("no-sentence-ends.jsonl", jsonl(good(13, body=" ".join(
            random.Random(13).choice(WORDS) for _ in range(15_000)))).encode(), ingested=1),
        Case("absurd-dates.jsonl", jsonl(*(good(20 + i, published_at=date)
                                           for i, date in enumerate(ABSURD_DATES))).encode(),
             ingested=len(ABSURD_DATES)),
        Case("same-id-two-bodies.jsonl", jsonl(good(40, body=story(40)),
                                               good(40, body=story(41))).encode(), ingested=1),
        Case("odd..name.json", json.dumps([good(50)]).encode(), ingested=1),
    ]


def run_ingest(args: list[str], cwd: Path) -> tuple[int, str, int]:
    """Run `newscite ingest ARGS` to its end; (exit status, stderr, peak RSS in bytes).
    Killed after TIMEOUT seconds (the test then fails as a hang)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "newscite.cli", "ingest", *args,
                                "--no-progress"], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()))
    reader.start()
    timer = threading.Timer(TIMEOUT, process.kill)
    timer.start()
    _, status, usage = os.wait4(process.pid, 0)
    timer.cancel()
    reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, stderr[0], usage.ru_maxrss * 1024


def test_hostile_files_are_ingested_or_clearly_rejected(tmp_path):
    folder = tmp_path / "bad"
    (folder / "sub").mkdir(parents=True)
    files = cases()
    for case in files:
        (folder / case.name).write_bytes(case.content)
    (tmp_path / "elsewhere.jsonl").write_text(jsonl(good(60)))
    index = tmp_path / "idx"
    # The folder, the gzip archive by name (a folder walk skips unknown types) and a file
    # named through a path with "..".
    dotted = "bad/sub/../../elsewhere.jsonl"
    status, stderr, peak = run_ingest(
        ["bad", "bad/archive.jsonl.gz", dotted, "--index", str(index)], tmp_path)

    assert status == 0, stderr[-3000:]
    assert peak < PEAK_RSS_LIMIT, f"peak memory {peak / 2**30:.1f} GiB"
    assert "Traceback" not in stderr and "unexpected error" not in stderr, stderr[-3000:]
    rejections = re.findall(r"^WARNING [\w.]+: rejected (\S+?)(?:#[^:]*)?: (.*)$", stderr,
                            re.MULTILINE)
    with Store.open(index) as store:
        assert store.verify() == [] and store.check_files() == []
        db = store.catalog.db
        origins = [row[0] for row in db.execute("SELECT origin FROM articles")]
        bodies = {row[0]: row[1] for row in db.execute("SELECT url, body FROM articles")}
        dates = {row[0]: row[1] for row in db.execute("SELECT url, published_at "
                                                      "FROM articles")}
    handled = []
    for case in files:
        path = f"bad/{case.name}"
        reasons = [reason for origin, reason in rejections if origin == path]
        stored = sum(origin.split("#")[0] == path for origin in origins)
        assert stored == case.ingested, f"{case.name}: {stored} articles stored, " \
                                        f"{case.ingested} expected; rejections {reasons}"
        for expected in case.rejected:
            match = next((reason for reason in reasons if expected in reason), None)
            assert match, f"{case.name}: no rejection saying {expected!r}, got {reasons}"
            reasons.remove(match)
        assert not reasons, f"{case.name}: unexpected rejections {reasons}"
        handled.append(case.name)
    # every rejection line names the file, says what is wrong and what to do
    assert all(re.search(r"\(.+\)$", reason) for _, reason in rejections), rejections
    # the good records and the odd ones' contents, as they should be
    assert all(f"https://harbor.example/{n}" in bodies for n in (1, 2, 3, 4, 5, 50, 60))
    assert f"{dotted}#line 1" in origins
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u200b]", bodies["https://harbor.example/8"])
    assert bodies["https://harbor.example/8"].startswith("Ferry service[31m resumes on Monday.")
    assert bodies["https://harbor.example/40"] == story(41), "the later record replaces it"
    assert all(dates[f"https://harbor.example/{20 + i}"] is None
               for i in range(len(ABSURD_DATES)))

    report = {"files_tried": len(files) + 1, "handled": len(handled) + 1,
              "rejection_lines": len(rejections), "articles_stored": len(origins),
              "peak_rss_mb": round(peak / 2**20)}
    (tmp_path / "hostile-report.json").write_text(json.dumps(report, indent=2))
    print(f"\nhostile corpus: {report}")


def test_100k_tiny_articles_load(tmp_path):
    """100,000 one-sentence articles in one JSONL all load, each an article."""
    path = tmp_path / "tiny.jsonl"
    path.write_text(jsonl(*({"body": f"Item {n} happened.", "url": f"https://t.example/{n}"}
                            for n in range(100_000))))
    items = list(loaders.load([path]))
    assert len(items) == 100_000
    assert all(isinstance(item, Article) for item in items)
    assert len({item.id for item in items}) == 100_000
    assert not any(isinstance(item, Rejection) for item in items)

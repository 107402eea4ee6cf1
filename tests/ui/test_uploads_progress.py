"""The Add-articles tab's progress: what the bar says, and the sequence an upload reports."""

from __future__ import annotations

import json
import shutil

import pytest

from newscite.config import Config
from newscite.ui import uploads
from newscite.ui.backend import Backend
from newscite.ui.uploads import UploadProgress, duration_text


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bar_counts_articles_and_estimates_the_time_left_once_it_can():
    shown, clock = [], Clock()
    report = UploadProgress(lambda share, desc: shown.append((share, desc)), clock=clock)
    report(4, 100)  # too early to estimate: the first batch also loads the model
    clock.now += 30
    report(20, 100)  # 1.5 s an article so far: 80 left take 2 min
    clock.now += 90
    report(100, 100)
    assert shown == [(0.04, "Added 4 of 100 articles"),
                     (0.2, "Added 20 of 100 articles, about 2 min left"),
                     (1.0, "Added 100 of 100 articles")]


@pytest.mark.parametrize("seconds, text", [(0.2, "about 1 s"), (42, "about 42 s"),
                                           (200, "about 3 min 20 s"), (1500, "about 25 min"),
                                           (7500, "about 2 h 5 min")])
def test_durations_read_as_people_say_them(seconds, text):
    assert duration_text(seconds) == text


def test_an_upload_reports_its_progress_per_commit_up_to_all_records(news_index, tmp_path):
    backend = Backend(Config.load({"index": str(shutil.copytree(news_index, tmp_path / "idx"))},
                                  environ={}))
    articles = [{"title": f"Harbour report {n}", "source": "Coastal Courier",
                 "published_at": "2024-08-02T10:00:00Z", "url": f"https://coast.example/{n}",
                 "body": f"Ferry number {n} left the harbour at dawn carrying {n * 7} passengers "
                         f"and {n} cars, the harbour master said."} for n in range(1, 21)]
    upload = tmp_path / "many.jsonl"
    upload.write_text("\n".join(json.dumps(a) for a in articles) + "\n{\"title\": \"broken\n")
    calls = []
    summary, _ = backend.add_files([str(upload)], on_progress=lambda *c: calls.append(c))
    assert summary.added == 20 and summary.rejected == 1
    assert {total for _, total in calls} == {21}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == 21
    assert all(b - a <= uploads.COMMIT_ARTICLES + 1 for a, b in zip([0, *done], done))
    assert len(calls) >= 20 // uploads.COMMIT_ARTICLES

"""A running chat sees what another process commits (ingest, remove) without a restart."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time

import pytest

from newscite.eval.serving import served

from tests.conftest import ROOT

log = logging.getLogger(__name__)

BRIDGE_URL = "https://harbor.example/glass-bridge"
BRIDGE = {"title": "Glass footbridge over the harbor to open in June", "source": "Harbor Gazette",
          "published_at": "2024-09-02T08:00:00Z", "url": BRIDGE_URL,
          "body": "The glass footbridge over the harbor will open to walkers on 14 June, the "
                  "port authority said on Monday. The bridge is 180 metres long and cost 31 "
                  "million euros. Cyclists will have to push their bikes across it."}
QUESTION = "When will the glass footbridge over the harbor open?"
WAIT_S = 60  # a bound for a loaded machine; the time it took is logged


def _newscite(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "newscite.cli", *args], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def _cites_bridge(result: dict) -> bool:
    return any(c["url"] == BRIDGE_URL for c in result["citations"])


def _until(client, wanted: bool) -> float:
    """Seconds until the answer to QUESTION cites the bridge article (or stops citing it)."""
    started = time.monotonic()
    while time.monotonic() - started < WAIT_S:
        if _cites_bridge(client.predict(QUESTION, api_name="/ask")) == wanted:
            return time.monotonic() - started
        time.sleep(0.2)
    pytest.fail(f"the chat did not {'see' if wanted else 'drop'} the article within {WAIT_S} s")


def test_the_served_chat_sees_an_ingest_and_a_remove_by_another_process(news_index, tmp_path):
    gradio_client = pytest.importorskip("gradio_client")
    index = shutil.copytree(news_index, tmp_path / "idx")
    article = tmp_path / "bridge.jsonl"
    article.write_text(json.dumps(BRIDGE) + "\n")
    with served(index, tmp_path) as url:
        client = gradio_client.Client(url, verbose=False)
        assert not _cites_bridge(client.predict(QUESTION, api_name="/ask"))

        _newscite("ingest", str(article), "--index", str(index), "--no-progress")
        seen = _until(client, wanted=True)
        answer = client.predict(QUESTION, api_name="/ask")
        assert "14 June" in answer["answer"]

        _newscite("remove", BRIDGE_URL, "--index", str(index))
        dropped = _until(client, wanted=False)
    log.warning("the chat saw the ingest %.1f s and the remove %.1f s after the command ended",
                seen, dropped)

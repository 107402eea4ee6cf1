"""Load test of the chat server: concurrent sessions through its /ask API, then during an ingest.

Serves a copy of an index (default /tmp/mh, the whole MultiHop-RAG corpus) with `newscite
serve` on 127.0.0.1, then runs two phases of SESSIONS concurrent chat sessions
(`gradio_client`, one client and session each, calling /ask) asking MultiHop-RAG dev questions in turn,
each for DURATION seconds (a session starts no question after that, and asks at most
--max-questions):
1. the chat alone;
2. the same while `newscite ingest` adds articles to the served index (before serving,
   --reingest articles are removed from the copy; phase 2 ingests the corpus again, which
   re-embeds exactly those).
Per phase: questions asked, answers, errors (an exception or a timeout), lost answers (a
reply with neither a citation nor an abstention), latency median / p95 / max, and in phase 2 whether
the ingest completed. Prints a table, writes JSON.

    .venv/bin/python -m newscite.eval.bench_load [--sessions 50] [--duration 120] [--index /tmp/mh]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gradio_client import Client

from newscite.eval import serving
from newscite.eval.crash import newscite

log = logging.getLogger("bench_load")

MULTIHOP = serving.ROOT.parent / "shared" / "data" / "multihop-rag"
TIMEOUT = 300.0  # seconds one answer may take before it counts as an error


@dataclass
class Phase:
    """What one phase's sessions saw."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost: int = 0
    asked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def summary(self) -> dict:
        times = sorted(self.latencies)
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))] if times else None
        return {"phase": self.name, "asked": self.asked, "answers": len(times),
                "errors": len(self.errors), "lost": self.lost,
                "median_s": round(statistics.median(times), 2) if times else None,
                "p95_s": round(p95, 2) if p95 is not None else None,
                "max_s": round(times[-1], 2) if times else None,
                "error_samples": self.errors[:5]}


def answered(result: dict, question: str) -> bool:
    """Whether /ask returned a finished answer to `question`: cited, or an honest abstention."""
    return result.get("question") == question and bool(result.get("answer")) and \
        (bool(result.get("citations")) or bool(result.get("abstained")))


def session(url: str, questions: list[str], phase: Phase, until: float, most: int,
            seed: int) -> None:
    """One chat session: ask questions in turn until `until` (or `most` of them)."""
    rng = random.Random(seed)
    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # noqa: BLE001 - counted and reported, the others go on
        with phase.lock:
            phase.errors.append(f"connect: {exc!r}")
        return
    for _ in range(most):
        if time.monotonic() >= until:
            break
        question = rng.choice(questions)
        started = time.monotonic()
        with phase.lock:
            phase.asked += 1
        try:
            job = client.submit(question, api_name="/ask")
            outputs = job.result(timeout=TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with phase.lock:
                phase.errors.append(f"{question[:60]!r}: {exc!r}")
            continue
        elapsed = time.monotonic() - started
        with phase.lock:
            if answered(outputs, question):
                phase.latencies.append(elapsed)
            else:
                phase.lost += 1
    client.close()


def run_phase(name: str, url: str, questions: list[str], sessions: int, duration: float,
              most: int) -> Phase:
    phase = Phase(name)
    until = time.monotonic() + duration
    threads = [threading.Thread(target=session, args=(url, questions, phase, until, most, n))
               for n in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.info("%s: %s", name, phase.summary())
    return phase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("/tmp/mh"),
                        help="index to serve a copy of (default /tmp/mh)")
    parser.add_argument("--corpus", type=Path, default=MULTIHOP / "corpus.json",
                        help="what phase 2 ingests (the corpus the index was built from)")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds per phase")
    parser.add_argument("--max-questions", type=int, default=200, help="per session and phase")
    parser.add_argument("--reingest", type=int, default=60,
                        help="articles removed before serving and ingested again in phase 2")
    parser.add_argument("--out", type=Path, default=Path("eval-out/load.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    questions = [q["query"] for q in json.loads((MULTIHOP / "queries-dev.json").read_text())
                 if q.get("question_type") != "null_query"][:300]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        folder = Path(tmp)
        index = shutil.copytree(args.index, folder / "index")
        urls = [a["url"] for a in json.loads(args.corpus.read_text())][:args.reingest]
        if urls:
            remover = newscite("remove", *urls, "--index", str(index), stderr=subprocess.PIPE)
            if remover.wait(timeout=600):
                raise RuntimeError(f"newscite remove failed: {remover.stderr.read().decode()}")
        with serving.served(index, folder) as url:
            log.info("serving %s at %s", index, url)
            alone = run_phase("chat alone", url, questions, args.sessions, args.duration,
                              args.max_questions)
            ingest = newscite("ingest", str(args.corpus), "--index", str(index), "--no-progress")
            started = time.monotonic()
            during = run_phase("chat during an ingest", url, questions, args.sessions,
                               args.duration, args.max_questions)
            phase_seconds = time.monotonic() - started
            ingest_code = ingest.wait(timeout=1800)
            ingest_seconds = time.monotonic() - started
    load_after = os.getloadavg()
    report = {"sessions": args.sessions, "duration_s": args.duration, "index": str(args.index),
              "phases": [alone.summary(), during.summary()],
              "ingest_exit_code": ingest_code, "reingested_articles": len(urls),
              "ingest_s": round(ingest_seconds, 1), "phase_2_s": round(phase_seconds, 1),
              "load_average_before": load_before, "load_average_after": load_after}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nChat load: {args.sessions} concurrent sessions through the Gradio API, "
          f"{args.duration:.0f} s per phase, extractive answers, {os.cpu_count()} cores")
    print(f"{'phase':<24} {'asked':>6} {'answers':>8} {'errors':>7} {'lost':>5} "
          f"{'median s':>9} {'p95 s':>7} {'max s':>7}")
    for row in report["phases"]:
        print(f"{row['phase']:<24} {row['asked']:>6} {row['answers']:>8} {row['errors']:>7} "
              f"{row['lost']:>5} {row['median_s']!s:>9} {row['p95_s']!s:>7} {row['max_s']!s:>7}")
    print(f"ingest during phase 2: exit code {ingest_code}, {len(urls)} articles re-added in "
          f"{ingest_seconds:.0f} s (phase 2 lasted {phase_seconds:.0f} s)")
    print(f"load average before/after: {'/'.join(f'{x:.2f}' for x in load_before)} -> "
          f"{'/'.join(f'{x:.2f}' for x in load_after)}")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()

"""What the benchmark scripts share: timers, peak memory, percentiles, tables and JSON.

Each benchmark (`eval.bench_ingest`, `eval.bench_query`, `eval.bench_scale`) prints a table
and writes its figures with the machine they ran on as JSON, so that a figure in
docs/performance.md can be traced to the run that produced it.

Example:
    >>> timer = StageTimer()
    >>> with timer.stage("embed"):
    ...     vectors = embedder.embed(texts)
    >>> print_table(["stage", "s"], [["embed", timer.seconds["embed"]]])
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MULTIHOP = ROOT.parent / "shared" / "data" / "multihop-rag"
CORPUS = MULTIHOP / "corpus.json"
DEV_QUESTIONS = MULTIHOP / "queries-dev.json"


def dev_questions(limit: int | None = None, answerable: bool = False) -> list:
    """The first `limit` MultiHop-RAG dev questions (only those with an answer and gold
    facts when `answerable`: the ones retrieval metrics are defined on)."""
    from newscite.eval.questions import load_questions

    questions = load_questions(DEV_QUESTIONS)
    if answerable:
        questions = [q for q in questions if q.evidence_facts and not q.unanswerable]
    return questions[:limit]


def retrieval_quality(questions: Sequence, search: Callable[[str], Sequence[str]],
                      k: int = 10) -> dict[str, float]:
    """Hits@k and evidence recall@k (the benchmark's definitions, eval.metrics) of `search`,
    which returns the texts of the top chunks for a question, best first."""
    from newscite.eval import metrics

    hits, recall = [], []
    for question in questions:
        texts = list(search(question.question))[:k]
        hits.append(metrics.hits_at_k(question.evidence_facts, texts, k))
        recall.append(metrics.evidence_recall_at_k(question.evidence_facts, texts, k))
    return {"questions": len(questions), f"hits@{k}": float(np.mean(hits)),
            f"evidence_recall@{k}": float(np.mean(recall))}


def peak_rss_bytes() -> int:
    """The largest resident memory this process has had so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def folder_bytes(path: Path) -> int:
    """Bytes of the files under `path` (the size of an index on disk)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """n, p50, p95 and p99 (linear interpolation), in milliseconds."""
    data = np.asarray(seconds, dtype=float) * 1000
    if not data.size:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    return {"n": int(data.size), **{f"p{q}": float(np.percentile(data, q)) for q in (50, 95, 99)}}


class StageTimer:
    """Wall time per named stage, summed per thread and collected per question.

    `wrap(obj, name, stage)` replaces the method `obj.name` by a timed copy (on that object
    only), so library code is timed where it runs without changing it.
    """

    def __init__(self):
        self._local = threading.local()

    @property
    def seconds(self) -> dict[str, float]:
        """This thread's seconds per stage since the last `reset`."""
        if not hasattr(self._local, "seconds"):
            self._local.seconds = defaultdict(float)
        return self._local.seconds

    def reset(self) -> dict[str, float]:
        """This thread's seconds per stage, then start again from zero."""
        taken = dict(self.seconds)
        self._local.seconds = defaultdict(float)
        return taken

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def wrap(self, obj: Any, name: str, stage: str) -> None:
        method: Callable = getattr(obj, name)

        def timed(*args, **kwargs):
            with self.stage(stage):
                return method(*args, **kwargs)

        setattr(obj, name, timed)


def machine() -> dict:
    """The machine and load a run saw: timings from a busy machine are upper bounds."""
    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in flags.splitlines()
                  if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "avx512_bf16": "avx512_bf16" in flags,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                / 2**30, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "git_commit": commit,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    """A plain-text table: numbers right-aligned with 3 significant decimals at most."""
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    if title:
        print(f"\n{title}")
    print("  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}"
                    for i, (h, w) in enumerate(zip(header, widths))))
    for row in cells:
        print("  ".join(f"{v:<{w}}" if i == 0 else f"{v:>{w}}"
                        for i, (v, w) in enumerate(zip(row, widths))))


def write_json(path: Path | None, figures: dict) -> None:
    """`figures` with the machine they were measured on, written atomically to `path`."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"machine": machine(), **figures}, indent=2, default=str))
    os.replace(tmp, path)
    print(f"\nwrote {path}")

"""Crash report: SIGKILL real newscite commands at random moments and check what they leave.

1. ingest: a real ingest of a whole corpus (default MultiHop-RAG) into a fresh index, killed
   KILLS times; each time the ingest is started again (resumed), and killed again once the
   index holds a randomly drawn number of articles, a random 0-3 s later (the drawn numbers
   spread over the whole corpus; some fall in start-up). A last run completes it.
2. remove: `newscite remove` of 3 random articles, killed at a random moment of its run
   (0 to the duration of one unkilled remove); the 3 go all together or not at all.
3. reindex: `newscite reindex`, killed at a random moment of its run (0 to the duration of
   one unkilled reindex, timed last; it re-embeds everything).
After every kill `eval.crash.check_after_kill` opens the index as the next writer does and
checks it: verify() and check_files() find nothing wrong, and every article committed before
the kill is there. The seed fixes every random draw. Prints a table, writes JSON.

Run from the repository root (it takes 20-40 minutes on 2 cores; nice it):

    nice .venv/bin/python -m newscite.eval.bench_crash [--kills 50] [--out eval-out/crash.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from newscite.eval.crash import ROOT, check_after_kill, committed_ids, kill_when, newscite
from newscite.index.store import Store

log = logging.getLogger("bench_crash")

CORPUS = ROOT.parent / "shared" / "data" / "multihop-rag" / "corpus.json"


@dataclass
class Kill:
    """One kill and what the check after it found."""

    stage: str
    moment: str  # when it was killed, in words
    killed: bool
    survived: bool = True
    articles: int = 0
    rebuilt: bool = False
    problems: list[str] | None = None
    lost: int = 0


def run_to_end(*args: str) -> float:
    """Run `newscite ARGS...` to its end; its wall time in seconds (fails loudly)."""
    started = time.monotonic()
    process = newscite(*args, stderr=subprocess.PIPE)
    _, err = process.communicate(timeout=1800)
    if process.returncode:
        raise RuntimeError(f"newscite {' '.join(args)} failed:\n{err.decode()[-3000:]}")
    return time.monotonic() - started


def checked(kill: Kill, index: Path, committed: set[str],
            may_be_gone: set[str] = frozenset()) -> set[str]:
    """Check the index after `kill`, fill in the outcome, return the articles now held."""
    check = check_after_kill(index, committed, may_be_gone)
    gone = may_be_gone & (committed - check.articles)
    if gone and gone != may_be_gone:
        check.problems.append(f"a killed remove deleted {len(gone)} of {len(may_be_gone)} "
                              f"articles: one commit was split")
    kill.survived, kill.articles, kill.rebuilt = check.survived, len(check.articles), check.rebuilt
    kill.problems, kill.lost = check.problems, len(check.lost)
    log.info("%s kill (%s): %s, %d articles%s", kill.stage, kill.moment,
             "survived" if kill.survived else f"FAILED {check.problems} lost {len(check.lost)}",
             kill.articles, ", stale derived files caught up on opening" if kill.rebuilt else "")
    return check.articles


def ingest_kills(index: Path, corpus: Path, kills: int, commit_every: int,
                 rng: random.Random) -> tuple[list[Kill], float]:
    """Stage 1 (see the module docstring); returns the kills and the last run's seconds."""
    total = len(json.loads(corpus.read_text()))
    args = ("ingest", str(corpus), "--index", str(index), "--commit-every", str(commit_every),
            "--no-progress")
    results, committed = [], set()
    for target in sorted(rng.randrange(int(total * 0.95)) for _ in range(kills)):
        delay = rng.uniform(0.0, 3.0)
        kill = Kill("ingest", f"{delay:.2f} s after {target} articles",
                    kill_when(newscite(*args), index, after_articles=target, delay=delay,
                              timeout=1800))
        if kill.killed:
            committed = checked(kill, index, committed)
        else:
            log.warning("the ingest finished before the kill (%s)", kill.moment)
        results.append(kill)
    return results, run_to_end(*args)


def remove_kills(index: Path, kills: int, rng: random.Random) -> list[Kill]:
    """Stage 2 (see the module docstring)."""
    committed = committed_ids(index)
    duration = run_to_end("remove", *rng.sample(sorted(committed), 3), "--index", str(index))
    committed = committed_ids(index)
    results = []
    for _ in range(kills):
        doomed = set(rng.sample(sorted(committed), 3))
        delay = rng.uniform(0.0, duration)
        kill = Kill("remove", f"{delay:.2f} s of {duration:.1f} s",
                    kill_when(newscite("remove", *sorted(doomed), "--index", str(index)), index,
                              delay=delay))
        committed = checked(kill, index, committed, doomed) if kill.killed else \
            committed_ids(index)
        results.append(kill)
    return results


def reindex_kills(index: Path, kills: int, rng: random.Random) -> tuple[list[Kill], float]:
    """Stage 3 (see the module docstring); the unkilled reindex runs last, so the kills'
    moments are drawn from a duration estimated from the first ingest (about the same
    embedding work), and the last run shows a reindex completes after them."""
    with Store.open(index) as store:
        chunks = store.counts()["chunks"]
    estimate = max(10.0, chunks / 60)  # ~60 chunks a second on 2 cores, measured by ingest
    committed, results = committed_ids(index), []
    for _ in range(kills):
        delay = rng.uniform(0.0, estimate)
        kill = Kill("reindex", f"{delay:.1f} s of ~{estimate:.0f} s",
                    kill_when(newscite("reindex", "--index", str(index)), index, delay=delay))
        if kill.killed:
            committed = checked(kill, index, committed)
        results.append(kill)
    return results, run_to_end("reindex", "--index", str(index))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--kills", type=int, default=50, help="kills of the ingest (default 50)")
    parser.add_argument("--remove-kills", type=int, default=10)
    parser.add_argument("--reindex-kills", type=int, default=5)
    parser.add_argument("--commit-every", type=int, default=8, help="articles per commit")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("eval-out/crash.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
        index = Path(tmp) / "index"
        kills, last_ingest = ingest_kills(index, args.corpus, args.kills, args.commit_every, rng)
        with Store.open(index) as store:
            ingested = {**store.counts(), "problems": store.verify() + store.check_files()}
        kills += remove_kills(index, args.remove_kills, rng)
        reindex, last_reindex = reindex_kills(index, args.reindex_kills, rng)
        kills += reindex
        with Store.open(index) as store:
            final = {**store.counts(), "problems": store.verify() + store.check_files()}
    report = {"corpus": str(args.corpus), "seed": args.seed, "commit_every": args.commit_every,
              "seconds": round(time.monotonic() - started),
              "resumed_ingest": {"seconds": round(last_ingest, 1), **ingested},
              "completed_reindex": {"seconds": round(last_reindex, 1), **final},
              "kills": [asdict(kill) for kill in kills]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nSIGKILL crash report ({args.corpus.name}, seed {args.seed}, "
          f"{report['seconds']} s)")
    print(f"{'command':<9} {'kills':>6} {'survived':>9} {'stale, caught up on open':>25}")
    for stage in ("ingest", "remove", "reindex"):
        landed = [k for k in kills if k.stage == stage and k.killed]
        print(f"{stage:<9} {len(landed):>6} {sum(k.survived for k in landed):>9} "
              f"{sum(k.rebuilt for k in landed):>25}")
    print(f"resumed ingest completed: {ingested['articles']} articles, {ingested['chunks']} "
          f"chunks, problems: {ingested['problems'] or 'none'}")
    print(f"reindex after its kills completed: {final['articles']} articles, "
          f"{final['chunks']} chunks, problems: {final['problems'] or 'none'}")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()

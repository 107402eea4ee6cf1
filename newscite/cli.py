"""The `newscite` command: ingest news, search it, inspect and maintain the index.

Every command takes `--index DIR` (default `.newscite/index`, or NEWSCITE_INDEX) and
`--config FILE`; flags win over environment variables, which win over the TOML file.
Run `newscite COMMAND --help` for each command's options.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import sqlite3
import sys
import textwrap
from datetime import datetime, time
from typing import Sequence

from newscite.config import SETTINGS, Config, ConfigError
from newscite.types import Answer, Filters, IngestSummary, Passage, as_utc

log = logging.getLogger("newscite")

EXAMPLES = """\
examples:
  newscite ingest seeds/ ../news/corpus.json feeds/*.rss
  newscite ingest https://example.com/feed.xml https://example.com/news/story.html
  newscite watch feeds.txt --every 15m
  newscite ask "Why is NATO delaying Ukraine's membership?"
  newscite search "NATO membership for Ukraine" -k 5
  newscite search "Apple earnings" --source "The Verge" --since 2023-10-01 --json
  newscite stats
  newscite check --repair
  newscite serve --port 7860
  newscite eval-conversations --index /tmp/mh
  newscite remove https://example.com/story-1
"""


def _date(value: str, *, end_of_day: bool = False) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD") from None
    if len(value) == 10 and end_of_day:
        parsed = datetime.combine(parsed.date(), time.max)
    return as_utc(parsed)


def _field_map(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for pair in pairs or []:
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours or not theirs:
            raise ConfigError(f"--field {pair!r}: use OURS=THEIRS, e.g. --field body=story_text")
        mapping[ours.strip()] = theirs.strip()
    return mapping


def setting_flag(parser: argparse.ArgumentParser, name: str, *flags: str) -> None:
    """Add the flag of setting `name` (`--chunk-tokens` for chunk_tokens, or `flags`), its
    type, choices and help taken from the setting's own metadata (newscite.config), so a
    flag cannot drift from its setting. The parsed value lands in `args.<name>`."""
    spec = SETTINGS[name]
    kind = {"int": int, "float": float}.get(str(spec.type), str)
    parser.add_argument(*(flags or (f"--{name.replace('_', '-')}",)), dest=name, type=kind,
                        choices=spec.metadata["choices"] or None,
                        metavar="true|false" if str(spec.type) == "bool" else None,
                        help=f"{spec.metadata['help']} (default {spec.default!r})")


def _settings_parser(*names: str | tuple[str, ...]) -> argparse.ArgumentParser:
    """A parent parser with the flags of these settings; a tuple is (name, *flags)."""
    parser = argparse.ArgumentParser(add_help=False)
    for item in names:
        name, *flags = (item,) if isinstance(item, str) else item
        setting_flag(parser, name, *flags)
    return parser


def build_parser() -> argparse.ArgumentParser:
    common = _settings_parser("index", "store", "log_level")
    common.add_argument("--config", help="TOML settings file (default ./newscite.toml)")
    embedding = _settings_parser("model", "precision", "batch_size", "chunk_tokens",
                                 "chunk_overlap")

    parser = argparse.ArgumentParser(
        prog="newscite", description="Question answering over a news corpus, with citations.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser(
        "ingest", parents=[common, embedding],
        help="add articles from files, folders, feed URLs and page URLs",
        description="Add articles from JSON, JSONL, TXT/MD, HTML and RSS/Atom files or "
                    "folders of them, and from RSS/Atom feed URLs (every entry's page) and "
                    "article page URLs. Unchanged articles are skipped; changed ones replaced.")
    ingest.add_argument("paths", nargs="+", metavar="PATH_OR_URL")
    ingest.add_argument("--field", action="append", metavar="OURS=THEIRS",
                        help="map a field of your files, e.g. --field body=story_text")
    for name, *flags in (("dense_index",), ("commit_every",), ("ingest_workers", "--workers"),
                         ("ray_address", "--ray"), ("default_source",), ("sentence_vectors",)):
        setting_flag(ingest, name, *flags)
    ingest.add_argument("--no-progress", action="store_true")

    filtering = argparse.ArgumentParser(add_help=False)
    filtering.add_argument("--since", type=_date, help="only articles published on/after "
                                                       "YYYY-MM-DD")
    filtering.add_argument("--until", type=lambda v: _date(v, end_of_day=True),
                           help="only articles published on/before YYYY-MM-DD")
    filtering.add_argument("--source", action="append", metavar="OUTLET",
                           help="only this outlet (repeatable)")

    llm = _settings_parser("llm_base_url", "llm_model", "llm_gguf")

    search = commands.add_parser("search", parents=[common, embedding, filtering],
                                 help="find passages (no answer)")
    search.add_argument("query")
    setting_flag(search, "k", "-k")
    setting_flag(search, "search_mode", "--mode")
    search.add_argument("--json", action="store_true", help="print JSON")

    ask = commands.add_parser("ask", parents=[common, embedding, filtering, llm],
                              help="answer a question with cited passages")
    ask.add_argument("question")
    setting_flag(ask, "answer_mode", "--mode")
    setting_flag(ask, "k", "-k")
    ask.add_argument("--json", action="store_true", help="print JSON")

    serve = commands.add_parser("serve", parents=[common, llm],
                                help="serve the chat in the browser (Gradio)")
    setting_flag(serve, "host")
    setting_flag(serve, "port")
    serve.add_argument("--watch", metavar="FEEDS",
                       help="also keep these feeds fresh (a text file of URLs, or OPML)")
    setting_flag(serve, "watch_every", "--every")

    watch = commands.add_parser(
        "watch", parents=[common, embedding], help="keep the index fresh from a list of feeds",
        description="Refresh the RSS/Atom feeds listed in FEEDS (one URL a line, or an OPML "
                    "file) now and then every --every, adding new articles and updating "
                    "edited ones, until Ctrl-C. A running chat sees them at once.")
    watch.add_argument("feeds", metavar="FEEDS")
    setting_flag(watch, "watch_every", "--every")
    watch.add_argument("--once", action="store_true", help="refresh once and exit")

    stats = commands.add_parser("stats", parents=[common], help="what the index holds")
    stats.add_argument("--json", action="store_true")

    remove = commands.add_parser("remove", parents=[common], help="delete articles by URL or id")
    remove.add_argument("keys", nargs="+", metavar="URL_OR_ID")

    check = commands.add_parser(
        "check", parents=[common], help="check the index on disk; --repair rebuilds it",
        description="Cross-check SQLite, the FAISS and BM25 files and the manifest; print "
                    "each problem on one line. Exit 0 when clean, 1 when problems remain.")
    check.add_argument("--repair", action="store_true",
                       help="rebuild the FAISS and BM25 files and the manifest from SQLite "
                            "(no re-embedding), then check again")

    commands.add_parser("reindex", parents=[common, embedding],
                        help="re-chunk and re-embed every article with the current settings")

    evaluation = commands.add_parser(
        "eval", parents=[common, embedding, llm], help="score a question set; compare two reports",
        description="newscite eval QUESTIONS [--corpus PATH] [-k 10] [--limit N] [--out DIR]\n"
                    "newscite eval compare A/report.json B/report.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluation.add_argument("target", nargs="+", metavar="QUESTIONS | compare A B")
    evaluation.add_argument("--corpus", help="ingest this corpus into a cached index first")
    evaluation.add_argument("--mode", choices=("retrieval", "extractive", "generate"),
                            default="extractive",
                            help="retrieval only, or answers too (default extractive)")
    setting_flag(evaluation, "search_mode")
    setting_flag(evaluation, "k", "-k")
    evaluation.add_argument("--limit", type=int, help="only the first N questions")
    evaluation.add_argument("--out", default="eval-out", help="report folder (default eval-out)")
    evaluation.add_argument("--no-progress", action="store_true")

    ranker = commands.add_parser(
        "train-ranker", parents=[common, embedding],
        help="fit the retriever's learned ranker on questions with evidence (cross-validated)",
        description="newscite train-ranker QUESTIONS [--corpus PATH] [--weights FILE] "
                    "[--report DIR]")
    ranker.add_argument("questions", help="question set with evidence facts (JSON/JSONL)")
    ranker.add_argument("--corpus", help="ingest this corpus into a cached index first")
    ranker.add_argument("--weights", help="where to write the weights (default: the shipped "
                                          "rag/ranker.json)")
    ranker.add_argument("--report", help="write the cross-validated report to this folder")
    ranker.add_argument("--limit", type=int, help="only the first N questions")

    conversations = commands.add_parser(
        "eval-conversations", parents=[common, embedding],
        help="score how the chat reads questions in a conversation (standalone or follow-up)",
        description="Run the fixed conversation set (or CONVERSATIONS) through the chat's "
                    "follow-up handling and report how many questions are routed right.")
    conversations.add_argument("conversations", nargs="?", metavar="CONVERSATIONS",
                               help="JSONL conversation set (default "
                                    "eval/questions/conversations.jsonl)")
    conversations.add_argument("--corpus", help="ingest this corpus into a cached index first")
    return parser


def _config(args: argparse.Namespace) -> Config:
    """The configuration, with the settings given as flags winning (see newscite.config)."""
    flags = {name: getattr(args, name) for name in SETTINGS if hasattr(args, name)}
    return Config.load(flags, path=args.config)


def _print_passages(passages: list[Passage], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"rank": rank, "score": p.score, "scores": p.scores,
                           "source": p.source, "date": p.published_at.isoformat()
                           if p.published_at else None, "title": p.title, "url": p.url,
                           "article_id": p.article_id, "start": p.start, "end": p.end,
                           "text": p.text} for rank, p in enumerate(passages, 1)],
                         indent=2, ensure_ascii=False))
        return
    if not passages:
        print("No passages found. Try other words, or loosen --since/--until/--source.")
    for rank, p in enumerate(passages, 1):
        print(f"{rank:>2}. [{p.score:.4f}] {p.source or 'unknown outlet'} · {p.date} · {p.title}")
        if p.url:
            print(f"    {p.url}")
        print(textwrap.indent(textwrap.fill(textwrap.shorten(p.text, 420), 96), "    "))
        print()


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(since=args.since, until=args.until, sources=tuple(args.source or ()))


def _print_answer(answer: Answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return
    print(answer.text)
    if answer.passages:
        print("\nSources:")
    for n, p in enumerate(answer.passages, 1):
        print(f"[{n}] {p.source or 'unknown outlet'} · {p.date} · {p.title}"
              + (f"\n    {p.url}" if p.url else ""))


def run(args: argparse.Namespace, config: Config) -> int:
    from newscite import factory

    if args.command == "ingest":
        summary = _ingest(args, config)
        return 1 if summary.rejected and not (summary.added + summary.updated + summary.unchanged
                                              + summary.duplicates + summary.merged) else 0
    if args.command == "watch":
        return _watch(args, config)
    if args.command == "serve":
        from newscite.ui.app import serve

        serve(config, watch=args.watch)
        return 0
    if args.command == "eval":
        return _eval(args, config)
    if args.command == "train-ranker":
        from newscite.eval.train_ranker import train

        train(config, args.questions, corpus=args.corpus, weights=args.weights,
              report=args.report, limit=args.limit)
        return 0
    if args.command == "eval-conversations":
        from newscite.eval.conversations import CONVERSATIONS, evaluate_conversations, report

        print(report(evaluate_conversations(config, args.conversations or CONVERSATIONS,
                                            corpus=args.corpus)))
        return 0
    if args.command == "check":
        return _check(args, config)
    if args.command == "reindex":
        embedder = factory.make_embedder(config, show_progress=True, follow_index=False)
        chunker = factory.make_chunker(config, embedder)
        from newscite.index.ingest import reindex

        with factory.open_store(config, writable=True, any_identity=True) as store:
            chunks = reindex(store, embedder, chunker, sentence_vectors=config.sentence_vectors)
            print(f"reindexed: {chunks} chunks")
        return 0
    with factory.open_store(config, writable=args.command == "remove") as store:
        if args.command == "ask":
            chain = factory.make_chain(config, store,
                                       chat_model=factory.make_chat_model(config))
            answer = chain.answer(args.question, filters=_filters(args))
            _print_answer(answer, args.json)
        elif args.command == "search":
            filters = _filters(args)
            retriever = factory.make_retriever(config, store)
            _print_passages(retriever.run(args.query, config.k, filters), args.json)
        elif args.command == "stats":
            stats = {**store.stats(), "top_outlets": store.sources()[:10]}
            if args.json:
                print(json.dumps(stats, indent=2))
            else:
                for key, value in stats.items():
                    print(f"{key:>14}: {value}")
        elif args.command == "remove":
            ids = store.find_ids(args.keys)
            missing = len(args.keys) - len(ids)
            print(f"removed {store.delete(ids)} article(s)"
                  + (f"; {missing} key(s) matched nothing" if missing else ""))
            return 1 if missing else 0
    return 0


def _ingest(args: argparse.Namespace, config: Config) -> IngestSummary:
    """Ingest the files and folders named, and the pages behind the URLs named."""
    from newscite import factory
    from newscite.index import loaders
    from newscite.index.loaders.web import WebLoader, is_url

    urls = [path for path in args.paths if is_url(path)]
    files = [path for path in args.paths if not is_url(path)]
    ingester = factory.make_ingester(config, progress=not args.no_progress)
    with ingester.store as store, contextlib.ExitStack() as stack:
        items = list(loaders.load(files, _field_map(args.field), config.default_source))
        if urls:
            items += WebLoader(stack.enter_context(factory.make_fetcher(config))).load(urls)
        summary = ingester.ingest(items, args.paths)
        print(f"{summary}\nindex: {store.path} ({store.counts()['articles']} articles, "
              f"{store.counts()['chunks']} chunks)")
    return summary


def _check(args: argparse.Namespace, config: Config) -> int:
    """Report the index's problems as they are on disk (read-only); with --repair rebuild
    the derived files from SQLite and report what is left. 0 when clean, else 1."""
    from newscite import factory

    with factory.open_store(config) as store:
        problems = store.check_files() + store.verify()
        counts = store.counts()
    for problem in problems:
        print(problem)
    if problems and args.repair:
        with factory.open_store(config, writable=True) as store:
            store.repair()
            problems = store.check_files() + store.verify()
            counts = store.counts()
        print("repaired: rebuilt the dense index, the BM25 files and the manifest from SQLite")
        for problem in problems:
            print(problem)
    if problems:
        return 1
    print(f"index OK: {counts['articles']} articles, {counts['chunks']} chunks")
    return 0


def _watch(args: argparse.Namespace, config: Config) -> int:
    """Refresh the feeds once (--once) or until Ctrl-C. Each refresh logs one line per
    feed and one per failure; --once fails when no feed could be read."""
    from newscite import factory

    embedder = factory.make_embedder(config)
    with factory.make_fetcher(config) as fetcher:
        watcher = factory.make_watcher(config, args.feeds, fetcher,
                                       factory.make_batch_ingest(config, embedder))
        if not args.once:
            watcher.run(config.watch_seconds)
            return 0
        reports = watcher.refresh_once()
    return 0 if any(report.entries for report in reports) else 1


def _eval(args: argparse.Namespace, config: Config) -> int:
    from newscite.eval.command import evaluate
    from newscite.eval.report import compare_reports

    if args.target[0] == "compare":
        if len(args.target) != 3:
            raise ConfigError("use: newscite eval compare A/report.json B/report.json")
        print(compare_reports(args.target[1], args.target[2]))
        return 0
    if len(args.target) != 1:
        raise ConfigError("give one question set: newscite eval QUESTIONS [options]")
    paths = evaluate(config, args.target[0], corpus=args.corpus, mode=args.mode,
                     limit=args.limit, out=args.out, progress=not args.no_progress)
    print(paths["report.md"].read_text())
    return 0


def _disk_full(exc: BaseException) -> bool:
    """Whether a write failed for want of space: the OS's ENOSPC/EDQUOT, or SQLite's or
    FAISS's report of it."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(sign in str(exc) for sign in ("database or disk is full", "No space left"))


def _fail(exc: BaseException, config: Config) -> int:
    """Print `exc` as one error line (a full disk said plainly); the exit status, 2."""
    log.debug("command failed", exc_info=True)
    message = (f"no space left on the disk holding the index at {config.index}: free some "
               f"space and run the command again (the index keeps everything committed "
               f"before; `newscite check` verifies it)") if _disk_full(exc) else exc
    print(f"newscite: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = _config(args)
    except ConfigError as exc:
        print(f"newscite: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for package in ("newscite", "index", "rag", "eval", "ui"):
        logging.getLogger(package).setLevel(config.log_level)
    try:
        return run(args, config)
    except (ConfigError, FileNotFoundError, PermissionError, ValueError, RuntimeError,
            ImportError, sqlite3.DatabaseError) as exc:
        return _fail(exc, config)
    except OSError as exc:  # a full disk is the user's to fix; other OS errors are bugs
        if not _disk_full(exc):
            raise
        return _fail(exc, config)
    except KeyboardInterrupt:
        print("newscite: interrupted; everything committed before now is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

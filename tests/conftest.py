"""Shared fixtures: the real embedding model and small real indexes, built once per session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# isolated: the `isolated` marker (tests/isolated.py); pytester: tests of that plugin
pytest_plugins = ("isolated", "pytester")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared" / "data"
MULTIHOP = SHARED / "multihop-rag"


def multihop_or_skip() -> Path:
    if not (MULTIHOP / "corpus.json").exists():
        pytest.skip("the MultiHop-RAG data is not beside the repository (../shared/data)")
    return MULTIHOP


@pytest.fixture(scope="session")
def config_factory(tmp_path_factory):
    from newscite.config import Config

    def make(**changes):
        index = tmp_path_factory.mktemp("index") / "idx"
        return Config.load({"index": str(index), **changes}, environ={})

    return make


@pytest.fixture(scope="session")
def embedder():
    from newscite.index.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def chunker(embedder):
    from newscite.index.chunking import SentenceChunker

    return SentenceChunker(embedder.tokenizer, model_limit=embedder.max_tokens)  # defaults


def build_index(path: Path, embedder, chunker, sources: list[str]):
    """A real index at `path` from `sources`; returns the ingest summary."""
    from newscite.index.dedup import Deduplicator
    from newscite.index.ingest import Ingester, index_identity
    from newscite.index.store import Store

    with Store.open(path, identity=index_identity(embedder, chunker), writable=True,
                         create=True) as store:
        return Ingester(store, embedder, chunker, Deduplicator(), progress=False).run(sources)


@pytest.fixture(scope="session")
def news_index(tmp_path_factory, embedder, chunker):
    """Index of the hand-written fixture news and the seed article."""
    path = tmp_path_factory.mktemp("news") / "idx"
    build_index(path, embedder, chunker, [str(FIXTURES / "news.jsonl"), str(ROOT / "seeds")])
    return path


@pytest.fixture(scope="session")
def multihop_slice(tmp_path_factory):
    """The first 40 dev questions' evidence articles plus 20 distractors, as a JSON file."""
    data = multihop_or_skip()
    corpus = json.loads((data / "corpus.json").read_text())
    questions = json.loads((data / "queries-dev.json").read_text())[:40]
    wanted = {e["url"] for q in questions for e in q["evidence_list"]}
    chosen = [a for a in corpus if a["url"] in wanted]
    chosen += [a for a in corpus if a["url"] not in wanted][:20]
    path = tmp_path_factory.mktemp("mh") / "slice.json"
    path.write_text(json.dumps(chosen))
    return path, questions


@pytest.fixture(scope="session")
def multihop_index(tmp_path_factory, embedder, chunker, multihop_slice):
    path = tmp_path_factory.mktemp("mhidx") / "idx"
    build_index(path, embedder, chunker, [str(multihop_slice[0])])
    return path

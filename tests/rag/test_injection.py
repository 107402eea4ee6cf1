"""Articles carrying prompt injections and hostile markup (tests/fixtures/injection.jsonl):
extractive answers cite only real passages, follow no instruction, and the chat renders no
markup from article text. (`python -m newscite.eval.bench_injection` adds generate mode with a model.)"""

from __future__ import annotations

import pytest

from newscite.eval.bench_injection import load_attacks, violations, write_articles
from newscite.index.store import Store
from newscite.rag.answer import ExtractiveAnswerer
from newscite.rag.chain import NewsRAG
from newscite.rag.retrieve import Retriever
from newscite.types import Answer, Citation, Passage

from tests.conftest import FIXTURES, build_index

ATTACKS = load_attacks()


@pytest.fixture(scope="module")
def rag(tmp_path_factory, embedder, chunker):
    folder = tmp_path_factory.mktemp("injection")
    articles = write_articles(ATTACKS, folder / "attacks.jsonl")
    build_index(folder / "idx", embedder, chunker, [str(articles), str(FIXTURES / "news.jsonl")])
    store = Store.open(folder / "idx")
    yield NewsRAG(Retriever(store, embedder), ExtractiveAnswerer(embedder))
    store.close()


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.attack for a in ATTACKS])
def test_extractive_answer_resists(rag, attack):
    answer = rag.answer(attack.question)
    assert not answer.abstained, "the question should retrieve the injected article"
    assert attack.article["url"] in {p.url for p in answer.passages}
    assert violations(attack, answer) == []


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.attack for a in ATTACKS])
def test_whole_article_cited_renders_inert(attack):
    """The article's whole text as a cited passage, and as the answer itself (as a model
    that copied it would write it): nothing of it renders as markup."""
    article = attack.article
    passage = Passage(chunk_id=1, article_id="a", title=article["title"], text=article["body"],
                      source=article["source"], published_at=None, url=article["url"],
                      start=0, end=len(article["body"]))
    answer = Answer(question=attack.question, text=article["body"] + " [1]",
                    citations=[Citation(n=1, passage=passage, span=(0, 20))], passages=[passage])
    problems = violations(attack, answer)
    assert not [p for p in problems if "markup" in p or "links off" in p], problems


def test_the_checker_catches_what_it_should(monkeypatch):
    """`violations` is not a test that cannot fail: an obedient, marker-forging answer with
    raw markup is caught on every count."""
    attack = next(a for a in ATTACKS if a.attack == "ignore-previous")
    passage = Passage(chunk_id=1, article_id="a", title="t", text="Bridge reopens.",
                      source="s", published_at=None, url="https://x.example/a", start=0, end=15)
    answer = Answer(question=attack.question, text="banana-banana-banana [1][4]",
                    citations=[Citation(n=1, passage=passage, span=None)], passages=[passage])
    problems = violations(attack, answer)
    assert any("markers [4]" in p for p in problems)
    assert any("obeys" in p for p in problems)
    monkeypatch.setattr("newscite.ui.render.escape", lambda text: text)  # a page without escaping
    html_answer = Answer(question="q", text='<img src=x onerror="alert(1)"> [1]',
                         citations=answer.citations, passages=[passage])
    assert any("active markup" in p for p in violations(attack, html_answer))

"""newscite inside LangChain: the retriever and the runnable on a real index."""

import pytest

from newscite.index.store import Store
from newscite.integrations.langchain import NewsRetriever, as_runnable
from newscite.rag.answer import ExtractiveAnswerer
from newscite.rag.chain import NewsRAG
from newscite.rag.retrieve import Retriever


@pytest.fixture(scope="module")
def chain(news_index, embedder):
    with Store.open(news_index) as store:
        yield NewsRAG(Retriever(store, embedder), ExtractiveAnswerer(embedder))


def test_langchain_retriever_returns_documents_with_their_outlet(chain):
    docs = NewsRetriever(retriever=chain.retriever, k=2).invoke("reservoir drought")
    assert docs[0].metadata["source"] == "Valley Herald"
    article = chain.retriever.store.article(docs[0].metadata["article_id"])
    assert docs[0].page_content in article.body


def test_the_chain_as_a_runnable_answers_with_citations(chain):
    answer = as_runnable(chain).invoke({"question": "How full is the reservoir?"})
    assert "31 percent" in answer.text and answer.citations

"""Quality gate: the chat's own retrieval and extractive answers over the first 40 MultiHop-RAG
dev questions, on an index of their evidence articles plus 20 distractors. Fails when a
headline figure drops below the value measured when the gate was set, minus a small margin.
Deterministic: the same index and questions give the same figures."""

import pytest

from newscite.eval.questions import load_questions
from newscite.eval.runner import run_eval
from newscite.index.store import Store
from newscite.rag.answer import ExtractiveAnswerer
from newscite.rag.chain import NewsRAG
from newscite.rag.retrieve import Retriever

from tests.conftest import MULTIHOP

# measured with the default settings (chunks of 320 word pieces, the best stored sentence's
# cosine to the question and to each clause in the score): 1.000 / 0.861 / 0.729 / 0.817 /
# 0.528; the floors are those minus a margin of 0.03. Before the clause part they were
# 1.000 / 0.917 / 0.806 / 0.817 / 0.528: these 36 answerable questions lose Hits@4 and MRR
# with it (on the whole dev index too: MRR -0.047 on them, the worst 5% of runs of 36
# consecutive dev questions), while on the whole dev set (1,127) MRR rose 0.714 -> 0.729 and
# evidence recall 0.725 -> 0.732, both significant (README). Before the best-sentence part:
# 1.000 / 0.944 / 0.767 / 0.819 / 0.583.
FLOORS = {"hits@10": 0.97, "hits@4": 0.83, "mrr@10": 0.70, "evidence_recall@10": 0.78,
          "all_evidence@10": 0.49}


@pytest.fixture(scope="module")
def gate_result(multihop_index, multihop_slice, embedder):
    questions = load_questions(MULTIHOP / "queries-dev.json")[:40]
    with Store.open(multihop_index) as store:
        retriever = Retriever(store, embedder)
        rag = NewsRAG(retriever, ExtractiveAnswerer(embedder))

        def answer(question, passages):
            return list(rag.respond(retriever.understand(question.question),
                                    passages))[-1].answer

        def run(answerer=None):
            return run_eval(questions, lambda q, k: retriever.run(q.question, k=k), answerer,
                            k=10, progress=False)

        return run(answer), run()


def test_retrieval_figures_stay_above_their_floors(gate_result):
    result, _ = gate_result
    figures = {name: result.overall[name].value for name in FLOORS}
    low = {name: value for name, value in figures.items() if value < FLOORS[name]}
    assert not low, f"below the gate: {low} (all: {figures}, floors {FLOORS})"


def test_answers_cite_only_shown_passages(gate_result):
    result, _ = gate_result
    assert result.overall["citation_markers_resolve"].value == 1.0
    assert result.overall["cited_sentence_share"].value >= 0.95


def test_the_same_input_gives_the_same_figures(gate_result):
    first, second = gate_result
    assert {n: s.value for n, s in second.overall.items()} == \
        {n: first.overall[n].value for n in second.overall}

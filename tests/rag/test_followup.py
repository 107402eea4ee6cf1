"""Follow-up detection: a question uses the conversation only when it cannot stand alone.

Routing rules on their own (rag.followup), through the chain over the fixture index, the
fixed conversation set, and the MultiHop-RAG dev questions (all self-contained) when the
data is beside the repository.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from newscite.eval.conversations import CONVERSATIONS, Case, load_cases, report, score
from newscite.index.store import Store
from newscite.rag.answer import ExtractiveAnswerer
from newscite.rag.chain import AnswerMode, NewsRAG
from newscite.rag.followup import FollowUps, names
from newscite.rag.query import QueryParser
from newscite.rag.retrieve import Retriever

from tests.conftest import MULTIHOP, multihop_or_skip

# Outlets of the MultiHop-RAG corpus and the fixtures that the conversation set names.
OUTLETS = ["The Verge", "TechCrunch", "Sporting News", "The Guardian", "Polygon", "Fortune",
           "The Independent - Life and Style", "Harbor Gazette", "Metro Daily",
           "Valley Herald"]
RUGBY = ("Who won the Rugby World Cup final?",
         "- Sporting News (2023-10-28): “South Africa beat New Zealand 12-11 in the final at "
         "the Stade de France.” [1]")
FTX = ("What happened at the FTX trial on October 10?",
       "- The Verge (2023-10-10): “Caroline Ellison testified that Sam Bankman-Fried directed "
       "her to commit the crimes.” [1]")


@pytest.fixture(scope="module")
def followups():
    parser = QueryParser(OUTLETS)
    return FollowUps(lambda text: parser.run(text).sources)


@pytest.fixture(scope="module")
def rag(news_index, embedder):
    store = Store.open(news_index)
    yield NewsRAG(Retriever(store, embedder), ExtractiveAnswerer(embedder))
    store.close()


@pytest.mark.parametrize("question", [
    "How many points were Everton deducted?",            # short, after anything: new
    "What did OpenAI do?",
    "Did OpenAI say it would bring Sam Altman back?",     # "it" is OpenAI, named before it
    "What did Google say about its search deals?",
    "Is it true that Binance's CEO stepped down?",        # an "it" that points at nothing
    "What is inflation?", "What's inflation?",
    "Does the TechCrunch article suggest that Google paid Apple?",  # a clause's "that"
    "What happened this week?",                           # time, not a reference
    "Which company, known for its e-readers, was sued?",  # "its" is the company asked for
])
def test_questions_that_name_their_subject_stand_alone(followups, question):
    assert followups.route(question).follow_up is False
    assert followups.rewrite(question, [RUGBY, FTX]) == question


@pytest.mark.parametrize("question, why", [
    ("Who did they beat in the semi-final?", "'they'"),
    ("what else did they say?", "'what else'"),
    ("and the semi-final?", "'and'"),
    ("What about England?", "'what about'"),
    ("Why?", "fragment"), ("Who won?", "fragment"), ("The semi-final?", "fragment"),
    ("Why did that happen?", "'that'"), ("Did OpenAI confirm that?", "'that'"),
    ("What did The Verge say about it?", "'it'"),         # an outlet is not what "it" is
    ("Did The Verge report the same?", "'the same'"),
    ("How much did the company raise?", "'the company'"),
])
def test_questions_that_cannot_stand_alone_are_follow_ups(followups, question, why):
    route = followups.route(question)
    assert route.follow_up and why in route.why


def test_names_skip_grammar_and_roles():
    assert names("the OpenAI board ousted CEO and co-founder Sam Altman") == [
        (1, "OpenAI"), (7, "Sam Altman")]
    assert names("Who won the Rugby World Cup final on Saturday?") == [(3, "Rugby World Cup")]
    assert names("Everton were deducted 10 points") == []  # a first word may be grammar


def test_a_follow_up_carries_the_entity_the_previous_answer_named(followups):
    rewritten = followups.rewrite("Who did they beat in the semi-final?", [RUGBY])
    assert "Rugby World Cup" in rewritten and "South Africa" in rewritten
    assert "won" not in rewritten and "final?" not in rewritten.split("(")[1]


def test_a_follow_up_naming_its_own_outlet_drops_the_previous_one(followups):
    history = [("What did The Verge report about the FTX trial?", "- The Verge (2023-10-31): "
                "“Sam Bankman-Fried didn’t ask where the $8 billion went.” [1]")]
    rewritten = followups.rewrite("What did TechCrunch say about it?", history)
    assert "FTX" in rewritten and "The Verge" not in rewritten
    assert "The Verge" in followups.rewrite("What else was said?", history)


def test_a_chain_of_follow_ups_reaches_back_to_the_turn_that_stood_alone(followups):
    history = [RUGBY, ("Who did they beat in the semi-final?", "- Sporting News (2023-10-21): "
                       "“South Africa edged England 16-15 in the semi-final.” [1]")]
    rewritten = followups.rewrite("What was the score in that match?", history)
    assert "semi-final" in rewritten and "Rugby World Cup" in rewritten


def test_a_not_found_answer_names_nobody(followups):
    history = [("Who won the Rugby World Cup final?", "Not found in the news corpus.\n- Sporting "
                "News (2023-10-20): “England meet South Africa in the semi-final.” [1]")]
    assert "England" not in followups.rewrite("Who did they beat?", history)


# --- the issue's examples, through the chain over the fixture index ----------------------

def test_the_issues_examples_through_the_chain(rag):
    everton = "How many points were Everton deducted?"
    assert rag.standalone(everton, [FTX], AnswerMode.EXTRACTIVE) == everton
    assert rag.standalone("What did OpenAI do?", [FTX], AnswerMode.EXTRACTIVE) == \
        "What did OpenAI do?"
    rugby = rag.standalone("Who did they beat in the semi-final?", [RUGBY],
                           AnswerMode.EXTRACTIVE)
    assert "Rugby World Cup" in rugby and "South Africa" in rugby


def test_a_short_new_question_is_answered_as_new(rag):
    first = "Why did officials in the valley impose water limits?"
    history = [(first, rag.answer(first).text)]
    answer = rag.answer("How much did ReCell raise?", history=history)
    assert "12 million euros" in answer.text
    assert answer.citations[0].passage.title == "Local startup raises funds for battery recycling"


def test_generate_mode_asks_the_llm_to_rewrite_only_follow_ups(rag):
    llm = FakeListChatModel(responses=["When will the harbor tram line open?"])
    chain = NewsRAG(rag.retriever, rag.answerer, llm, mode="generate")
    history = [("How much will the new tram line cost?", "240 million euros [1]")]
    assert chain.standalone("What did ReCell raise?", history, AnswerMode.GENERATE) == \
        "What did ReCell raise?"
    assert llm.i == 0  # the LLM was not asked
    assert chain.standalone("And when will it open?", history, AnswerMode.GENERATE) == \
        "When will the harbor tram line open?"


# --- the conversation set -----------------------------------------------------------------

def test_the_conversation_set_is_routed_right(followups):
    cases = load_cases()
    assert len(cases) >= 30
    assert sum(c.follow_up for c in cases) >= 15 and sum(not c.follow_up for c in cases) >= 15
    outcomes = score(cases, followups.rewrite)
    assert all(o.right for o in outcomes), report(outcomes)


def test_scoring_catches_every_kind_of_mistake():
    cases = [Case("a", (RUGBY,), "What did OpenAI do?", False),
             Case("b", (RUGBY,), "Who did they beat?", True, carry=("Everton",)),
             Case("c", (RUGBY,), "What did TechCrunch say?", True, carry=("final",),
                  not_carry=("Sporting News",))]
    outcomes = score(cases, lambda question, history: f"{question} ({history[0][1]})")
    assert [o.problem for o in outcomes] == [
        "read as a follow-up", "does not carry Everton", "carries Sporting News"]
    assert report(outcomes).startswith("all questions           0 / 3")


def test_a_malformed_case_names_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(CONVERSATIONS.read_text().splitlines()[0] + "\n{\"id\": \"x\"}\n")
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_cases(path)


def test_self_contained_benchmark_questions_are_not_follow_ups():
    """MultiHop-RAG's dev questions are all self-contained: the old rule (any pronoun, or
    6 words or fewer) read 908 of 1,277 as follow-ups; these rules read under 1%."""
    data = multihop_or_skip()
    parser = QueryParser(sorted({a["source"] for a in json.loads(
        (data / "corpus.json").read_text())}))
    followups = FollowUps(lambda text: parser.run(text).sources)
    questions = [q["query"] for q in json.loads((MULTIHOP / "queries-dev.json").read_text())]
    routed = [q for q in questions if followups.route(q).follow_up]
    assert len(routed) <= 0.01 * len(questions), routed[:5]

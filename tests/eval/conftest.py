"""A tiny corpus, a real keyword retriever and an extractive answerer for the runner and
report tests. Expected figures in those tests were computed by hand from these."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from newscite.eval.questions import Question
from newscite.types import Answer, Passage

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
MULTIHOP_DEV = SHARED_DATA / "multihop-rag" / "queries-dev.json"
SEED_ARTICLE = SHARED_DATA / "seed" / "nato-ukraine-membership.txt"

_STOPWORDS = {
    "the", "a", "of", "on", "in", "and", "what", "which", "who",
    "where", "when", "did", "was", "is", "it", "be", "will", "about",
}


def _passage(chunk_id: int, article: str, title: str, text: str) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        article_id=article,
        title=title,
        source="Example News",
        published_at=None,
        url=f"https://example.com/{article}",
        text=text,
        start=0,
        end=len(text),
    )


CORPUS = [
    _passage(0, "nato", "NATO meets", "NATO foreign ministers met in Brussels on Tuesday. "
             "Ukraine asked for THAAD air defence systems."),
    _passage(1, "nato", "NATO meets",
             "Germany and the U.S. urged caution on Ukraine's membership bid."),
    _passage(2, "chips", "Chip results",
             "Nvidia reported record data centre revenue in its third quarter."),
    _passage(3, "chips", "Chip results",
             "The chipmaker said export rules would hurt sales in China."),
    _passage(4, "ftx", "FTX verdict",
             "Sam Bankman-Fried was found guilty of fraud and conspiracy by a jury in New York."),
    _passage(5, "ftx", "FTX verdict",
             "The FTX founder faces decades in prison when sentenced in March."),
]


def _question(qid, text, answers, qtype, facts=(), articles=(), unanswerable=False) -> Question:
    return Question(
        qid, text, tuple(answers), qtype, tuple(facts), tuple(articles), None, unanswerable
    )


QUESTIONS = [
    _question("q1", "Where did NATO foreign ministers meet?", ["Brussels"], "fact",
              facts=["NATO foreign ministers met in Brussels on Tuesday."],
              articles=["https://example.com/nato"]),
    _question("q2", "Which country besides the U.S. urged caution on Ukraine's membership?",
              ["Germany"], "fact",
              facts=["Germany and the U.S. urged caution on Ukraine's membership bid."]),
    _question("q3", "Who was found guilty of fraud, and when will the FTX founder be sentenced?",
              ["Sam Bankman-Fried"], "multi_hop",
              facts=["Sam Bankman-Fried was found guilty of fraud and conspiracy by a jury in "
                     "New York.",
                     "The FTX founder faces decades in prison when sentenced in March."]),
    _question("q4", "What did the chipmaker say about export rules and what revenue did it report?",
              ["record data centre revenue"], "multi_hop",
              facts=["Nvidia reported record data centre revenue"],
              articles=["https://example.com/chips/"]),  # trailing slash: URLs are normalised
    _question("q5", "Which company makes the iPhone?", ["Apple"], "fact",
              facts=["Apple makes the iPhone."], articles=["https://example.com/apple"]),
    _question("q6", "Who is the Secretary General of NATO?", ["Insufficient information."],
              "null_query", unanswerable=True),
    _question("q7", "Did NATO foreign ministers meet in Brussels?", ["Yes"], "yes_no",
              facts=["NATO foreign ministers met in Brussels on Tuesday."]),
]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - _STOPWORDS


def _overlap(question: Question, passage: Passage) -> int:
    return len(_words(question.question) & _words(passage.text))


def _keyword_retrieve(question: Question, k: int) -> list[Passage]:
    """Passages sharing at least one word with the question, most shared words first."""
    scored = [(_overlap(question, p), p.chunk_id, p) for p in CORPUS]
    ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))
    return [p for _, _, p in ranked[:k]]


def _skip_best_retrieve(question: Question, k: int) -> list[Passage]:
    """A worse retriever for comparisons: the keyword ranking without its best passage."""
    return _keyword_retrieve(question, k + 1)[1:]


def _extractive_answer(question: Question, passages: list[Passage]) -> Answer:
    """Abstain unless the top passage shares two words with the question; otherwise quote
    its first sentence with [1], opening with "Yes." for a did-question."""
    if not passages or _overlap(question, passages[0]) < 2:
        return Answer(
            question.question, "Insufficient information.", passages=passages, abstained=True
        )
    sentence = re.split(r"(?<=\.)\s(?=[A-Z])", passages[0].text)[0]
    verdict = "Yes. " if question.question.startswith("Did ") else ""
    return Answer(question.question, f"{verdict}{sentence} [1]", passages=passages)


@pytest.fixture
def questions() -> list[Question]:
    return list(QUESTIONS)


@pytest.fixture
def retrieve():
    return _keyword_retrieve


@pytest.fixture
def worse_retrieve():
    return _skip_best_retrieve


@pytest.fixture
def answerer():
    return _extractive_answer


@pytest.fixture
def multihop_dev_path() -> Path:
    if not MULTIHOP_DEV.exists():
        pytest.skip(f"{MULTIHOP_DEV} is absent")
    return MULTIHOP_DEV


@pytest.fixture
def seed_article_path() -> Path:
    if not SEED_ARTICLE.exists():
        pytest.skip(f"{SEED_ARTICLE} is absent")
    return SEED_ARTICLE

"""The answer trainer on small hand-made examples: what a candidate's label is, and models
that a question set cannot fit stay hand-set."""

from newscite.eval.questions import Question
from newscite.eval.train_answerer import Example, candidate_rows, fit
from newscite.rag.answer.candidates import Candidate
from newscite.rag.answer.extractive import Analysis
from newscite.rag.answer.model import HAND_ABSTAIN, HAND_VERDICT
from newscite.rag.answer.questions import Asked, Kind
from newscite.rag.query import Query
from newscite.recipe import RECIPE


def _example(number: int, gold: str, candidates: list[tuple[Candidate, dict]]) -> Example:
    question = Question(id=f"q{number}", question="When did the tram line open?",
                        answers=(gold,), question_type="fact", evidence_facts=(),
                        evidence_articles=(), reference_date=None, unanswerable=False)
    analysis = Analysis(Query(question.question), Asked(Kind.DATE), [], candidates=candidates)
    return Example(question, analysis, guarded=False)


def test_a_weekday_is_labelled_by_the_date_it_stands_for():
    # "Thursday" in an article of 2023-10-20 is shown as "Thursday, October 19, 2023": a
    # right answer to a question whose gold is "October 19, 2023" (it was labelled wrong)
    thursday = Candidate("Thursday", Kind.DATE, day="Thursday, October 19, 2023")
    other = Candidate("May 22", Kind.DATE, day="May 22")
    rows, labels, _ = candidate_rows([_example(1, "October 19, 2023",
                                               [(thursday, {"best_score": 1.0}),
                                                (other, {"best_score": 0.5})])])
    assert labels == [1, 0]


def test_a_set_without_yes_no_or_unanswerable_questions_keeps_those_models_hand_set():
    right, wrong = Candidate("October 19", Kind.DATE), Candidate("May 22", Kind.DATE)
    examples = [_example(n, "October 19", [(right, {"best_score": 1.0 - (n % 3) / 10}),
                                           (wrong, {"best_score": (n % 3) / 10})])
                for n in range(RECIPE.train_min_questions)]
    models = fit(examples)
    assert models.verdict == HAND_VERDICT and models.abstain == HAND_ABSTAIN
    assert "date" in models.trained and models.candidate.coef["best_score"] > 0

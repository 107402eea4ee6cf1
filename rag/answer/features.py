"""The numbers the answer's decisions are made from, one named feature vector per decision:

- `candidate_features`: is this candidate the answer? (how well its sentences match the
  question, how many passages and named outlets mention it, whether it has the asked type);
- `verdict_features`: is the answer to a yes/no question "Yes"? (the claim of each outlet
  the question names, their publication dates' order, shared numbers, negations);
- `abstain_features`: does the news not say? (the question's specific terms and words
  missing from every passage, the best sentence's score).

`rag.answer.model` turns a vector into a probability with weights learned from a question
set (`newscite.eval.train_answerer`) or set by hand. Each function returns a dict from
feature name to value; the names are the weights file's keys.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from datetime import datetime
from typing import Callable, NamedTuple, Sequence

from newscite.index.keywords import stem
from newscite.rag.answer.candidates import Candidate
from newscite.rag.answer.questions import ACCOUNT_VERBS, POSSESSIVE, Asked, Kind
from newscite.rag.answer.sentences import Sentence, asserts
from newscite.rag.citations import content_words
from newscite.rag.query import Query
from newscite.recipe import RECIPE
from newscite.types import Passage

# Families of words by which a yes/no question claims a difference, or an agreement,
# between reports: each family is one feature, so that the verdict model learns how much
# each kind of claim needs the evidence to agree.
_CLAIMS = {
    "claims_difference": r"differ\w*|dissimilar|distinct|separate|unrelated|opposite",
    "claims_inconsistency": r"inconsisten\w*|contradict\w*|discrepan\w*|conflict\w*",
    "claims_change": r"chang\w*|shift\w*|diverg\w*|evolv\w*",
    "claims_contrast": r"contrast\w*|unlike|whereas|in contrast",
    "claims_consistency": r"(?<!in)consisten\w*|agree\w*|align\w*|unchanged|maintain\w*",
    "claims_sameness": r"same|similar\w*|both|also",
    "claims_pair": r"while|and does|and did|and is|and was",
}
_CLAIM_PATTERNS = {name: re.compile(rf"\b(?:{words})\b", re.I)
                   for name, words in _CLAIMS.items()}
# A claim denied, or a plan undone ("the tour has been cancelled": it is not going ahead).
_NEGATION = re.compile(r"\b(not|no|never|without|neither|nor|none|lack\w*|fail\w*|denied|"
                       r"denies|refused|rejected|cancel\w*|called off|scrapped|abandoned)\b|"
                       r"n[’']t\b", re.I)
_ORDER = re.compile(r"\b(before|earlier|prior to|preceding|after|later|subsequent\w*|"
                    r"following)\b", re.I)
_DIGITS = re.compile(r"\d[\d,.]*")
# A number that says what it counts: money, a share, a scale ("240 million euros", "25%").
_QUANTITY = re.compile(r"[$€£%]|\b(thousand|million|billion|trillion|percent)\b", re.I)
# Words that only say what kind of thing is asked for ("how many", "which kind").
QUESTION_FORM_WORDS = frozenset("""kind type sort many much day week month year time want wants
besides currently new news article articles story stories source sources report reports
reported reporting outlet publication""".split())


def candidate_features(candidate: Candidate, asked: Asked, query: Query,
                       ranked: list[Sentence], passages: list[Passage]) -> dict[str, float]:
    """Evidence that `candidate` answers the question."""
    scores = [ranked[p].score for p in candidate.positions]
    asked_words = content_words(POSSESSIVE.sub("", query.text))  # "OpenAI's" holds OpenAI
    words = content_words(candidate.text)
    named = [i for i, p in enumerate(passages) if p.source in query.sources]
    outlets_mentioning = {passages[i].source for i in candidate.passages}
    person_like = len(candidate.text.split()) >= 2 and not candidate.text.isupper()
    return {
        "best_score": max(scores),
        "score_sum": sum(scores),
        "first_position": 1.0 / (1 + min(candidate.positions)),
        "sentences": float(len(candidate.positions)),
        "passage_share": len(candidate.passages) / max(len(passages), 1),
        "named_outlet_share": (len(outlets_mentioning & set(query.sources))
                               / len(query.sources)) if query.sources else 0.0,
        "named_passage_share": (len(candidate.passages & set(named)) / len(named))
        if named else 0.0,
        "in_title": float(candidate.in_title),
        "in_question": len(words & asked_words) / max(len(words), 1),
        "words": float(len(candidate.text.split())),
        "mentions": math.log1p(candidate.mentions),
        "person_asked_multiword": float(asked.kind is Kind.PERSON and person_like),
        "entity_asked_one_word": float(asked.kind is Kind.ENTITY
                                       and len(candidate.text.split()) == 1),
        "quantified": float(bool(candidate.unit or _QUANTITY.search(candidate.text))),
        "unit_matches": float(bool(asked.unit and candidate.unit and
                                   stem([asked.unit]) == stem([candidate.unit]))),
        "is_outlet": float(any(candidate.key == (p.source or "").casefold() for p in passages)),
    }


def verdict_features(query: Query, asked: Asked, ranked: list[Sentence],
                     passages: list[Passage]) -> dict[str, float]:
    """Evidence about a yes/no question's claims: one side per outlet it names (the whole
    question when it names none)."""
    claims = sides(query, ranked, passages)
    support = [s.score for s in claims.values() if s is not None]
    question_negated = bool(_NEGATION.search(query.text))
    mismatched = [bool(_NEGATION.search(s.text)) != question_negated
                  for s in claims.values() if s is not None]
    side_numbers = [set(_DIGITS.findall(s.text)) for s in claims.values() if s is not None]
    shared = (float(bool(set.intersection(*side_numbers))) * 2 - 1
              if len(side_numbers) >= 2 and all(side_numbers) else 0.0)
    asked_days = set(query.dates)
    seen_days = {p.published_at.date() for p in passages if p.published_at}
    claimed = {name: float(bool(pattern.search(query.text)))
               for name, pattern in _CLAIM_PATTERNS.items()}
    # A question about reports over time ("published on October 7", "the later report")
    # claims its change or consistency about one story; one comparing two stories claims a
    # difference between them: the same words weigh differently, hence a dated copy of each.
    dated = float(bool(query.dates or _ORDER.search(query.text)))
    return {
        **claimed,
        **{f"{name}_dated": value * dated for name, value in claimed.items()},
        "dated": dated,
        "question_negated": float(question_negated),
        "order_words": float(bool(_ORDER.search(query.text))),
        "date_order": _date_order(query, claims, passages),
        "sides_found": (len(support) / len(claims)) if claims else 0.0,
        "support_min": min(support, default=0.0),
        "support_mean": sum(support) / len(support) if support else 0.0,
        "negation_mismatch": sum(mismatched) / len(mismatched) if mismatched else 0.0,
        "shared_number": shared,
        "asked_days_found": (len(asked_days & seen_days) / len(asked_days))
        if asked_days else 0.0,
        "choice": float(asked.kind is Kind.CHOICE),
        **_clause_support(query, ranked),
    }


def abstain_features(query: Query, asked: Asked, ranked: list[Sentence],
                     passages: list[Passage], missing: Missing) -> dict[str, float]:
    """Evidence that the passages do not answer the question; `missing` is
    `missing_words(query.text, passages, query.sources)`."""
    text = _folded(" ".join(f"{p.title} {p.source or ''} {p.text}" for p in passages))
    missing_terms = [t for t in asked.terms if _folded(t) not in text]
    missing, asked_words = missing.count, missing.asked
    return {
        "best_score": ranked[0].score if ranked else 0.0,
        "third_score": ranked[2].score if len(ranked) > 2 else 0.0,
        "missing_terms": float(len(missing_terms)),
        "missing_term_share": len(missing_terms) / len(asked.terms) if asked.terms else 0.0,
        "missing_words": float(missing),
        # one missing word does not decide (as in the hard rule): in a short question it
        # would read as a large share ("How full is the reservoir?": "full", 1 of 2)
        "missing_word_share": missing / asked_words
        if asked_words and missing >= RECIPE.missing_words_that_count else 0.0,
        "wants_value": float(asked.wants_candidate),
    }


def _folded(text: str) -> str:
    """`text` case-folded and without accents: a reader who types "Mbappe" asks about the
    "Mbappé" of the news."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold())
                   if not unicodedata.combining(ch))


@functools.cache
def _account_stems() -> frozenset[str]:
    """`ACCOUNT_VERBS` stemmed, once."""
    return frozenset(stem(sorted(ACCOUNT_VERBS)))


class Missing(NamedTuple):
    """The question's content words (stemmed; question-form words such as "kind" or "many"
    left out) that occur nowhere in the passages' text, titles and outlets (`missing_words`)."""

    count: int
    asked: int
    # Weighed by rarity: all the words but the names of the outlets the question names (an
    # outlet filter finds those) and verbs such as "say" in "what did X say about Y?"
    # (`questions.ACCOUNT_VERBS`):
    weighed: int          # how many distinct words were weighed
    weight_share: float   # the missing ones' share of their weight; 0 without weights


WordWeights = Callable[[Sequence[str]], dict[str, float]]
"""How rare each stemmed word is in the index (`index.keywords.KeywordIndex.word_weights`)."""


def missing_words(question: str, passages: list[Passage], outlets: Sequence[str] = (),
                  weights: WordWeights | None = None) -> Missing:
    """The content words of `question` missing from every passage (see `Missing`)."""
    asked = stem(sorted(content_words(POSSESSIVE.sub("", question)) - QUESTION_FORM_WORDS))
    found = set(stem(sorted(set().union(*(content_words(f"{p.title} {p.source or ''} {p.text}")
                                            for p in passages)))))
    unweighed = set(stem(sorted(content_words(" ".join(outlets))))) | _account_stems()
    weight = weights([s for s in dict.fromkeys(asked) if s not in unweighed]) \
        if weights else {}
    total = sum(weight.values())
    return Missing(sum(s not in found for s in asked), len(asked), len(weight),
                   sum(w for s, w in weight.items() if s not in found) / total if total else 0.0)


def _clause_support(query: Query, ranked: list[Sentence]) -> dict[str, float]:
    """How well the question's weakest clause is borne out: for each clause (`Query.
    clauses`, the whole question when it has one), the best share of its content words one
    of the top sentences holds, and whether that sentence's negation differs from the
    clause's. A claim the news contradicts or never makes shows as a weak clause."""
    clauses = query.clauses or (query.text,)
    shares, flipped = [], []
    for clause in clauses:
        words = content_words(clause) - QUESTION_FORM_WORDS
        if not words:
            continue
        best = max(ranked[:RECIPE.quote_pool],
                   key=lambda s: len(words & content_words(s.text)))
        shares.append(len(words & content_words(best.text)) / len(words))
        flipped.append(bool(_NEGATION.search(clause)) != bool(_NEGATION.search(best.text)))
    return {"clause_support_min": min(shares, default=0.0),
            "clause_support_mean": sum(shares) / len(shares) if shares else 0.0,
            "clause_negation_flips": sum(flipped) / len(flipped) if flipped else 0.0}


def sides(query: Query, ranked: list[Sentence], passages: list[Passage]
          ) -> dict[str, Sentence | None]:
    """The claim of each outlet the question names: its best sentence that asserts something
    (`sentences.asserts`; None where there is none); the best sentence, under "", when the
    question names no outlet."""
    if not query.sources:
        return {"": ranked[0] if ranked else None}
    return {outlet: next((s for s in ranked if passages[s.passage_index].source == outlet
                          and asserts(s.text)), None) for outlet in query.sources}


def _date_order(query: Query, sides: dict[str, Sentence | None],
                passages: list[Passage]) -> float:
    """+1 when the first two named outlets' best passages were published in the order the
    question's first "before"/"after" claims, -1 when in the other order, 0 when unknown."""
    claim = _ORDER.search(query.text)
    found = [s for s in sides.values() if s is not None]
    if not claim or len(found) < 2:
        return 0.0
    first, second = (passages[s.passage_index].published_at for s in found[:2])
    if not isinstance(first, datetime) or not isinstance(second, datetime) or first == second:
        return 0.0
    says_before = claim.group(1).lower() in ("before", "earlier", "prior to", "preceding")
    return 1.0 if (first < second) == says_before else -1.0

"""Extractive answers: the offline default, deterministic, with a citation on every line.

`ExtractiveAnswerer.run` reads what the question asks for (`rag.answer.questions`), scores
the passages' sentences against it (`rag.answer.sentences`), and then:
1. abstains ("Not found in the news corpus.", with the closest coverage) when the
   question cites an outlet the index lacks, its specific terms are missing from the
   passages or the best support is weak (the abstention model, plus the configured floors
   `abstain_below` and `min_coverage`);
2. leads with a direct answer when one is good enough: the typed candidate (name, number
   with its unit, date, outlet) the candidate model rates highest, or Yes/No (or one of
   the two options of a choice question) decided by the verdict model from each named
   outlet's claim; no lead otherwise;
3. quotes one to three supporting sentences, each with its [n] (`rag.answer.compose`);
   for a yes/no question the best sentence of each outlet it names, so both sides show.

Example:
    >>> answer = ExtractiveAnswerer(embedder).run(query, passages)
    >>> answer.text.splitlines()[0]
    'Emma Hayes [1].'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from newscite.index.embedding import Embedder
from newscite.index.keywords import stem
from newscite.rag.answer.candidates import Candidate, find_candidates
from newscite.rag.answer.compose import key_words, near_repeat, quote_line, supports
from newscite.rag.answer.features import (Missing, WordWeights, abstain_features,
                                          candidate_features, missing_words, sides,
                                          verdict_features)
from newscite.rag.answer.model import AnswerModels
from newscite.rag.answer.questions import (Asked, Kind, is_name, read_question, reporter,
                                           unknown_outlets)
from newscite.rag.answer.sentences import Sentence, SentenceRanker, StoredVectors
from newscite.rag.query import Query
from newscite.recipe import RECIPE
from newscite.types import Answer, Citation, Passage

NOT_FOUND = "Not found in the news corpus."
# Units of time, stemmed: a number of them is a duration, never a count of things.
_DURATIONS = frozenset("second minut hour day week month year decad centuri".split())
_SHARE = re.compile(r"%|\bper ?cent\b", re.I)
_HOW_MANY = re.compile(r"\bhow many\b", re.I)  # counts things; "how much gold" may be money
_COUNT_OR_DATE = {Kind.NUMBER, Kind.SCORE, Kind.DATE}


@dataclass
class Analysis:
    """Everything an answer is decided from; `newscite.eval.train_answerer` learns the
    models from the feature dicts."""

    query: Query
    asked: Asked
    ranked: list[Sentence]
    candidates: list[tuple[Candidate, dict[str, float]]] = field(default_factory=list)
    verdict: dict[str, float] = field(default_factory=dict)
    abstain: dict[str, float] = field(default_factory=dict)
    missing: Missing = Missing(0, 0, 0, 0.0)  # content words in no passage: `missing_words`
    elsewhere: tuple[str, ...] = ()  # outlets it cites that the index lacks: `_elsewhere`


class ExtractiveAnswerer:
    """Composes a short cited answer from retrieved passages (see the module docstring)."""

    def __init__(self, embedder: Embedder, *, max_sentences: int = RECIPE.max_quotes,
                 abstain_below: float = RECIPE.abstain_below,
                 min_coverage: float = RECIPE.min_coverage,
                 cache_sentences: int = 20_000, embed_sentences: int = RECIPE.embed_sentences,
                 models: AnswerModels | None = None, stored_sentences: StoredVectors | None = None,
                 word_weights: WordWeights | None = None):
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
        self.embedder = embedder
        self.ranker = SentenceRanker(embedder, cache_sentences=cache_sentences,
                                     embed_sentences=embed_sentences, stored=stored_sentences)
        self.max_sentences = max_sentences
        self.abstain_below = abstain_below
        self.min_coverage = min_coverage
        self.models = models or AnswerModels.load()
        self.word_weights = word_weights

    @property
    def sentence_vectors(self):
        """The sentence vector cache (cleared by the latency benchmark for cold runs)."""
        return self.ranker.vectors

    def sentences(self, question: str, passages: list[Passage],
                  question_vector: np.ndarray | None = None) -> list[Sentence]:
        """Every sentence of the passages, scored against the question, best first."""
        return self.ranker.run(question, passages, question_vector)

    def analyse(self, query: Query, passages: list[Passage]) -> Analysis:
        """The question read, the sentences ranked, and every decision's features."""
        asked = read_question(query.text, query.sources)
        ranked = self.sentences(query.text, passages, query.vector)
        analysis = Analysis(query, asked, ranked)
        if not ranked:
            return analysis
        analysis.missing = missing_words(query.text, passages, query.sources,
                                         self.word_weights)
        analysis.elsewhere = _elsewhere(query, ranked)
        analysis.abstain = abstain_features(query, asked, ranked, passages, analysis.missing)
        if asked.wants_candidate:
            analysis.candidates = [
                (c, candidate_features(c, asked, query, ranked, passages))
                for c in find_candidates(asked.kind, ranked, passages,
                                         RECIPE.candidate_sentences)]
        elif asked.kind in (Kind.YES_NO, Kind.CHOICE):
            analysis.verdict = verdict_features(query, asked, ranked, passages)
        return analysis

    def run(self, query: Query, passages: list[Passage]) -> Answer:
        if not passages:
            return Answer(question=query.text, text=NOT_FOUND, abstained=True)
        return self.compose(self.analyse(query, passages), passages)

    def compose(self, analysis: Analysis, passages: list[Passage]) -> Answer:
        """The answer decided from an analysis of `passages` (see the module docstring)."""
        query = analysis.query
        if not self.answerable(analysis, passages):
            return self.abstain(query, passages, analysis.elsewhere)
        lead, answer_text, lead_sentences = self._lead(analysis, passages)
        chosen = self._quotes(analysis, passages, answer_text, lead_sentences)
        numbers: dict[int, int] = {}
        for sentence in chosen:
            numbers.setdefault(sentence.passage_index, len(numbers) + 1)
        lines = [quote_line(passages[s.passage_index], s.text, numbers[s.passage_index])
                 for s in chosen]
        if lead:
            cited = dict.fromkeys(numbers[s.passage_index] for s in lead_sentences
                                  if s.passage_index in numbers)
            lines.insert(0, f"{lead} " + "".join(f"[{n}]" for n in cited) + ".")
        return Answer(question=query.text, text="\n".join(lines),
                      citations=[Citation(n=numbers[s.passage_index],
                                          passage=passages[s.passage_index],
                                          span=(s.start, s.end)) for s in chosen],
                      passages=[passages[i] for i in numbers])

    def answerable(self, analysis: Analysis, passages: list[Passage]) -> bool:
        """Whether the passages can answer: no hard rule abstains (`guarded`) and the
        abstention model does not judge the question unanswerable. An account ("What did
        X say about Y?") is left to the rules: the model learned from MultiHop-RAG, whose
        open questions are nearly all unanswerable, and abstained on ones the news covers."""
        if self.guarded(analysis, passages):
            return False
        if analysis.asked.account:
            return True
        model = self.models.abstain
        return model.probability(analysis.abstain) < model.threshold

    def guarded(self, analysis: Analysis, passages: list[Passage]) -> bool:
        """Whether a hard rule abstains: the question cites an outlet the index does not
        hold ("what did Bloomberg report ...", `Analysis.elsewhere`); the best sentence scores
        under `abstain_below`; more than 1 - `min_coverage` of the question's content words
        (two at least, so one odd word does not decide) occur nowhere in the passages, or
        in a short question the missing ones carry `RECIPE.missing_weight_share` of the
        words' rarity (`word_weights`: a topic word missing decides, a common one not); two
        or more of its specific terms (names, numbers, years), `RECIPE.missing_terms_share`
        of them, do not either, nor does any of them when all are names; or a "how
        many"/"when" question finds no number/date (a sum of money for "how much ... cost")
        in its `RECIPE.typed_answer_sentences` best sentences."""
        ranked = analysis.ranked
        if analysis.elsewhere or not ranked or ranked[0].score < self.abstain_below:
            return True
        missing = analysis.missing
        if missing.count >= RECIPE.missing_words_that_count and \
                missing.count > (1 - self.min_coverage) * missing.asked:
            return True
        if missing.weighed <= RECIPE.short_question_words and \
                missing.weight_share >= RECIPE.missing_weight_share:
            return True
        terms_missing = analysis.abstain["missing_terms"]
        share_missing = analysis.abstain["missing_term_share"]
        if terms_missing >= 2 and share_missing >= RECIPE.missing_terms_share:
            return True
        if share_missing == 1.0 and all(map(is_name, analysis.asked.terms)):
            return True
        return analysis.asked.kind in _COUNT_OR_DATE and not any(
            min(c.positions) < RECIPE.typed_answer_sentences for c, _ in _typed(analysis))

    def _lead(self, analysis: Analysis, passages: list[Passage]
              ) -> tuple[str | None, str | None, list[Sentence]]:
        """(lead text, the answer to find in quotes, the sentences the lead cites)."""
        asked, ranked = analysis.asked, analysis.ranked
        if analysis.candidates:
            model = self.models.candidate_for(asked.kind.value)
            scored = [(model.probability(f), c) for c, f in _typed(analysis)
                      if f["in_question"] < 1.0]
            if not scored:
                return None, None, []
            probability, best = max(scored, key=lambda pc: (pc[0], -min(pc[1].positions)))
            if probability < model.threshold:
                return None, None, []
            shown = best.day or (best.text if not best.unit or best.unit in best.text else
                                 f"{best.text} {best.unit}")
            return shown, best.text, [ranked[best.positions[0]]]
        if asked.kind in (Kind.YES_NO, Kind.CHOICE) and analysis.verdict:
            model = self.models.verdict_for(bool(analysis.query.sources))
            probability = model.probability(analysis.verdict)
            if max(probability, 1 - probability) < model.threshold:
                return None, None, []
            agrees = probability >= 0.5
            if asked.kind is Kind.CHOICE:
                word = asked.options[0 if agrees else 1]
                verdict = word[:1].upper() + word[1:]
            else:
                verdict = "Yes" if agrees else "No"
            return verdict, None, _sides(analysis, passages) or ranked[:1]
        return None, None, []

    def _quotes(self, analysis: Analysis, passages: list[Passage], answer: str | None,
                lead_sentences: list[Sentence]) -> list[Sentence]:
        """One to `max_sentences` supporting sentences: those the lead cites, a side per
        named outlet (or, without a lead, the likeliest candidate's sentence), then the best
        remaining ones; each supports and says something new."""
        keys = key_words(analysis.query.text, analysis.query.sources)
        chosen: list[Sentence] = []
        wanted = lead_sentences + (_sides(analysis, passages) if analysis.query.sources else [])
        kept = list(lead_sentences)
        if analysis.candidates and not lead_sentences:  # the likeliest answer, if it supports
            model = self.models.candidate_for(analysis.asked.kind.value)
            likeliest = max(analysis.candidates, key=lambda cf: model.probability(cf[1]))[0]
            wanted.append(analysis.ranked[likeliest.positions[0]])
            if analysis.asked.kind in _COUNT_OR_DATE:  # the value asked for, however few
                kept.append(wanted[-1])                # of the question's words it holds
        for sentence in wanted + analysis.ranked[:RECIPE.quote_pool]:
            if len(chosen) >= self.max_sentences:
                break
            if sentence in chosen or near_repeat(sentence, chosen):
                continue
            if sentence in kept or supports(sentence, keys, answer):
                chosen.append(sentence)
        return chosen or analysis.ranked[:1]

    def abstain(self, query: Query, passages: list[Passage],
                elsewhere: tuple[str, ...] | None = None) -> Answer:
        """The fixed reply, with the outlets the question cites that the index lacks
        (`elsewhere`, else those `unknown_outlets` reads) and the closest coverage, so the
        user knows what is there (generate mode replies this too)."""
        if elsewhere is None:
            elsewhere = unknown_outlets(query.text, query.sources)
        lacking = (f" The index holds no articles from {_listed(elsewhere)}."
                   if elsewhere else "")
        closest = "; ".join(dict.fromkeys(
            ", ".join(part for part in (p.source, p.date if p.published_at else "", p.title)
                      if part) for p in passages[:3]))
        text = NOT_FOUND + lacking + (f" The closest coverage: {closest}." if closest else "")
        return Answer(question=query.text, text=text, passages=passages[:3], abstained=True)


def _typed(analysis: Analysis) -> list[tuple[Candidate, dict[str, float]]]:
    """The candidates of the type asked for: a sum of money where the question asks one
    ("How much is Binance paying?": "$4.3 billion", never "five months"); where it counts
    things ("how many pages"), no sum of money, share or duration ("three years", "93%"
    are no number of pages); "U.S." and the like only where it asks for a place (the app
    that topped the App Store is no "U.S.")."""
    asked = analysis.asked
    counted = asked.unit is not None and bool(_HOW_MANY.search(analysis.query.text)) and \
        stem([asked.unit])[0] not in _DURATIONS
    return [(c, f) for c, f in analysis.candidates
            if (c.money or not asked.money) and (asked.place or not c.place_abbreviation)
            and not (counted and _measures(c))]


def _measures(candidate: Candidate) -> bool:
    """Whether a number is a sum of money, a share or a duration rather than a count."""
    return candidate.money or bool(_SHARE.search(candidate.text)) or \
        (candidate.unit is not None and stem([candidate.unit])[0] in _DURATIONS)


def _elsewhere(query: Query, ranked: list[Sentence]) -> tuple[str, ...]:
    """The outlets the question cites that the index does not hold: "as reported by
    Bloomberg" (`unknown_outlets`), or "What did ESPN report ...?" when none of the
    `RECIPE.quote_pool` best sentences mentions ESPN (`reporter`; "What did Nike report?"
    finds Nike in them)."""
    cited = unknown_outlets(query.text, query.sources)
    if cited:
        return cited
    asked = reporter(query.text, query.sources, [s.text for s in ranked[:RECIPE.quote_pool]])
    return (asked,) if asked else ()


def _listed(names: tuple[str, ...]) -> str:
    """"A", "A or B", "A, B or C"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _sides(analysis: Analysis, passages: list[Passage]) -> list[Sentence]:
    """The claims a yes/no answer cites: each named outlet's (`features.sides`), in the
    question's order, or the best sentence when the question names none."""
    claims = sides(analysis.query, analysis.ranked, passages).values()
    return list(dict.fromkeys(s for s in claims if s is not None))

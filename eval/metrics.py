"""Scoring functions: retrieval, answers, abstention, citations, and the statistics on top.

Every function is pure and scores one question (or summarises a list of numbers), so the
runner can keep per-question values and a report can pair two runs question by question.
A function returns None where its metric is undefined for that question (e.g. citation
support of an answer that cites nothing); aggregates are means over the questions where a
metric is defined.

Retrieval follows the MultiHop-RAG benchmark exactly (see shared/data/multihop-rag/README.md):
facts and chunk texts lose only " " and "\\n", nothing else is normalised, and a chunk is
relevant when any gold fact is a substring of it. A fact longer than a chunk can never be
found, so small chunks lower the evidence metrics: state the chunk size next to any figure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from newscite.text import MARKER, markers, sentences
from newscite.types import Passage, normalise_url

Chunk = str | Passage  # a retrieved chunk: its text, or the Passage carrying it

# ---------------------------------------------------------------------------------------
# Retrieval


def strip_spaces_and_newlines(text: str) -> str:
    """The benchmark's only normalisation: remove every " " and "\\n" (tabs etc. stay)."""
    return text.replace(" ", "").replace("\n", "")


def relevant_ranks(facts: Sequence[str], chunks: Sequence[Chunk], k: int) -> list[int]:
    """1-based ranks, among the first k chunks, of chunks containing at least one gold fact."""
    gold = _stripped_facts(facts)
    return [
        rank
        for rank, text in enumerate(_top_texts(chunks, k), start=1)
        if any(fact in text for fact in gold)
    ]


def hits_at_k(facts: Sequence[str], chunks: Sequence[Chunk], k: int) -> float:
    """Hits@k: 1.0 if any of the first k chunks is relevant, else 0.0."""
    return 1.0 if relevant_ranks(facts, chunks, k) else 0.0


def mrr_at_k(facts: Sequence[str], chunks: Sequence[Chunk], k: int = 10) -> float:
    """MRR@k (reciprocal rank): 1 / rank of the first relevant chunk, 0.0 if none in the top k."""
    ranks = relevant_ranks(facts, chunks, k)
    return 1.0 / ranks[0] if ranks else 0.0


def facts_found(facts: Sequence[str], chunks: Sequence[Chunk], k: int) -> list[bool]:
    """For each gold fact, in order: is it a substring of some chunk among the first k?"""
    texts = _top_texts(chunks, k)
    return [any(fact in text for text in texts) for fact in _stripped_facts(facts)]


def evidence_recall_at_k(facts: Sequence[str], chunks: Sequence[Chunk], k: int) -> float:
    """Evidence recall@k: share of gold facts contained in some top-k chunk (0.0 .. 1.0)."""
    found = facts_found(facts, chunks, k)
    return sum(found) / len(found)


def all_evidence_at_k(facts: Sequence[str], chunks: Sequence[Chunk], k: int) -> float:
    """All-evidence@k: 1.0 if every gold fact is contained in some top-k chunk, else 0.0.

    The strict multi-hop figure: a comparison needs both sides retrieved.
    """
    return 1.0 if all(facts_found(facts, chunks, k)) else 0.0


def article_recall_at_k(articles: Sequence[str], passages: Sequence[Passage], k: int) -> float:
    """Article recall@k: share of gold articles that some top-k passage comes from.

    Gold articles are URLs or article ids. A passage comes from an article when its article
    id, its URL, or the URL of an outlet merged into it as a near-duplicate
    (`also_reported_by`) equals the gold one; URLs are compared after
    `index.articles.normalise_url` (so a trailing slash or the host's case do not matter).
    """
    if not articles:
        raise ValueError("article recall needs at least one gold article")
    keys: set[str] = set()
    for passage in passages[:k]:
        keys.add(passage.article_id)
        urls = [passage.url] + [c.url for c in passage.also_reported_by]
        keys.update(normalise_url(url) for url in urls if url)
    gold = [normalise_url(a) if "://" in a else a for a in articles]
    return sum(article in keys for article in gold) / len(gold)


def _stripped_facts(facts: Sequence[str]) -> list[str]:
    stripped = [strip_spaces_and_newlines(fact) for fact in facts]
    if not stripped or not all(stripped):
        raise ValueError("retrieval metrics need at least one non-blank gold fact")
    return stripped


def _top_texts(chunks: Sequence[Chunk], k: int) -> list[str]:
    return [
        strip_spaces_and_newlines(chunk if isinstance(chunk, str) else chunk.text)
        for chunk in chunks[:k]
    ]


# ---------------------------------------------------------------------------------------
# Answers

_DROPPED_WORDS = frozenset({"a", "an", "the"})
_CANONICAL_WORDS = {"true": "yes", "false": "no"}
_YES_NO = frozenset({"yes", "no"})
_WEEKDAY = re.compile(r"\s*(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,\s", re.I)


def normalise_answer(text: str) -> str:
    """Lower-case; every punctuation character becomes a space; drop the articles a/an/the;
    map true -> yes and false -> no; collapse whitespace.

    Punctuation becomes a space (not nothing) so "Bankman-Fried" and "Bankman Fried" agree.
    """
    spaced = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text.lower())
    words = [_CANONICAL_WORDS.get(w, w) for w in spaced.split() if w not in _DROPPED_WORDS]
    return " ".join(words)


def lead(answer: str) -> str | None:
    """The answer's lead: its first line, citation markers removed, when that line is a
    direct answer; None when the answer opens with a quote ("- ..." or "“...") or says
    nothing.

    Extractive answers put the direct answer ("Emma Hayes [1].", "Yes [1][2].") on the first
    line and the supporting quotes below it, one "- " line each; a generated answer is one
    paragraph, whose first line is all of it.
    """
    first = answer.strip().split("\n", 1)[0].strip()
    if not first or first.startswith(("- ", "“", '"')):
        return None
    return " ".join(MARKER.sub(" ", first).split())


def lead_indicators(answer: str, abstained: bool, golds: str | Sequence[str],
                    unanswerable: bool) -> dict[str, float | None]:
    """Per-question indicators whose means are the lead metrics:

    - lead_precision: among answers that show a lead, the share whose lead is an exact match
      of a gold answer (a lead on an unanswerable question is wrong); a wrong lead is worse
      than none, so this is read beside coverage;
    - lead_coverage: among answerable questions, the share answered with a lead.
    """
    shown = None if abstained else lead(answer)
    correct = shown is not None and not unanswerable and exact_match(shown, golds) == 1.0
    return {
        "lead_precision": float(correct) if shown is not None else None,
        "lead_coverage": float(shown is not None) if not unanswerable else None,
    }


def exact_match(answer: str, golds: str | Sequence[str]) -> float:
    """Strict exact match: 1.0 if the normalised answer equals some normalised gold answer.

    Pass the answer's lead (`lead`) to score an answer that quotes its evidence below it.

    For a yes/no gold answer the answer's first word decides ("Yes, both report it" matches
    "Yes"), so a reply that opens with the verdict and then explains is not penalised.
    """
    words = normalise_answer(answer).split()
    # a date may name its weekday: "Friday, November 17, 2023" is the gold "November 17, 2023"
    weekday = _WEEKDAY.match(answer)
    dated = normalise_answer(answer[weekday.end():]) if weekday else None
    for gold in _normalised_golds(golds):
        if gold in _YES_NO:
            if words[:1] == [gold]:
                return 1.0
        elif gold in (" ".join(words), dated):
            return 1.0
    return 0.0


def gold_contained(answer: str, golds: str | Sequence[str]) -> float:
    """Gold containment (the paper's "answer contained in response"): 1.0 if some normalised
    gold answer occurs as a whole-word run inside the normalised answer.

    Whole words, so gold "no" is not found in "not known". A hedge naming both "yes" and
    "no" contains either gold: read it beside exact_match.
    """
    padded = f" {normalise_answer(answer)} "
    return 1.0 if any(f" {gold} " in padded for gold in _normalised_golds(golds)) else 0.0


def lenient_match(answer: str, golds: str | Sequence[str]) -> float:
    """Lenient word overlap, the MultiHop-RAG released scorer: 1.0 if any word of a normalised
    gold answer appears among the normalised answer's words.

    Easily gamed: the constant reply "Yes no insufficient" matches every yes, no and
    "Insufficient information." gold. Never report it without exact_match beside it.
    """
    words = set(normalise_answer(answer).split())
    gold_words = {w for gold in _normalised_golds(golds) for w in gold.split()}
    return 1.0 if words & gold_words else 0.0


def _normalised_golds(golds: str | Sequence[str]) -> list[str]:
    return [normalise_answer(gold) for gold in ((golds,) if isinstance(golds, str) else golds)]


# ---------------------------------------------------------------------------------------
# Abstention


def abstention_indicators(abstained: bool, unanswerable: bool) -> dict[str, float | None]:
    """Per-question indicators whose means over a question set are the abstention metrics:

    - abstention_precision: among questions where the system abstained, the share that were
      unanswerable (defined only when it abstained);
    - abstention_recall: among unanswerable questions, the share where it abstained
      (defined only for unanswerable questions);
    - false_abstention_rate: among answerable questions, the share where it abstained
      (defined only for answerable questions).
    """
    return {
        "abstention_precision": float(unanswerable) if abstained else None,
        "abstention_recall": float(abstained) if unanswerable else None,
        "false_abstention_rate": float(abstained) if not unanswerable else None,
    }


# ---------------------------------------------------------------------------------------
# Citations

_STOPWORDS = frozenset(
    """i me my we our you your he him his she her it its they them their this that these
    those who whom which what when where why how is are was were be been being am has have
    had having do does did doing will would shall should can could may might must of in on
    at to for from by with about against between into through during before after above below
    up down out off over under again further then once here there all any both each few more
    most other some such only own same so than too very s t just also and or but if because
    as until while said says according""".split()
)


def split_sentences(text: str) -> list[str]:
    """The answer's sentences (newscite.text's rule: a marker after the full stop stays with
    its sentence); pieces holding only markers are dropped."""
    return [s for s in sentences(text) if MARKER.sub("", s).strip()]


def markers_resolve(text: str, n_passages: int) -> float | None:
    """1.0 if every [n] marker points at a shown passage (1 <= n <= n_passages), else 0.0;
    None when the text has no marker (that is measured by cited_sentence_share)."""
    numbers = markers(text)
    if not numbers:
        return None
    return 1.0 if all(1 <= n <= n_passages for n in numbers) else 0.0


def cited_sentence_share(text: str) -> float | None:
    """Share of the answer's sentences that carry at least one [n] marker; None if no sentence."""
    sentences = split_sentences(text)
    if not sentences:
        return None
    return sum(bool(MARKER.search(s)) for s in sentences) / len(sentences)


def citation_support(
    text: str, passages: Sequence[Chunk], threshold: float = 0.6
) -> float | None:
    """Support rate: share of cited sentences supported by the passages they cite.

    A sentence's content words are its normalised words (see normalise_answer) minus markers
    and stopwords. It is supported when at least `threshold` of its distinct content words
    appear among the words of the passages its markers point to (markers outside
    1..len(passages) point to nothing). Lexical containment only: paraphrase counts as
    unsupported, a copied sentence with a flipped claim can count as supported. Cited
    sentences without content words are skipped; None when no cited sentence remains.
    """
    passage_words = [
        set(normalise_answer(p if isinstance(p, str) else p.text).split()) for p in passages
    ]
    verdicts = []
    for sentence in split_sentences(text):
        numbers = markers(sentence)
        content = _content_words(MARKER.sub(" ", sentence))
        if not numbers or not content:
            continue
        cited: set[str] = set()
        for n in numbers:
            if 1 <= n <= len(passages):
                cited |= passage_words[n - 1]
        verdicts.append(len(content & cited) / len(content) >= threshold)
    return sum(verdicts) / len(verdicts) if verdicts else None


def _content_words(text: str) -> set[str]:
    return {w for w in normalise_answer(text).split() if w not in _STOPWORDS}


# ---------------------------------------------------------------------------------------
# Statistics


class PairedBootstrap(NamedTuple):
    """Difference of means b - a, its bootstrap interval, and an approximate two-sided p."""

    delta: float
    low: float
    high: float
    p_value: float


def bootstrap_ci(
    values: Sequence[float], n: int = 1000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean: resample the values with replacement n
    times (fixed seed, so reruns agree) and take the central `confidence` share of the means.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n, data.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def paired_bootstrap(
    a_values: Sequence[float],
    b_values: Sequence[float],
    n: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedBootstrap:
    """Paired bootstrap of mean(b) - mean(a) over the same questions (a_values[i] and
    b_values[i] belong to one question).

    Questions are resampled n times with a fixed seed; low/high bound the central
    `confidence` share of resampled deltas. p_value is twice the share of resampled deltas
    on the far side of zero from the observed delta (zero included), capped at 1: a rough
    two-sided p, 1.0 when the observed delta is 0.
    """
    a = np.asarray(a_values, dtype=float)
    b = np.asarray(b_values, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("paired_bootstrap needs two equally long, non-empty value lists")
    diff = b - a
    rng = np.random.default_rng(seed)
    deltas = diff[rng.integers(0, diff.size, size=(n, diff.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(deltas, [tail, 1.0 - tail])
    delta = float(diff.mean())
    if delta == 0.0:
        p_value = 1.0
    else:
        far_side = deltas <= 0.0 if delta > 0.0 else deltas >= 0.0
        p_value = min(1.0, 2.0 * float(far_side.mean()))
    return PairedBootstrap(delta, float(low), float(high), p_value)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """Count, mean, median (p50), 95th percentile (p95, linear interpolation) and max, in
    seconds."""
    data = np.asarray(seconds, dtype=float)
    if data.size == 0:
        raise ValueError("latency_summary needs at least one timing")
    return {
        "n": int(data.size),
        "mean": float(data.mean()),
        "p50": float(np.percentile(data, 50)),
        "p95": float(np.percentile(data, 95)),
        "max": float(data.max()),
    }

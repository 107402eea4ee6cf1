"""The measured constants of retrieval and answering, each with the reason for its value.

One frozen `Recipe`, `RECIPE`: the configuration's defaults (newscite.config) and the
components' own defaults (rag.retrieve, rag.answer, rag.chain, index.chunking) are read from
it, so that each constant is written once. Figures are MultiHop-RAG dev-set measurements
(docs/performance.md and the README's tried-and-dropped list).

Example:
    >>> RECIPE.candidates, RECIPE.abstain_below
    (100, 0.3)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    # Chunking. 320 word pieces with 40 of overlap scored best of eight sizes from 200 to
    # 400 (Hits@10 0.937 -> 0.965 from 200); the dense vector reads the first 256.
    chunk_tokens: int = 320
    chunk_overlap: int = 40
    # Passages shown per question: the benchmark's top 10, and what fits a reader's screen.
    k: int = 10
    # Candidates each retriever (BM25, dense) gives per outlet before fusion: ten times the
    # passages shown, so fusion can lift a chunk that only one retriever ranks well.
    candidates: int = 100
    # Extra BM25 candidates per clause of a multi-part question: MRR +0.05, all-evidence +0.06.
    clause_candidates: int = 30
    # Reciprocal-rank fusion's constant (Cormack et al. 2009); RRF measured below the
    # weighted sum here and stays as an option.
    rrf_k: int = 60
    # Weighted fusion, BM25 of the whole question being 1: the best clause's BM25 and the
    # dense cosine each count as much (dense 0.7 or 1.4, clause 0.7 or 1.5 moved every metric
    # by 0.005 or less); a day named in the question, and newness when the latest is asked
    # for, are small bonuses.
    weight_clause: float = 1.0
    weight_dense: float = 1.0
    weight_date: float = 0.3
    weight_recency: float = 0.3
    # The best-matching sentence: each outlet's `sentence_top` best candidates by the sum above
    # gain `weight_sentence` x the cosine of their sentence closest to the question (stored
    # at ingest). On dev, 1,127 answerable questions, 5-fold cross-validated (every fold chose
    # 1.5 of 0 to 4): Hits@10 0.965 -> 0.974, evidence recall 0.707 -> 0.726, all-evidence
    # 0.426 -> 0.449 (significant), MRR 0.704 -> 0.714 (not significant). The best 15 do as
    # well as the best 30 (within 0.001) at half the cost (cold: 12 ms a question at the median).
    weight_sentence: float = 1.5
    sentence_top: int = 15
    # The same candidates also gain `weight_clause_sentence` x their best sentence's cosine to
    # any clause of a multi-part question; a clause's vector is pooled from the question's own
    # run (`Embedder.embed_with_spans`). On dev, 1,127 answerable questions, against the
    # best-sentence part alone: MRR 0.714 -> 0.729, evidence recall 0.725 -> 0.732 (both
    # significant), all-evidence 0.449 -> 0.459 (weights 2 and 3 within 0.003). Clauses
    # embedded in a run of their own gained more (MRR 0.736) but doubled the question's
    # embedding (p50 19 -> 42 ms), past the 150 ms p95 target; with them, the best 30
    # candidates did no better than the best 15.
    weight_clause_sentence: float = 2.0
    # Candidates per outlet that an optional cross-encoder reorders.
    rerank_top: int = 30
    # Candidates looked up before overlapping chunks of one article are collapsed to one:
    # 4 x k, at least k + 20, so that k remain after collapsing.
    collapse_pool: int = 4
    collapse_pool_extra: int = 20
    # Abstention's hard floors, under the learned abstention model: the best sentence's score
    # below which the answer is "not found", and the least share of the question's words the
    # passages must hold. The earlier 0.30 / 0.5 made 42 of the 44 false abstentions on dev;
    # with the model beside them, 0.20 / 0.3 gave (5-fold cross-validated) precision 0.91,
    # recall 0.95, false abstentions 1.2% (0.25 / 0.4: 0.89 / 0.94 / 1.6%).
    abstain_below: float = 0.20
    min_coverage: float = 0.3
    # Missing question words count toward abstaining only from two on: one odd word (a
    # paraphrase: "full" for "percent of capacity") must not make a short question unanswerable.
    missing_words_that_count: int = 2
    # ... except by its rarity: in a question of at most 6 content words (outlet names and
    # verbs such as "say" in "what did X say ...?" left out), words missing from every
    # passage that carry half the words' weight (BM25's inverse document frequency in the
    # index) leave it unanswerable ("What did the Guardian say about climate change?" over
    # Guardian passages without "climate"). A long question restates its facts in its own
    # words: on dev, 56 of 1,127 answerable questions, all of 11 or more weighed words, have
    # missing words of that weight; the shortest dev questions have 8.
    short_question_words: int = 6
    missing_weight_share: float = 0.5
    # Sentence scores: cosine to the question, share of its content words, minus a little
    # per passage rank (ties go to the better passage); only the `embed_sentences` sentences
    # sharing most words are embedded (no loss on 300 dev questions, answer p95 346 -> 124 ms).
    sentence_cosine: float = 0.6
    sentence_overlap: float = 0.4
    sentence_rank: float = 0.01
    embed_sentences: int = 24
    # Answer candidates (names, numbers, dates, outlets) are read from this many best
    # sentences: the answer sits in the top 8 for most dev questions, and more adds noise.
    candidate_sentences: int = 8
    # A "how many"/"when" question is answerable only if a number/date is in its 5 best
    # sentences (3 gave "not found" where the sentences repeating the question's words
    # outrank the one with the date: "On Oct. 20, YouTube said ..." was 5th for "When did
    # YouTube demonetize SSSniperwolf?"); "not found" when 2 or more, and two thirds, of
    # its specific terms (names, numbers, years) are in no passage: on dev that rule alone
    # catches 49 unanswerable questions for 7 answerable ones.
    typed_answer_sentences: int = 5
    missing_terms_share: float = 0.66
    # The hand-set candidate model's probability from which a lead is shown (a trained
    # weights file carries its own, chosen by cross-validation for lead precision).
    lead_threshold: float = 0.5
    # Quotes: at most 3; drawn from the 12 best sentences; a quote holds the answer or at
    # least 30% of the question's key words and 4 content words (fillers such as "Here are
    # the details:" have fewer); a quote whose words overlap a chosen one's by 60% or more
    # (Jaccard) repeats it.
    max_quotes: int = 3
    quote_pool: int = 12
    quote_key_share: float = 0.3
    quote_min_words: int = 4
    quote_repeat: float = 0.6
    # Training the answer's models (newscite.eval.train_answerer): 5 folds by question;
    # scikit-learn's default L2 strength; a candidate lead is shown from the probability at
    # which out-of-fold lead precision reaches 0.875 (a wrong lead is worse than none; with
    # an earlier feature set 0.9 kept 0.895 but covered 35% of inference questions, 0.85
    # fell to 0.848 at 40%, 0.875 gave 0.864 at 40%; with today's candidates 0.875 gives
    # 0.882 at 79%, cross-validated). Yes/No is always decided (target 0): showing verdicts
    # only from the confidence at which out-of-fold verdicts were right 74% of the time
    # raised lead precision 0.729 -> 0.794 but cut strict exact match 0.666 -> 0.488 and
    # gold-contained 0.708 -> 0.532 (cross-validated on dev), as the verdicts kept on
    # comparison questions were still right only 61% of the time. The abstention threshold
    # keeps out-of-fold false abstentions at most 4% (the issue: 5%).
    train_folds: int = 5
    # A learned model is used for a kind of question (person, entity, number, ...; yes/no
    # about named outlets or a single claim) only when it was fitted on at least 30 of them.
    train_min_questions: int = 30
    train_regularisation: float = 1.0
    lead_precision_target: float = 0.875
    verdict_precision_target: float = 0.0
    false_abstention_target: float = 0.04
    # Earlier turns a follow-up may draw on, and passages an LLM is shown (6 passages of 320
    # word pieces and the prompt fit the in-process model's default 4,096-token context).
    history_turns: int = 4
    llm_passages: int = 6


RECIPE = Recipe()
